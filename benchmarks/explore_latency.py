"""Latency of `genzoo explore` under load: slider decodes with hundreds of requests in flight, and the live GAN's frames/s.

The server runs as its own process (`genzoo explore`'s handler, `run_explore`, on a free port, with
`--threads`), so the load generator does not share its interpreter. Runs: the ones given, else a
VAE and a DCGAN trained here on Fashion-MNIST from their CPU presets for `--steps` steps (28x28).

For each run with a latent decoder, waves of POST /api/runs/R/decode with random slider
positions (z = base + c U, c uniform over each slider's range, as the page builds them):
  - one client (a person dragging a slider: each move waits for its image), 100 requests;
  - K clients at once (K sliders dragged together, each waiting for its image), `--requests` in all;
  - one burst: all `--requests` sent at once (httpx.AsyncClient, a connection each);
latency is the client's round trip (request out -> PNG in), p50 / p95 / max, with failures
(any non-200 or transport error) counted, never dropped. The GAN game: a new game, then
sequential POST /api/gan/G/step of 1 and 5 generator steps per frame (the page's default is 5),
frames/s = 1 / mean round trip.

`--screenshot PNG` also opens the page in headless Chromium (Playwright, the system Chromium),
starts the sliders from test image 1 and moves one, interpolates between test images 1 and 9, computes the page's default arithmetic and writes a screenshot of the first
run's tab; `--game-screenshot PNG` plays the GAN game (k = 5, non-saturating) for 1500 steps and shoots it.

    nice python benchmarks/explore_latency.py --threads 1                       # trains the two runs (minutes)
    nice python benchmarks/explore_latency.py runs/demo/vae runs/demo/dcgan --threads 1 --requests 400
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from common import describe_machine, finish, machine, preset_run_config

SERVE = """
import argparse, sys
from genzoo.explore.server.command import add_explore_command, run_explore
parser = argparse.ArgumentParser(prog="genzoo")
add_explore_command(parser.add_subparsers(dest="command"))
sys.exit(run_explore(parser.parse_args(sys.argv[1:])))
"""
PRESETS = {"vae": "vae-fashion-mnist-cpu", "dcgan": "dcgan-fashion-mnist-cpu"}
BUDGET_MS = 100.0  # the bar for a slider move on a 28x28 VAE or DCGAN


# ---- runs and the server --------------------------------------------------------------------------------
def trained_runs(runs_dir: Path, steps: int, seed: int) -> list[Path]:
    """The VAE and DCGAN CPU presets trained for `steps` steps (reused when RUNS_DIR/NAME already holds one)."""
    from genzoo.train import train

    paths = []
    for name, preset in PRESETS.items():
        run_dir = runs_dir / name
        if not (run_dir / "checkpoints" / "last.safetensors").is_file():
            started = time.perf_counter()
            train(preset_run_config(preset, steps=steps, seed=seed, warmup_cap=100, overrides=[], eight_bit=False), run_dir)
            print(f"trained {name} ({preset}, {steps} steps) in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        paths.append(run_dir)
    return paths


class Server:
    """`run_explore` in a child process on a free port; `address` once it listens."""

    def __init__(self, runs: list[Path], threads: int | None) -> None:
        command = [sys.executable, "-c", SERVE, "explore", *map(str, runs), "--port", "0"]
        if threads:
            command += ["--threads", str(threads)]
        environment = {**os.environ, "PYTHONUNBUFFERED": "1", **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=environment)
        self.address = ""
        for line in self.process.stdout:
            print(line.rstrip(), file=sys.stderr)
            if line.startswith("genzoo explore: "):
                self.address = line.split()[2]
                break
        if not self.address:
            raise SystemExit(f"the server did not start (exit {self.process.wait()})")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


# ---- load ------------------------------------------------------------------------------------------------
def slider_codes(run: dict[str, Any], count: int, seed: int) -> np.ndarray:
    """`count` codes (count, D) as the page's sliders make them: mean + sum_k c_k u_k, c_k uniform over slider k's range."""
    sliders = run["sliders"]
    directions, ranges = np.array(sliders["directions"]), np.array(sliders["ranges"])
    values = np.random.default_rng(seed).uniform(ranges[:, 0], ranges[:, 1], size=(count, len(ranges)))
    return np.array(sliders["mean"]) + values @ directions


async def timed_decode(client: Any, url: str, z: np.ndarray) -> tuple[float, bool]:
    started = time.perf_counter()
    try:
        response = await client.post(url, json={"z": z.tolist()})
        ok = response.status_code == 200 and response.json()["image"].startswith("data:image/png")
    except Exception:  # a transport error is a failure, counted
        ok = False
    return 1000 * (time.perf_counter() - started), ok


async def decode_wave(address: str, run: dict[str, Any], codes: np.ndarray, in_flight: int) -> tuple[list[float], int, float]:
    """All `codes` decoded by `in_flight` clients, each sending its next request when its last one is answered
    (in_flight = len(codes): one burst): (latencies ms, failures, wall s)."""
    import httpx

    url = f"{address}api/runs/{run['id']}/decode"
    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:
        await timed_decode(client, url, codes[0])  # warm
        pending = iter(codes)
        results: list[tuple[float, bool]] = []

        async def client_loop() -> None:
            for z in pending:  # one shared iterator: each code is sent once
                results.append(await timed_decode(client, url, z))

        started = time.perf_counter()
        await asyncio.gather(*(client_loop() for _ in range(in_flight)))
        wall = time.perf_counter() - started
    return [ms for ms, _ in results], sum(not ok for _, ok in results), wall


def game_frames(address: str, iterations: int, frames: int) -> tuple[float, float]:
    """(frames/s, p95 frame ms) of sequential steps of `iterations` generator steps each."""
    import httpx

    with httpx.Client(timeout=60) as client:
        game = client.post(f"{address}api/gan", json={"mixture": "ring"}).json()["game"]
        client.post(f"{address}api/gan/{game}/step", json={"iterations": iterations})  # warm
        times = []
        for _ in range(frames):
            started = time.perf_counter()
            response = client.post(f"{address}api/gan/{game}/step", json={"iterations": iterations})
            response.raise_for_status()
            times.append(1000 * (time.perf_counter() - started))
    return 1000 / float(np.mean(times)), float(np.percentile(times, 95))


# ---- screenshots --------------------------------------------------------------------------------------------
def screenshots(address: str, page_png: str | None, game_png: str | None) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "report"))
    from chromium_page import find_chromium
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_chromium(), headless=True, chromium_sandbox=False,
                                             args=["--disable-dev-shm-usage", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
        page.goto(address)
        page.wait_for_function("window.genzooExplore && window.genzooExplore.ready")
        if page_png:
            page.wait_for_timeout(2500)
            sliders = "#run-0 [data-tool=sliders]"
            page.click(f"{sliders} img[data-test-index='1']")  # start from a test image: its code on the sliders
            page.wait_for_function(f"document.querySelector('{sliders} .status').textContent.startsWith('test image 1')")
            box = page.locator(f"{sliders} [data-test=slider]").nth(1).bounding_box()
            page.mouse.click(box["x"] + 0.7 * box["width"], box["y"] + box["height"] / 2)  # one slider move
            page.wait_for_function(f"document.querySelector('{sliders} .note').textContent.includes('from slider to image')")
            path = "#run-0 [data-tool=interpolate]"
            for index in (1, 9):  # A: a pullover, B: an ankle boot (Fashion-MNIST's test images 1 and 9)
                page.click(f"{path} img[data-test-index='{index}']")
                page.wait_for_function(f"document.querySelector('{path} .status').textContent.includes('test image {index}')")
            compute = page.locator("#run-0 [data-test=compute]")
            if compute.count():
                compute.click()
                page.wait_for_selector("#run-0 [data-test=equation]", timeout=120_000)
            page.wait_for_timeout(1500)
            page.evaluate("window.scrollTo(0, 0)")  # the sticky header back at the top of the full-page shot
            Path(page_png).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=page_png, full_page=True)
            print(f"wrote {page_png}", file=sys.stderr)
        if game_png:
            page.click('nav button[data-key="game"]')
            page.wait_for_function("document.querySelector('[data-test=gan-stats]').textContent.startsWith('step')")
            page.fill("[data-test=d-steps]", "5")
            page.dispatch_event("[data-test=d-steps]", "change")
            page.select_option("[data-test=iterations]", "20")
            page.click("[data-test=play]")
            page.wait_for_function("Number(document.querySelector('[data-test=gan-stats]').textContent.split(' ')[1]) >= 1500", timeout=300_000)
            page.click("[data-test=play]")
            page.wait_for_timeout(500)
            page.screenshot(path=game_png, full_page=True)
            print(f"wrote {game_png}", file=sys.stderr)
        browser.close()


# ---- main -------------------------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", help="run directories (default: train a VAE and a DCGAN into --runs-dir)")
    parser.add_argument("--runs-dir", default="runs/bench/explore", help="where the default runs are trained (reused if present)")
    parser.add_argument("--steps", type=int, default=600, help="training steps of each default run")
    parser.add_argument("--requests", type=int, default=400, help="decode requests per wave")
    parser.add_argument("--in-flight", type=int, nargs="+", default=[1, 16, 64, 400],
                        help="clients sending at once, each its next request when the last is answered (400 of 400: one burst)")
    parser.add_argument("--frames", type=int, default=60, help="GAN frames timed per setting")
    parser.add_argument("--threads", type=int, help="torch threads of the server (and OMP_NUM_THREADS)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--screenshot", help="also write a screenshot of the first run's tab (PNG)")
    parser.add_argument("--game-screenshot", help="also write a screenshot of the GAN game after a few seconds of play (PNG)")
    parser.add_argument("--out-json", help="append the JSON record to this file")
    args = parser.parse_args()

    info = machine()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
        info["threads"] = args.threads
    runs = [Path(run) for run in args.runs] or trained_runs(Path(args.runs_dir), args.steps, args.seed)
    server = Server(runs, args.threads)
    rows, record = [], {"benchmark": "explore-latency", "runs": [str(run) for run in runs], "decode": [], "game": []}
    try:
        import httpx

        listed = httpx.get(f"{server.address}api/runs", timeout=120).json()["runs"]
        for run in listed:
            if "sliders" not in run["tools"]:
                continue
            for in_flight in args.in_flight:
                count = min(args.requests, 100) if in_flight == 1 else args.requests
                codes = slider_codes(run, count, args.seed)
                latencies, failed, wall = asyncio.run(decode_wave(server.address, run, codes, in_flight))
                p50, p95 = np.percentile(latencies, [50, 95])
                row = {"run": run["name"], "model": run["model"], "latent": run["latent_dim"], "requests": count, "in_flight": in_flight,
                       "p50_ms": round(float(p50), 1), "p95_ms": round(float(p95), 1), "max_ms": round(max(latencies), 1),
                       "failed": failed, "requests_per_s": round(count / wall, 1)}
                rows.append(row)
                record["decode"].append(row)
        for iterations in (1, 5):
            fps, p95 = game_frames(server.address, iterations, args.frames)
            record["game"].append({"iterations_per_frame": iterations, "frames_per_s": round(fps, 1), "p95_frame_ms": round(p95, 1)})
        if args.screenshot or args.game_screenshot:
            screenshots(server.address, args.screenshot, args.game_screenshot)
    finally:
        server.stop()

    print(f"# explore latency\n\n{describe_machine(info)}  \ncommand: `python {' '.join(sys.argv)}`\n")
    print("| run | model | latent | requests | in flight | p50 ms | p95 ms | max ms | failed | requests/s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['run']} | {row['model']} | {row['latent']} | {row['requests']} | {row['in_flight']} | {row['p50_ms']} | "
              f"{row['p95_ms']} | {row['max_ms']} | {row['failed']} | {row['requests_per_s']} |")
    print("\n| GAN game: generator steps per frame | frames/s | p95 frame ms |\n|---:|---:|---:|")
    for game in record["game"]:
        print(f"| {game['iterations_per_frame']} | {game['frames_per_s']} | {game['p95_frame_ms']} |")
    single = [row for row in rows if row["in_flight"] == 1]
    verdict = all(row["p95_ms"] < BUDGET_MS for row in single)
    print(f"\none request at a time: p95 {'under' if verdict else 'OVER'} {BUDGET_MS:g} ms for every run; "
          f"failed requests in all: {sum(row['failed'] for row in rows)}")
    finish(info, args.out_json, record)
    return 1 if any(row["failed"] for row in rows) else 0  # a failed request is a bug; a slow machine is a figure


if __name__ == "__main__":
    sys.exit(main())
