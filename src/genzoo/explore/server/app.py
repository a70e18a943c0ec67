"""The explore server: a Starlette app over the runs named at start, and the page that drives it.

    create_app(["runs/vae", "runs/dcgan"])  ->  Starlette app; serve it with uvicorn

Requests reach runs only by the index they got at start (/api/runs/0/...); no request names a
file, and the only files served are the page's own (static/, shipped inside the package).
Every tool's endpoint takes and returns JSON, except uploads (multipart) and the
autoregressive drawings (JSON lines, streamed as the model draws). Problems a request can
cause come back as {"error": one line} with a 4xx status; anything else is a 500 with its
one line, and the server carries on.

    GET  /api/runs                         the runs: tools, slider basis, classes, ...
    GET  /api/runs/{run}/test-images       ?start=0&count=12: thumbnails to start from
    POST /api/runs/{run}/uploads           multipart `file`: fitted to the model, kept in memory by id
    POST /api/runs/{run}/decode            {"z"}: one slider position (batched with concurrent ones)
    POST /api/runs/{run}/random | encode   a prior draw | a test image's or upload's code
    POST /api/runs/{run}/interpolate       {"a", "b", "t", "kind"}; /interpolation-strip: the whole path
    POST /api/runs/{run}/manifold          the 2-D latent's grid; /manifold-point {"u", "v"}: one point
    POST /api/runs/{run}/arithmetic-options, /arithmetic {"expression", ...}
    POST /api/runs/{run}/draw | complete   JSON lines: start, frames pixel by pixel, done
    POST /api/runs/{run}/translate         image-to-image models
    POST /api/runs/{run}/points            toy 2-D runs: samples over the modes
    POST /api/gan, /api/gan/{game}/step    the live GAN game
"""

from __future__ import annotations

import asyncio
import os
import traceback
from collections.abc import Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import torch
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from genzoo.errors import GenzooError
from genzoo.explore.sampling import to_display
from genzoo.explore.server import arithmetic_tool, drawing, latent_tools, points_tool, translate_tool
from genzoo.explore.server.compute import Workers
from genzoo.explore.server.gan_game import GameStore, step_game
from genzoo.explore.server.images import UPLOAD_LIMIT_BYTES, fit_upload, png_url
from genzoo.explore.server.run_state import ExploreRun, load_runs
from genzoo.explore.server.uploads import UploadStore
from genzoo.explore.server.validation import RequestError, read_body, read_json

STATIC = Path(__file__).resolve().parent / "static"
UPLOAD_TOOLS = ("sliders", "complete", "translate")
MAX_THUMBNAILS = 48


class ExploreState:
    """What every request may reach: the runs (by index), the worker pools, uploads and games."""

    def __init__(self, runs: list[ExploreRun], workers: Workers) -> None:
        self.runs, self.workers = runs, workers
        self.uploads = UploadStore()
        self.games = GameStore()

    def run(self, request: Request, tool: str | None = None) -> ExploreRun:
        index = request.path_params["run"]
        if not 0 <= index < len(self.runs):
            raise RequestError(f"no run {index}: this server explores runs 0..{len(self.runs) - 1}", 404)
        run = self.runs[index]
        if tool is not None and tool not in run.tools and not (tool == "upload" and set(UPLOAD_TOOLS) & set(run.tools)):
            raise RequestError(f"run {index} ({run.model.name}) has no {tool} tool: its tools are {', '.join(run.tools) or 'none'}", 404)
        return run


def create_app(runs: Sequence[str | os.PathLike[str] | ExploreRun], *, device: str = "cpu", which: str = "best",
               log: Callable[[str], None] = print) -> Starlette:
    """The app over `runs` (run directories, loaded now, or prepared ExploreRuns)."""
    workers = Workers()
    if all(isinstance(run, ExploreRun) for run in runs):
        loaded = list(runs)
        for run in loaded:
            run.workers = workers
            if run.decoder is not None:
                run.decoder.workers = workers
    else:
        loaded = load_runs([str(run) for run in runs], workers, device=device, which=which, log=log)
    state = ExploreState(loaded, workers)

    @asynccontextmanager
    async def lifespan(app: Starlette):  # noqa: ANN202
        warming = asyncio.ensure_future(workers.long(_warm_up))  # the page answers meanwhile
        yield
        warming.cancel()
        workers.shutdown()

    app = Starlette(routes=routes(state), lifespan=lifespan, exception_handlers={
        RequestError: request_error, GenzooError: library_error, HTTPException: http_error, Exception: server_error,
    })
    app.state.explore = state
    return app


# ---- routes -------------------------------------------------------------------------------------------
def routes(state: ExploreState) -> list[Route | Mount]:
    def tool(path: str, name: str | None, handler: Callable[..., Awaitable[Any]]) -> Route:
        async def endpoint(request: Request) -> Response:
            run = state.run(request, name)
            return JSONResponse(await handler(run, await read_json(request)))

        return Route(f"/api/runs/{{run:int}}/{path}", endpoint, methods=["POST"])

    def in_pool(pool: str, function: Callable[..., Any], *extra: Any) -> Callable[[ExploreRun, dict], Awaitable[Any]]:
        async def handler(run: ExploreRun, body: dict) -> Any:
            return await getattr(state.workers, pool)(function, run, body, *extra)

        return handler

    def streamed(path: str, name: str, make_job: Callable[..., tuple[dict, Callable]], *extra: Any) -> Route:
        async def endpoint(request: Request) -> Response:
            run = state.run(request, name)
            body = await read_json(request)
            start, job = await state.workers.quick(make_job, run, body, *extra)  # bad fields answer 4xx before streaming
            return StreamingResponse(drawing.stream(run, start, job), media_type="application/x-ndjson",
                                     headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

        return Route(f"/api/runs/{{run:int}}/{path}", endpoint, methods=["POST"])

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def list_runs(request: Request) -> Response:
        described = await state.workers.long(lambda: [run.describe() for run in state.runs])
        return JSONResponse({"runs": described, "upload_limit_bytes": UPLOAD_LIMIT_BYTES, "threads": torch.get_num_threads()})

    async def describe_run(request: Request) -> Response:
        run = state.run(request)
        return JSONResponse(await state.workers.long(run.describe))

    async def test_images(request: Request) -> Response:
        run = state.run(request)
        start = _query_int(request, "start", 0, 0, 10**9)
        count = _query_int(request, "count", 12, 1, MAX_THUMBNAILS)
        return JSONResponse({"images": await state.workers.long(run.thumbnails, start, count)})

    async def upload(request: Request) -> Response:
        run = state.run(request, "upload")
        data, filename = await _uploaded_file(request)
        return JSONResponse(await state.workers.quick(_store_upload, state, run, data, filename))

    async def new_game(request: Request) -> Response:
        body = await read_json(request)
        key, game = await state.workers.quick(state.games.new, body)
        return JSONResponse({"game": key, **game.opening(), **(await state.workers.quick(step_game, game, {"iterations": 0}))})

    async def game_step(request: Request) -> Response:
        game = state.games.get(request.path_params["game"])
        return JSONResponse(await state.workers.quick(step_game, game, await read_json(request)))

    uploads = state.uploads
    return [
        Route("/", index),
        Route("/api/runs", list_runs),
        Route("/api/runs/{run:int}", describe_run),
        Route("/api/runs/{run:int}/test-images", test_images),
        Route("/api/runs/{run:int}/uploads", upload, methods=["POST"]),
        tool("decode", "sliders", latent_tools.decode),
        tool("random", "sliders", latent_tools.random_code),
        tool("encode", "sliders", lambda run, body: latent_tools.encode(run, body, uploads)),
        tool("interpolate", "interpolate", latent_tools.interpolate),
        tool("interpolation-strip", "interpolate", latent_tools.interpolation_strip),
        tool("manifold", "manifold", latent_tools.manifold_grid),
        tool("manifold-point", "manifold", latent_tools.manifold_point),
        tool("arithmetic-options", "arithmetic", in_pool("long", lambda run, body: arithmetic_tool.options(run))),
        tool("arithmetic", "arithmetic", in_pool("long", arithmetic_tool.run_arithmetic)),
        tool("translate", "translate", in_pool("long", translate_tool.translate, uploads)),
        tool("points", "points", in_pool("long", points_tool.points)),
        streamed("draw", "draw", drawing.draw_job),
        streamed("complete", "complete", drawing.completion_job, uploads),
        Route("/api/gan", new_game, methods=["POST"]),
        Route("/api/gan/{game:str}/step", game_step, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]


def _warm_up() -> None:
    """Build an optimizer once: torch imports its compiler stack on the first (seconds), which the GAN game needs."""
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


def _query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    value = request.query_params.get(name)
    if value is None:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise RequestError(f"query parameter {name!r} must be an integer in {low}..{high}, got {value!r}")
    return int(value)


# ---- uploads ---------------------------------------------------------------------------------------------
async def _uploaded_file(request: Request) -> tuple[bytes, str]:
    """The one file of a multipart upload (field `file`), its size checked while it arrives."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise RequestError("send the image as multipart/form-data with a field named 'file'", 415)
    body = await read_body(request, UPLOAD_LIMIT_BYTES + 64 * 1024)  # the image and the form's framing
    replayed = False

    async def receive() -> dict[str, Any]:
        nonlocal replayed
        if replayed:
            return {"type": "http.disconnect"}
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    form = await Request(request.scope, receive).form(max_files=1, max_fields=4, max_part_size=UPLOAD_LIMIT_BYTES)
    try:
        file = form.get("file")
        if file is None or isinstance(file, str):
            raise RequestError("no file in the upload: send the image in a field named 'file'")
        return await file.read(), file.filename or "upload"
    finally:
        await form.close()


def _store_upload(state: ExploreState, run: ExploreRun, data: bytes, filename: str) -> dict[str, Any]:
    """Fit an uploaded image to the run's input, preprocess it as in training, keep it under a new id."""
    model = run.model
    name = Path(filename).name[:80] or "upload"
    translating = "translate" in run.tools
    shape = translate_tool.upload_shape(model) if translating else run.data_format.image_shape
    fitted = fit_upload(data, tuple(shape), name=name)
    x = run.info.make_preprocessor()(fitted.image[None], generator=torch.Generator().manual_seed(0)).to(model.device)
    if translating:
        x = translate_tool.condition_from_image(run, x)
        shown = to_display(model.task.as_image(x, tuple(model.target_shape)), run.data_format)[0]
    else:
        shown = to_display(x, run.data_format)[0]
    note = f"{name}: {fitted.note}" if fitted.note else name
    key = state.uploads.add(run.index, x, shown, note)
    return {"upload": key, "image": png_url(shown), "note": note}


# ---- errors ---------------------------------------------------------------------------------------------------
async def request_error(request: Request, error: Exception) -> Response:
    return JSONResponse({"error": str(error)}, status_code=getattr(error, "status", 400))


async def library_error(request: Request, error: Exception) -> Response:
    """A user-level problem the library names (ConfigError, DataError, ...): 400 with its one line."""
    return JSONResponse({"error": str(error).splitlines()[0] if str(error) else type(error).__name__}, status_code=400)


async def http_error(request: Request, error: Exception) -> Response:
    status = getattr(error, "status_code", 500)
    detail = getattr(error, "detail", "") or "error"
    if status == 404:
        detail = f"not found: {request.url.path}"
    elif status == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    return JSONResponse({"error": detail}, status_code=status, headers=getattr(error, "headers", None))


async def server_error(request: Request, error: Exception) -> Response:
    traceback.print_exception(error)
    line = str(error).splitlines()[0] if str(error) else ""
    return JSONResponse({"error": f"internal error ({type(error).__name__}: {line}); the server carries on"}, status_code=500)
