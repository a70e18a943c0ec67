"use strict";
// genzoo explore: one panel per run with the tools its model's capabilities allow, and the live GAN game.
// Plain DOM code, no build step. Every request goes to /api/...; errors come back as {"error": one line}.

// ---- small helpers ------------------------------------------------------------------------------------
function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key === "class") element.className = value;
    else if (key === "text") element.textContent = value;
    else element.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) if (child !== null && child !== undefined && child !== false) element.append(child);
  return element;
}

async function answer(response) {
  let data = null;
  try { data = await response.json(); } catch (error) { data = null; }
  if (!response.ok) throw new Error(data && data.error ? data.error : `${response.status} ${response.statusText}`);
  return data;
}

async function api(path, body) {
  const options = body === undefined ? {} : {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)};
  return answer(await fetch(path, options));
}

// POST, then hand each line of the JSON-lines answer to onMessage as it arrives.
async function streamLines(path, body, onMessage, signal) {
  const response = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body), signal});
  if (!response.ok) return answer(response);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, {stream: true});
    let cut;
    while ((cut = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 1);
      if (line.trim()) onMessage(JSON.parse(line));
    }
  }
}

// At most one call in flight; calls made meanwhile collapse into the newest, run when it returns.
function latest(task) {
  let running = false, waiting = null;
  return function call(...args) {
    if (running) { waiting = args; return; }
    running = true;
    Promise.resolve().then(() => task(...args)).catch(() => {}).finally(() => {
      running = false;
      if (waiting) { const next = waiting; waiting = null; call(...next); }
    });
  };
}

function statusLine() {
  const line = h("p", {class: "status", role: "status"});
  line.say = (text, error = false) => { line.textContent = text; line.classList.toggle("error", error); };
  return line;
}

// Run an async action, showing its error (one line from the server) in `status`.
async function guarded(status, action) {
  try { return await action(); } catch (error) {
    if (error.name !== "AbortError") status.say(error.message, true);
    return null;
  }
}

const pixels = (size, attrs = {}) => h("img", {class: `pixels ${size}`, alt: "", ...attrs});
const figure = (image, caption) => h("figure", {}, image, h("figcaption", {text: caption}));
const card = (title, idea, tool, ...body) => h("section", {class: "card", "data-tool": tool}, h("h2", {text: title}), h("p", {class: "idea", text: idea}), ...body);
const button = (text, onclick, cls = "plain", attrs = {}) => h("button", {type: "button", class: cls, onclick, ...attrs}, text);
const fmt = (x, digits = 2) => (Math.abs(x) < 5e-3 ? 0 : x).toFixed(digits);

function select(options, onchange, attrs = {}) {
  const element = h("select", {onchange: () => onchange(element.value), ...attrs});
  for (const [value, text] of options) element.append(h("option", {value, text}));
  return element;
}

function classSelect(run, onchange) {
  if (!run.classes.length) return null;
  return h("label", {class: "inline"}, "class", select(run.classes.map((name, k) => [k, name]), (value) => onchange(Number(value))));
}

function slider(min, max, step, value, oninput, attrs = {}) {
  return h("input", {type: "range", min, max, step, value, oninput: (event) => oninput(Number(event.target.value)), ...attrs});
}

// Test-image thumbnails (paged) and an upload; onPick(source, imageUrl, note).
function picker(run, status, onPick) {
  const box = h("div", {class: "picker"});
  const strip = h("span", {class: "picker"});
  let start = 0;
  const choose = (image) => { box.querySelectorAll("img.chosen").forEach((other) => other.classList.remove("chosen")); if (image) image.classList.add("chosen"); };
  async function load() {
    const data = await guarded(status, () => api(`/api/runs/${run.id}/test-images?start=${start}&count=10`));
    if (!data) return;
    strip.replaceChildren(...data.images.map((item) => {
      const image = pixels("tiny", {src: item.image, title: `test image ${item.index}${item.label ? ": " + item.label : ""}`, "data-test-index": item.index});
      image.addEventListener("click", () => { choose(image); onPick({kind: "test", index: item.index}, item.image, `test image ${item.index}`); });
      return image;
    }));
  }
  const upload = h("input", {type: "file", accept: "image/*", class: "upload", "data-test": "upload", onchange: async () => {
    const file = upload.files[0];
    if (!file) return;
    const form = new FormData();
    form.append("file", file);
    status.say(`uploading ${file.name} ...`);
    const data = await guarded(status, async () => answer(await fetch(`/api/runs/${run.id}/uploads`, {method: "POST", body: form})));
    upload.value = "";
    if (!data) return;
    choose(null);
    status.say(data.note);
    onPick({kind: "upload", id: data.upload}, data.image, data.note);
  }});
  if (run.test_images) {
    box.append(button("‹", () => { start = Math.max(0, start - 10); load(); }, "plain", {title: "previous test images"}), strip,
               button("›", () => { if (start + 10 < run.test_images) { start += 10; load(); } }, "plain", {title: "more test images"}));
    load();
  } else {
    box.append(h("span", {class: "note", text: `no test images (${run.test_problem || "none"})`}));
  }
  box.append(h("label", {class: "inline upload"}, "or upload", upload));
  return box;
}

// An image with a box that marks the pixel being drawn.
function drawingStage(size = 196) {
  const image = pixels("big", {style: `width:${size}px;height:${size}px`});
  const cursor = h("div", {class: "cursor", hidden: true});
  const stage = h("div", {class: "stage"}, image, cursor);
  stage.image = image;
  stage.show = (url, pixel, shape) => {
    image.src = url;
    if (!pixel) { cursor.hidden = true; return; }
    const [rows, cols] = [shape[1], shape[2]];
    const cell = size / cols;
    Object.assign(cursor.style, {left: `${pixel[1] * cell}px`, top: `${pixel[0] * cell}px`, width: `${Math.max(cell, 3)}px`, height: `${Math.max(size / rows, 3)}px`});
    cursor.hidden = false;
  };
  return stage;
}

// A grid of H x W cells to paint on (a mask or a sketch), drawn at `scale` pixels a cell.
function cellCanvas(height, width, scale, draw) {
  const canvas = h("canvas", {width: width * scale, height: height * scale, class: "pixels paint"});
  const cells = new Uint8Array(height * width);
  let brush = 1, value = 1, painting = false;
  const paint = (event) => {
    const box = canvas.getBoundingClientRect();
    const col = Math.floor((event.clientX - box.left) / box.width * width), row = Math.floor((event.clientY - box.top) / box.height * height);
    for (let r = row - brush + 1; r < row + brush; r++) for (let c = col - brush + 1; c < col + brush; c++) {
      if (r >= 0 && r < height && c >= 0 && c < width && (r - row) ** 2 + (c - col) ** 2 < brush * brush) cells[r * width + c] = value;
    }
    draw(canvas, cells);
  };
  canvas.addEventListener("pointerdown", (event) => { painting = true; value = event.button === 2 || event.shiftKey ? 0 : 1; canvas.setPointerCapture(event.pointerId); paint(event); });
  canvas.addEventListener("pointermove", (event) => { if (painting) paint(event); });
  canvas.addEventListener("pointerup", () => { painting = false; });
  canvas.addEventListener("contextmenu", (event) => event.preventDefault());
  canvas.cells = cells;
  canvas.setBrush = (size) => { brush = size; };
  canvas.redraw = () => draw(canvas, cells);
  return canvas;
}

// ---- latent sliders -------------------------------------------------------------------------------------
function slidersCard(run) {
  const basis = run.sliders;
  const count = basis.labels.length;
  let base = basis.mean.slice(), values = new Array(count).fill(0), origin = {base: base.slice(), values: values.slice()};
  let label = 0, seed = 0;
  const status = statusLine();
  const image = pixels("big", {"data-test": "decoded"});
  const timing = h("p", {class: "note"});
  const outputs = [];
  const inputs = basis.labels.map((name, k) => {
    const [low, high] = basis.ranges[k];
    const output = h("output", {text: "0.00"});
    outputs.push(output);
    const input = slider(low, high, (high - low) / 200, 0, (value) => { values[k] = value; output.textContent = fmt(value); decode(true); },
                         {"aria-label": name, "data-test": "slider"});
    return [h("label", {text: name}), input, output];
  });
  const code = () => base.map((b, d) => values.reduce((sum, value, k) => sum + value * basis.directions[k][d], b));
  const decode = latest(async (moved = false) => {
    const started = performance.now();
    const data = await guarded(status, () => api(`/api/runs/${run.id}/decode`, {z: code(), label}));
    if (!data) return;
    image.src = data.image;
    if (moved) timing.textContent = `${(performance.now() - started).toFixed(0)} ms from slider to image (server: ${data.ms.toFixed(1)} ms)`;
  });
  const show = () => inputs.forEach(([, input], k) => { input.value = values[k]; outputs[k].textContent = fmt(values[k]); });
  const start = (data, note) => {
    base = data.base; values = data.coefficients; origin = {base: base.slice(), values: values.slice()};
    show(); image.src = data.image; status.say(note);
  };
  const input = pixels("small");
  const inputFigure = figure(input, "the model's input");
  inputFigure.hidden = true;
  const controls = h("div", {class: "row"},
    button("random", async () => { const data = await guarded(status, () => api(`/api/runs/${run.id}/random`, {seed: ++seed, label})); if (data) start(data, data.note); }, "action", {"data-test": "random"}),
    button("reset", () => { base = origin.base.slice(); values = origin.values.slice(); show(); decode(); status.say("back to the start point"); }),
    button("centre", () => { base = basis.mean.slice(); values.fill(0); show(); decode(); status.say("every slider at 0: the latent mean"); }),
    classSelect(run, (value) => { label = value; decode(); }));
  const from = run.starts_from_images ? h("div", {}, h("p", {class: "note", text: `Start from an image (${run.encoding}):`}),
    h("div", {class: "row"}, inputFigure, picker(run, status, async (source, url) => {
      status.say(run.encoding === "encoder" ? "encoding ..." : "inverting the generator (a few seconds) ...");
      const data = await guarded(status, () => api(`/api/runs/${run.id}/encode`, {source, label}));
      if (!data) return;
      input.src = data.input;
      inputFigure.hidden = false;
      start(data, data.note);
    }))) : null;
  decode();
  return card("Latent sliders", `Move z and watch the decoder: ${basis.note}.`, "sliders",
    h("div", {class: "columns"}, h("div", {}, image, timing), h("div", {class: "sliders"}, inputs.flat())), controls, from, status);
}

// ---- the 2-D manifold ----------------------------------------------------------------------------------------
function manifoldCard(run) {
  const status = statusLine();
  const grid = pixels("", {"data-test": "manifold"});
  const marker = h("div", {class: "marker", hidden: true});
  const image = pixels("big", {"data-test": "manifold-image"});
  const where = h("p", {class: "note", "data-test": "manifold-z"});
  let label = 0;
  const point = latest(async (u, v) => {
    const data = await guarded(status, () => api(`/api/runs/${run.id}/manifold-point`, {u, v, label}));
    if (!data) return;
    image.src = data.image;
    where.textContent = `z = (${data.z.map((x) => fmt(x)).join(", ")})`;
  });
  const pick = (event) => {
    const box = grid.getBoundingClientRect();
    const u = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width)), v = Math.min(1, Math.max(0, (event.clientY - box.top) / box.height));
    Object.assign(marker.style, {left: `${u * box.width}px`, top: `${v * box.height}px`});
    marker.hidden = false;
    point(u, v);
  };
  let dragging = false;
  grid.addEventListener("pointerdown", (event) => { dragging = true; grid.setPointerCapture(event.pointerId); pick(event); });
  grid.addEventListener("pointermove", (event) => { if (dragging) pick(event); });
  grid.addEventListener("pointerup", () => { dragging = false; });
  grid.addEventListener("dragstart", (event) => event.preventDefault());
  const load = async () => {
    const data = await guarded(status, () => api(`/api/runs/${run.id}/manifold`, {label}));
    if (data) { grid.src = data.image; status.say(`the decoder over the latent plane: ${data.note}; click or drag anywhere`); }
  };
  load();
  return card("2-D manifold", "A 2-D latent is a map: every point of the plane decodes to an image (Kingma & Welling 2014, Fig. 4).", "manifold",
    h("div", {class: "columns"}, h("div", {class: "stage manifold"}, grid, marker), h("div", {}, image, where)),
    h("div", {class: "row"}, classSelect(run, (value) => { label = value; load(); })), status);
}

// ---- interpolation -----------------------------------------------------------------------------------------
function interpolationCard(run) {
  const status = statusLine();
  const ends = {a: null, b: null};
  let kind = "slerp", t = 0.5, seed = 100, label = 0;
  const image = pixels("big", {"data-test": "path-image"});
  const strip = h("div", {class: "strip"});
  const thumbs = {a: pixels("small"), b: pixels("small")};
  const at = latest(async () => {
    if (!ends.a || !ends.b) return;
    const data = await guarded(status, () => api(`/api/runs/${run.id}/interpolate`, {a: ends.a, b: ends.b, t, kind, label}));
    if (data) image.src = data.image;
  });
  const whole = async () => {
    if (!ends.a || !ends.b) return;
    const data = await guarded(status, () => api(`/api/runs/${run.id}/interpolation-strip`, {a: ends.a, b: ends.b, kind, steps: 8, label}));
    if (data) strip.replaceChildren(...data.images.map((url, k) => figure(pixels("small", {src: url}), `t=${fmt(data.t[k])}`)));
    at();
  };
  const set = (end, data) => { ends[end] = data.z; thumbs[end].src = data.image; whole(); };
  const random = async (end) => { const data = await guarded(status, () => api(`/api/runs/${run.id}/random`, {seed: ++seed, label})); if (data) set(end, data); };
  let target = "a";
  const targets = h("span", {}, ...["a", "b"].map((end) => h("label", {class: "inline"},
    h("input", {type: "radio", name: `end-${run.id}`, value: end, checked: end === target, onchange: () => { target = end; }}), end.toUpperCase())));
  const fromImages = run.starts_from_images ? h("div", {}, h("div", {class: "row note"}, "set", targets, `from an image (${run.encoding}):`),
    picker(run, status, async (source) => {
      const end = target;
      status.say(run.encoding === "encoder" ? "encoding ..." : "inverting the generator (a few seconds) ...");
      const data = await guarded(status, () => api(`/api/runs/${run.id}/encode`, {source, label}));
      if (!data) return;
      set(end, data);
      status.say(`${end.toUpperCase()}: ${data.note}`);
      target = end === "a" ? "b" : "a";
      targets.querySelectorAll("input").forEach((radio) => { radio.checked = radio.value === target; });
    })) : null;
  random("a").then(() => random("b"));
  const kinds = h("span", {}, ...["linear", "slerp"].map((name) => h("label", {class: "inline"},
    h("input", {type: "radio", name: `kind-${run.id}`, value: name, checked: name === kind, onchange: () => { kind = name; whole(); }}), name)));
  return card("Interpolation", "A path between two codes, decoded: lerp is the straight line; slerp keeps the norm of a Gaussian sample (White 2016).", "interpolate",
    h("div", {class: "row"}, ...["a", "b"].map((end) => h("span", {class: "row"}, h("strong", {text: end.toUpperCase()}), thumbs[end],
      button("random", () => random(end), "plain", {"data-test": `random-${end}`})))),
    fromImages,
    h("div", {class: "row"}, kinds, h("label", {class: "inline"}, "t", slider(0, 1, 0.01, t, (value) => { t = value; at(); }, {"data-test": "t"})),
      classSelect(run, (value) => { label = value; whole(); })),
    h("div", {class: "columns"}, image, strip), status);
}

// ---- vector arithmetic ---------------------------------------------------------------------------------------
function arithmeticCard(run) {
  const status = statusLine();
  const expression = h("input", {type: "text", class: "expression", "aria-label": "expression", "data-test": "expression"});
  const terms = h("div", {class: "terms"});
  const result = h("div", {});
  const exemplars = h("input", {type: "number", min: 1, max: 5, value: 3, style: "width:3.5rem"});
  const matched = h("input", {type: "checkbox", "data-test": "matched"});
  const matchedLabel = h("label", {class: "inline", hidden: true, title: "exemplar i of every concept shares the attributes the concept leaves free (size, place); off: the paper's random exemplars, averaged"}, matched, "matched exemplars");
  let seed = 0;
  const rows = [];
  const quoted = (name) => (name.includes(" ") ? `'${name}'` : name);
  const sync = () => {
    const parts = rows.map(({sign, pickers}) => {  // attributes as key=value (never ambiguous), a class by its name
      const chosen = pickers.filter((p) => p.value).map((p) => (p.dataset.key === "class" ? quoted(p.value) : `${p.dataset.key}=${p.value}`));
      return chosen.length ? `${sign.value} ${chosen.join(",")}` : null;
    }).filter((part) => part);
    expression.value = parts.join(" ").replace(/^\+ /, "");
  };
  const build = (options) => {
    const groups = Object.keys(options.attributes).length ? Object.entries(options.attributes) : [["class", options.classes]];
    for (let k = 0; k < 3; k++) {
      const sign = select([["+", "+"], ["-", "−"]], sync, {"aria-label": "sign"});
      sign.value = k === 1 ? "-" : "+";
      const pickers = groups.map(([name, values]) => select([["", `any ${name}`], ...values.map((v) => [v, v])], sync, {"aria-label": name, "data-key": name}));
      rows.push({sign, pickers});
      terms.append(h("div", {class: "term"}, h("strong", {text: "ABC"[k]}), sign, pickers));
    }
    if (options.default) {
      expression.value = options.default;
      options.default.split(/ (?=[+-] )/).forEach((term, k) => {
        if (!rows[k]) return;
        const [, sign, concept] = term.match(/^([+-]?) ?(.*)$/);
        rows[k].sign.value = sign === "-" ? "-" : "+";
        concept.replace(/'/g, "").split(",").forEach((value) => rows[k].pickers.forEach((p) => { if ([...p.options].some((o) => o.value === value)) p.value = value; }));
      });
    }
    matched.checked = options.matched;
    matchedLabel.hidden = !options.matched;
    status.say(`exemplars: ${options.source_note}`);
  };
  const compute = async () => {
    status.say("computing (the first time fits the attribute classifier: seconds) ...");
    const data = await guarded(status, () => api(`/api/runs/${run.id}/arithmetic`, {expression: expression.value, exemplars: Number(exemplars.value), results: 6, seed: seed++, matched: matchedLabel.hidden ? null : matched.checked}));
    if (!data) return;
    const parts = [];
    data.terms.forEach((term, k) => {
      if (k || term.sign === "-") parts.push(h("span", {class: "sign", text: term.sign === "-" ? "−" : "+"}));
      parts.push(h("div", {class: "part"}, h("div", {class: "group"}, term.exemplars.map((url) => pixels("tiny", {src: url})),
        term.mean ? pixels("tiny", {src: term.mean, title: "decoded mean code", style: "outline:2px solid #999"}) : null), h("small", {text: term.name})));
    });
    parts.push(h("span", {class: "sign", text: "="}));
    parts.push(h("div", {class: "part"}, h("div", {class: "group"}, data.results.map((item) => pixels("small", {src: item.image,
      class: `pixels small ${item.verdict === null ? "" : item.verdict ? "hit" : "miss"}`, title: item.seen ? `classifier sees: ${item.seen}` : ""}))),
      h("small", {text: data.expression})));
    result.replaceChildren(h("div", {class: "equation", "data-test": "equation"}, parts),
      h("p", {class: "note", text: `${data.verdict_note}${data.expected ? " (green frame: it does; red: it does not; hover a result for all the classifier sees)" : ""}. ` +
        `Exemplars: ${data.source_note}${data.matched ? ", matched" : ""}.`}));
    status.say("");
  };
  guarded(status, () => api(`/api/runs/${run.id}/arithmetic-options`, {})).then((options) => options && build(options));
  return card("Vector arithmetic", "“A − B + C” on mean codes of exemplar groups, as in DCGAN (Radford et al. 2015, Sec. 6.3.2).", "arithmetic",
    terms, h("div", {class: "row"}, expression, h("label", {class: "inline"}, "exemplars", exemplars), matchedLabel, button("compute", compute, "action", {"data-test": "compute"})),
    result, status);
}

// ---- autoregressive drawing and completion ---------------------------------------------------------------------
function watcher(status, stages, shape, onStart) {
  let controller = null;
  const stop = () => { if (controller) controller.abort(); controller = null; };
  const go = async (path, body, trigger) => {
    stop();
    controller = new AbortController();
    const mine = controller;
    trigger.textContent = "stop";
    status.say("drawing ...");
    await guarded(status, () => streamLines(path, body, (message) => {
      if (message.type === "start") onStart(message);
      else if (message.type === "frame") message.images.forEach((url, k) => stages()[k] && stages()[k].show(url, message.pixel, shape));
      else if (message.type === "done") {
        message.images.forEach((url, k) => stages()[k] && stages()[k].show(url, null, shape));
        status.say(`done in ${message.seconds.toFixed(2)} s, pixel by pixel with the fast sampler`);
      } else if (message.type === "error") status.say(message.error, true);
    }, mine.signal));
    if (controller === mine) controller = null;
    trigger.textContent = trigger.dataset.label;
  };
  return {go, stop, running: () => controller !== null};
}

function drawCard(run) {
  const status = statusLine();
  const shape = run.image_shape;
  const outputs = h("div", {class: "row"});
  let stages = [], label = 0, temperature = 1, seed = 0, count = 1;
  const temperatureText = h("output", {text: "1.00"});
  const watch = watcher(status, () => stages, shape, (start) => {
    stages = Array.from({length: start.count}, () => drawingStage(168));
    outputs.replaceChildren(...stages);
  });
  const go = h("button", {type: "button", class: "action", "data-label": "draw", "data-test": "draw", onclick: () => {
    if (watch.running()) { watch.stop(); return; }
    watch.go(`/api/runs/${run.id}/draw`, {count, temperature, seed: seed++, label}, go);
  }}, "draw");
  return card("Drawing pixel by pixel", "An autoregressive model draws one sub-pixel at a time from p(x_i | x_<i), in raster order (van den Oord et al. 2016).", "draw",
    h("div", {class: "row"}, go, classSelect(run, (value) => { label = value; }),
      h("label", {class: "inline"}, "temperature", slider(0.05, 2, 0.05, 1, (value) => { temperature = value; temperatureText.textContent = fmt(value); }), temperatureText),
      h("label", {class: "inline"}, "images", select([1, 2, 3, 4].map((n) => [n, n]), (value) => { count = Number(value); }))),
    outputs, status);
}

function completionCard(run) {
  const status = statusLine();
  const [, height, width] = run.image_shape;
  const scale = Math.max(4, Math.floor(224 / width));
  let source = null, picture = null, label = null, n = 4, temperature = 1, seed = 0, stages = [];
  const drawMask = (canvas, cells) => {
    const context = canvas.getContext("2d");
    context.imageSmoothingEnabled = false;
    context.fillStyle = "#777";
    context.fillRect(0, 0, canvas.width, canvas.height);
    if (picture) context.drawImage(picture, 0, 0, canvas.width, canvas.height);
    context.fillStyle = "rgba(214, 69, 47, 0.6)";
    cells.forEach((hidden, i) => { if (hidden) context.fillRect((i % width) * scale, Math.floor(i / width) * scale, scale, scale); });
  };
  const mask = cellCanvas(height, width, scale, drawMask);
  mask.setAttribute("data-test", "mask");
  mask.setBrush(2);
  const region = (test) => { for (let i = 0; i < mask.cells.length; i++) mask.cells[i] = test(Math.floor(i / width), i % width) ? 1 : 0; mask.redraw(); };
  const outputs = h("div", {class: "row"});
  const masked = pixels("small");
  const watch = watcher(status, () => stages, run.image_shape, (start) => {
    masked.src = start.masked;
    stages = Array.from({length: start.count}, () => drawingStage(112));
    outputs.replaceChildren(figure(masked, `the model sees (${start.hidden_pixels} pixels hidden)`), ...stages.map((stage, k) => figure(stage, `completion ${k + 1}`)));
  });
  const go = h("button", {type: "button", class: "action", "data-label": "complete", "data-test": "complete", onclick: () => {
    if (watch.running()) { watch.stop(); return; }
    if (!source) { status.say("choose a test image or upload one first", true); return; }
    const body = {source, mask: Array.from(mask.cells).join(""), n, temperature, seed: seed++};
    if (run.classes.length) body.label = label;
    watch.go(`/api/runs/${run.id}/complete`, body, go);
  }}, "complete");
  const choose = (chosen, url, note) => {
    source = chosen;
    label = null;
    picture = new Image();
    picture.onload = () => mask.redraw();
    picture.src = url;
    if (!mask.cells.some((v) => v)) region((row) => row >= height / 2);
    status.say(`${note}: paint over what the model should draw again (shift-drag erases the mask)`);
  };
  mask.redraw();
  return card("Completion", "Hide part of an image and let the model draw it, several times. It sees only the kept pixels before each one it draws (raster order).", "complete",
    picker(run, status, choose),
    h("div", {class: "columns"}, mask, h("div", {},
      h("div", {class: "row"}, button("hide bottom half", () => region((row) => row >= height / 2)),
        button("hide right half", () => region((row, col) => col >= width / 2)),
        button("hide centre", () => region((row, col) => Math.abs(row - (height - 1) / 2) < height / 4 && Math.abs(col - (width - 1) / 2) < width / 4)),
        button("clear", () => region(() => false))),
      h("div", {class: "row"}, h("label", {class: "inline"}, "brush", select([[2, "medium"], [1, "fine"], [3, "wide"]], (v) => mask.setBrush(Number(v)))),
        h("label", {class: "inline"}, "completions", select([4, 1, 2, 3, 6, 8].map((k) => [k, k]), (v) => { n = Number(v); })),
        h("label", {class: "inline"}, "temperature", slider(0.05, 2, 0.05, 1, (v) => { temperature = v; }))),
      h("div", {class: "row"}, go, classSelect(run, (value) => { label = value; })))),
    outputs, status);
}

// ---- image-to-image ---------------------------------------------------------------------------------------------
function translateCard(run) {
  const status = statusLine();
  const task = run.task;
  const [, height, width] = task.condition_shape;
  const scale = Math.max(4, Math.floor(224 / width));
  const outputs = h("div", {class: "row"});
  let seed = 0;
  const show = (data) => outputs.replaceChildren(...[figure(pixels("small", {src: data.input}), "input"),
    data.baseline ? figure(pixels("small", {src: data.baseline}), data.baseline_name) : null,
    ...data.outputs.map((url, k) => figure(pixels("small", {src: url, "data-test": "translation"}), data.outputs.length > 1 ? `output ${k + 1}` : "output")),
    data.target ? figure(pixels("small", {src: data.target}), "target") : null].filter((item) => item));
  const send = async (source) => {
    status.say("translating ...");
    const data = await guarded(status, () => api(`/api/runs/${run.id}/translate`, {source, seed: seed++}));
    if (data) { show(data); status.say(data.note); }
  };
  let sketch = null;
  if (task.sketch) {
    sketch = cellCanvas(height, width, scale, (canvas, cells) => {
      const context = canvas.getContext("2d");
      context.fillStyle = "black";
      context.fillRect(0, 0, canvas.width, canvas.height);
      context.fillStyle = "white";
      cells.forEach((on, i) => { if (on) context.fillRect((i % width) * scale, Math.floor(i / width) * scale, scale, scale); });
    });
    sketch.setAttribute("data-test", "sketch");
    sketch.redraw();
  }
  const sketchPng = () => {
    const small = h("canvas", {width, height});
    const context = small.getContext("2d");
    const image = context.createImageData(width, height);
    sketch.cells.forEach((on, i) => { image.data.set(on ? [255, 255, 255, 255] : [0, 0, 0, 255], 4 * i); });
    context.putImageData(image, 0, 0);
    return small.toDataURL("image/png");
  };
  const idea = {edges: "Draw edges, get an image: the model translates an edge map into a picture (as pix2pix does, Isola et al. 2017).",
    superres: `Upload a small image: the model draws it ${task.target_shape[1] / height}x larger, beside bicubic upsampling.`,
    colorize: "Upload or pick an image: the model colours its gray version."}[task.name] || `The model's task: ${task.spec}.`;
  if (!task.sketch) send({kind: "test", index: 0});  // something to look at before the first click: test image 0 through the model
  return card("Image to image", idea, "translate",
    sketch ? h("div", {class: "columns"}, sketch, h("div", {}, h("p", {class: "note", text: "draw edges (white on black); shift-drag erases"}),
      h("div", {class: "row"}, button("translate the sketch", () => send({kind: "sketch", png: sketchPng()}), "action", {"data-test": "translate-sketch"}),
        button("clear", () => { sketch.cells.fill(0); sketch.redraw(); })))) : null,
    picker(run, status, (source) => send(source)), outputs, status);
}

// ---- toy 2-D runs -----------------------------------------------------------------------------------------------
function scatter(canvas, extent, layers) {
  const context = canvas.getContext("2d");
  const size = canvas.width, toPixel = (x) => (x + extent) / (2 * extent) * size;
  context.clearRect(0, 0, size, size);
  for (const {points, colour, radius} of layers) {
    context.fillStyle = colour;
    for (const [x, y] of points) { context.beginPath(); context.arc(toPixel(x), size - toPixel(y), radius, 0, 2 * Math.PI); context.fill(); }
  }
}

function pointsCard(run) {
  const status = statusLine();
  const canvas = h("canvas", {width: 320, height: 320, class: "plane"});
  guarded(status, () => api(`/api/runs/${run.id}/points`, {n: 1000})).then((data) => {
    if (!data) return;
    scatter(canvas, data.extent, [{points: data.real, colour: "rgba(214,69,47,0.35)", radius: 1.5},
      {points: data.fake, colour: "rgba(47,95,208,0.6)", radius: 1.5}, {points: data.modes, colour: "black", radius: 2.5}]);
    status.say(`${data.stats} (red: data, blue: this run's samples, black: the true modes)`);
  });
  const game = run.game;
  return card("Samples on the plane", `This run played the GAN game on the ${game.mixture} (${game.g_loss} generator loss, k = ${game.d_steps}).`, "points",
    canvas, h("div", {class: "row"}, button("play this game live", () => { openTab("game"); ganGame.start(game); }, "action")), status);
}

// ---- the GAN game, live ---------------------------------------------------------------------------------------------
const ganGame = (() => {
  const status = statusLine();
  const field = h("canvas", {width: 440, height: 440, "data-test": "gan-field"});
  const chart = h("canvas", {width: 440, height: 330});
  const stats = h("p", {class: "stats", "data-test": "gan-stats"});
  let game = null, starts = 0, history = [], playing = false, frames = [], settings = {mixture: "ring", g_loss: "non-saturating", d_steps: 1, iterations: 5, seed: 0};
  const heat = h("canvas", {width: 48, height: 48});

  function drawField(frame) {
    const side = game.surface_side, values = Uint8Array.from(atob(frame.surface), (ch) => ch.charCodeAt(0));
    heat.width = heat.height = side;
    const context = heat.getContext("2d"), image = context.createImageData(side, side);
    values.forEach((v, i) => {  // D(x): 0 blue (fake) .. 0.5 white .. 1 red (real)
      const p = v / 255, w = 1 - Math.abs(2 * p - 1);
      const [r, g, b] = p > 0.5 ? [245, 120 + 135 * w, 105 + 150 * w] : [110 + 145 * w, 150 + 105 * w, 240 + 15 * w];
      image.data.set([r, g, b, 255], 4 * i);
    });
    context.putImageData(image, 0, 0);
    const out = field.getContext("2d"), size = field.width, extent = game.extent, toPixel = (x) => (x + extent) / (2 * extent) * size;
    out.imageSmoothingEnabled = true;
    out.drawImage(heat, 0, 0, size, size);
    const dot = (points, colour, radius) => { out.fillStyle = colour; for (const [x, y] of points) { out.beginPath(); out.arc(toPixel(x), size - toPixel(y), radius, 0, 2 * Math.PI); out.fill(); } };
    dot(game.real, "rgba(180,40,20,0.55)", 2);
    dot(frame.fake, "rgba(20,50,170,0.8)", 2.2);
    out.strokeStyle = "rgba(0,0,0,0.75)";
    out.lineWidth = 1.2;
    for (const [x, y, dx, dy] of frame.arrows) {  // -grad of the generator loss: where each fake is pushed
      const length = Math.hypot(dx, dy), shown = Math.min(length * 0.6, 0.25 * extent), scale = length > 0 ? shown / length : 0;
      const x0 = toPixel(x), y0 = size - toPixel(y), x1 = toPixel(x + dx * scale), y1 = size - toPixel(y + dy * scale);
      const angle = Math.atan2(y1 - y0, x1 - x0), head = Math.min(5, Math.hypot(x1 - x0, y1 - y0) / 2);
      out.beginPath(); out.moveTo(x0, y0); out.lineTo(x1, y1);
      out.moveTo(x1 - head * Math.cos(angle - 0.5), y1 - head * Math.sin(angle - 0.5)); out.lineTo(x1, y1);
      out.lineTo(x1 - head * Math.cos(angle + 0.5), y1 - head * Math.sin(angle + 0.5));
      out.stroke();
    }
  }

  // Three strips over the steps: the two losses, the generator's gradient norm, D on real and generated points (0..1).
  function drawChart() {
    const context = chart.getContext("2d"), width = chart.width, strip = chart.height / 3;
    context.clearRect(0, 0, width, chart.height);
    context.font = "12px system-ui";
    const strips = [[["d_loss", "#b0412e", "D loss"], ["g_loss", "#2f5fd0", "G loss"]], [["g_grad", "#16803c", "|grad G| (generator step)"]],
                    [["d_real", "#b0412e", "D(x)"], ["d_fake", "#2f5fd0", "D(G(z))"]]];
    strips.forEach((series, row) => {
      const top = row * strip + 16, height = strip - 22;
      const values = history.flatMap((record) => series.map(([key]) => record[key])).filter(Number.isFinite);
      const [low, high] = row === 2 ? [0, 1] : [Math.min(0, ...values), Math.max(1e-6, ...values)];
      context.strokeStyle = "#d9dde5";
      context.strokeRect(0.5, top + 0.5, width - 1, height);
      context.fillStyle = "#5f6878";
      context.fillText(fmt(high), 4, top + 12);
      context.fillText(fmt(low), 4, top + height - 3);
      series.forEach(([key, colour, name], k) => {
        context.fillStyle = colour;
        context.fillText(name, 60 + 110 * k, row * strip + 12);
        context.strokeStyle = colour;
        context.beginPath();
        history.forEach((record, i) => {
          const x = history.length < 2 ? 0 : i / (history.length - 1) * (width - 2) + 1, y = top + height - (record[key] - low) / (high - low || 1) * height;
          if (i) context.lineTo(x, y); else context.moveTo(x, y);
        });
        context.stroke();
      });
    });
  }

  function show(frame) {
    history.push(...frame.history);
    if (history.length > 2000) history = history.slice(-2000);
    drawField(frame);
    drawChart();
    const now = performance.now();
    frames = frames.filter((t) => now - t < 2000).concat([now]);
    const fps = frames.length > 1 ? (frames.length - 1) / ((now - frames[0]) / 1000) : 0;
    const last = frame.history[frame.history.length - 1];
    stats.textContent = `step ${frame.step}   modes covered ${frame.modes_covered} of ${frame.num_modes}   high-quality ${fmt(frame.high_quality)}` +
      (frame.outside ? `   ${frame.outside} generated points outside the square` : "") +
      (last ? `\nD loss ${fmt(last.d_loss, 3)}   G loss ${fmt(last.g_loss, 3)}   D(x) ${fmt(last.d_real)}   D(G(z)) ${fmt(last.d_fake)}   |grad G| ${fmt(last.g_grad, 3)}` : "\n") +
      (playing ? `\n${fps.toFixed(1)} frames/s` : "\npaused");
  }

  async function step(iterations) {
    if (!game) return false;
    const frame = await guarded(status, () => api(`/api/gan/${game.game}/step`, {iterations, d_steps: settings.d_steps, g_loss: settings.g_loss}));
    if (frame) show(frame);
    return frame !== null;
  }

  async function play() {
    while (playing) {
      if (!(await step(settings.iterations))) { playing = false; break; }
      await new Promise((resolve) => requestAnimationFrame(resolve));
    }
    playButton.textContent = "play";
  }

  async function start(chosen = {}) {
    Object.assign(settings, chosen);
    syncControls();
    const wasPlaying = playing, mine = ++starts;
    playing = false;
    const data = await guarded(status, () => api("/api/gan", {mixture: settings.mixture, g_loss: settings.g_loss, d_steps: settings.d_steps, seed: settings.seed}));
    if (!data || mine !== starts) return;  // a newer game was asked for meanwhile
    game = data; history = []; frames = [];
    status.say(`new game on the ${data.mixture}: ${data.architecture}`);
    show(data);
    if (wasPlaying) { playing = true; playButton.textContent = "pause"; play(); }
  }

  const controls = {
    mixture: select([["ring", "8-Gaussian ring"], ["grid", "25-Gaussian grid"]], (v) => start({mixture: v})),
    g_loss: select([["non-saturating", "non-saturating: −log D(G(z))"], ["minimax", "minimax: log(1 − D(G(z)))"]], (v) => { settings.g_loss = v; }, {"data-test": "g-loss"}),
    d_steps: h("input", {type: "number", min: 1, max: 10, value: 1, style: "width:3.5rem", "data-test": "d-steps", onchange: (e) => { settings.d_steps = Math.min(10, Math.max(1, Number(e.target.value) || 1)); }}),
    iterations: select([5, 1, 2, 10, 20, 50].map((n) => [n, n]), (v) => { settings.iterations = Number(v); }, {"data-test": "iterations"}),
  };
  const syncControls = () => { for (const key of ["mixture", "g_loss", "d_steps", "iterations"]) controls[key].value = settings[key]; };
  const playButton = button("play", () => {
    playing = !playing;
    playButton.textContent = playing ? "pause" : "play";
    if (playing) play();
  }, "action", {"data-test": "play"});
  const panel = h("section", {class: "card wide", "data-tool": "game"},
    h("h2", {text: "The GAN game, live"}),
    h("p", {class: "idea", text: "Goodfellow et al. 2014, Algorithm 1 on toy 2-D data: k discriminator steps, then one generator step. The heat map is D's probability of “real”; arrows show where the generator loss pushes each fake (their length is the gradient's size). Switch to the minimax loss and watch the arrows vanish where D is sure; with k = 5 the minimax game collapses onto few modes while the non-saturating one spreads over the ring."}),
    h("div", {class: "row"}, h("label", {class: "inline"}, "data", controls.mixture), h("label", {class: "inline"}, "G loss", controls.g_loss),
      h("label", {class: "inline"}, "k (D steps per G step)", controls.d_steps), h("label", {class: "inline"}, "G steps per frame", controls.iterations)),
    h("div", {class: "row"}, playButton, button("step", () => { if (!playing) step(1); }, "plain", {"data-test": "step"}), button("new game", () => start({seed: settings.seed + 1}))),
    h("div", {class: "game"}, h("div", {}, field, h("div", {class: "legend"}, h("span", {}, h("i", {style: "background:rgba(180,40,20,0.7)"}), "data"),
      h("span", {}, h("i", {style: "background:rgba(20,50,170,0.8)"}), "generated"), h("span", {}, h("i", {style: "background:linear-gradient(90deg,#6e96f0,#fff,#f5786a)"}), "D(x): 0 … 1"))),
      h("div", {}, chart, stats)), status);
  return {panel, start, stop: () => { playing = false; }, started: () => starts > 0};
})();

// ---- tabs -------------------------------------------------------------------------------------------------------------
const TOOLS = {sliders: slidersCard, manifold: manifoldCard, interpolate: interpolationCard, arithmetic: arithmeticCard,
  draw: drawCard, complete: completionCard, translate: translateCard, points: pointsCard};
const panels = new Map(), makers = new Map();

function runPanel(run) {
  const info = `${run.model} on ${run.dataset} ${run.image_shape.join("×")}, step ${run.step}; capabilities: ${run.capabilities.join(", ") || "sampling"}`;
  const cards = run.tools.map((tool) => TOOLS[tool](run));
  return h("section", {class: "panel", id: `run-${run.id}`}, h("p", {class: "run-info", text: info}),
    cards.length ? h("div", {class: "cards"}, cards) : h("p", {text: "No tool on this page fits this model's capabilities."}));
}

// Show one tab's panel, building it the first time (a run's tools ask the server only once opened).
function openTab(key) {
  if (!panels.has(key)) {
    const panel = makers.get(key)();
    panels.set(key, panel);
    document.getElementById("panels").append(panel);
  }
  document.querySelectorAll("nav button").forEach((tab) => tab.setAttribute("aria-selected", String(tab.dataset.key === key)));
  for (const [other, panel] of panels) panel.hidden = other !== key;
  if (key !== "game") ganGame.stop();
}

async function main() {
  const status = document.getElementById("status");
  let data;
  try { data = await api("/api/runs"); } catch (error) { status.textContent = error.message; status.classList.add("error"); return; }
  const tabs = document.getElementById("tabs");
  const tab = (key, text, note, make) => {
    makers.set(key, make);
    tabs.append(h("button", {type: "button", role: "tab", "data-key": key, onclick: () => openTab(key)}, text, h("small", {text: note})));
  };
  for (const run of data.runs) tab(`run-${run.id}`, run.name, run.model, () => runPanel(run));
  tab("game", "GAN game", "live", () => {
    if (!ganGame.started()) ganGame.start();
    return h("section", {class: "panel", id: "game"}, ganGame.panel);
  });
  status.textContent = `${data.runs.length} run${data.runs.length === 1 ? "" : "s"} · torch threads ${data.threads}`;
  openTab(data.runs.length ? `run-${data.runs[0].id}` : "game");
  window.genzooExplore = {openTab, ready: true};
}

main();
