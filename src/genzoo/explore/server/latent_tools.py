"""Latent-space tools of the page: slider decodes, starting codes, interpolation and the 2-D manifold.

Handlers take the run and the request's JSON and return JSON-ready dicts; tensor work runs in
the quick pool (the decode batcher for single codes). Paths reuse genzoo.explore.interpolation
(lerp, slerp, decode_path); the manifold reuses genzoo.explore.traversal (latent_manifold's
inverse-CDF grid, and the same map from a point of the grid to z).
"""

from __future__ import annotations

import time
from typing import Any

import torch

from genzoo.explore.interpolation import decode_path, lerp, slerp
from genzoo.explore.server.images import png_url, png_urls
from genzoo.explore.server.run_state import ExploreRun
from genzoo.explore.server.uploads import UploadStore
from genzoo.explore.server.validation import choice, integer, number, vector
from genzoo.explore.traversal import latent_gaussian, latent_manifold

PATH_KINDS = ("linear", "slerp")
STRIP_STEPS = 8
MANIFOLD_STEPS = 12
MANIFOLD_RANGE = (0.05, 0.95)  # probabilities the grid spans (Kingma & Welling 2014, Figure 4)


async def decode(run: ExploreRun, body: dict[str, Any]) -> dict[str, Any]:
    """{"z": [D numbers], "label"?} -> {"image", "ms"}: one slider position, batched with concurrent ones."""
    z = torch.tensor(vector(body, "z", run.latent_dim))
    started = time.perf_counter()
    image = await run.decoder.decode(z, run.label_of(body))
    return {"image": png_url(image), "ms": round(1000 * (time.perf_counter() - started), 2)}


async def random_code(run: ExploreRun, body: dict[str, Any]) -> dict[str, Any]:
    """{"seed"} -> a prior draw z with its slider values, and its image."""
    seed = integer(body, "seed", 0, low=0)
    z = await run.workers.quick(run.random_code, seed)
    image = await run.decoder.decode(z, run.label_of(body))
    return {**run.code_description(z), "image": png_url(image), "note": f"a draw from the prior (seed {seed})"}


async def encode(run: ExploreRun, body: dict[str, Any], uploads: UploadStore) -> dict[str, Any]:
    """{"source": test image or upload} -> its code z (encoder, or generator inversion), input and reconstruction."""
    source = run.source_image(body, uploads)
    label = run.label_of(body, source.label)
    inverted = not run.model.capabilities.encoder
    started = time.perf_counter()
    pool = run.workers.long if inverted else run.workers.quick
    z, error = await pool(run.encode, source.x, label)
    image = await run.decoder.decode(z, label)
    note = source.note if not inverted else (
        f"{source.note}: inverted through the generator in {time.perf_counter() - started:.1f} s, "
        f"reconstruction error {error:.4f} (mean squared, per sub-pixel)")
    return {**run.code_description(z), "input": png_url(source.shown), "image": png_url(image), "note": note.strip(": "),
            "label": label}


async def interpolate(run: ExploreRun, body: dict[str, Any]) -> dict[str, Any]:
    """{"a", "b": codes, "t" in [0, 1], "kind": linear|slerp} -> the image at t on the path."""
    a, b = _ends(run, body)
    t = number(body, "t", low=0.0, high=1.0)
    kind = choice(body, "kind", PATH_KINDS, "slerp")
    path = slerp if kind == "slerp" else lerp
    z = path(a[None], b[None], torch.tensor([t]))[0, 0]  # (D,)
    image = await run.decoder.decode(z, run.label_of(body))
    return {"image": png_url(image), "z": z.tolist()}


async def interpolation_strip(run: ExploreRun, body: dict[str, Any]) -> dict[str, Any]:
    """{"a", "b", "kind", "steps"} -> the whole path decoded (genzoo.explore.interpolation.decode_path)."""
    a, b = _ends(run, body)
    kind = choice(body, "kind", PATH_KINDS, "slerp")
    steps = integer(body, "steps", STRIP_STEPS, low=2, high=16)
    labels = run.labels_tensor(run.label_of(body))

    def strip() -> torch.Tensor:
        images = decode_path(run.model, a[None], b[None], steps, kind, labels)
        return _display(run, images)

    images = await run.workers.quick(strip)
    return {"images": png_urls(images), "t": torch.linspace(0, 1, steps).tolist()}


def _ends(run: ExploreRun, body: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor(vector(body, "a", run.latent_dim)), torch.tensor(vector(body, "b", run.latent_dim))


def _display(run: ExploreRun, images: torch.Tensor) -> torch.Tensor:
    from genzoo.explore.sampling import to_display

    return to_display(images, run.data_format).cpu()


# ---- the 2-D manifold ------------------------------------------------------------------------------
async def manifold_grid(run: ExploreRun, body: dict[str, Any]) -> dict[str, Any]:
    """The decoder over the inverse-CDF grid (latent_manifold) as one image, and how the grid maps to z."""
    label = run.label_of(body)
    grid = await run.workers.quick(lambda: latent_manifold(run.model, steps=MANIFOLD_STEPS, low=MANIFOLD_RANGE[0],
                                                           high=MANIFOLD_RANGE[1], label=label))
    channels, height, width = run.data_format.image_shape
    tiles = grid.images.view(MANIFOLD_STEPS, MANIFOLD_STEPS, channels, height, width)  # (row, column, C, H, W)
    mosaic = tiles.permute(2, 0, 3, 1, 4).reshape(channels, MANIFOLD_STEPS * height, MANIFOLD_STEPS * width)
    return {"image": png_url(mosaic), "steps": MANIFOLD_STEPS, "range": list(MANIFOLD_RANGE),
            "note": f"{grid.column_title} left to right; {grid.row_title} top to bottom"}


def manifold_latent(run: ExploreRun, u: float, v: float) -> torch.Tensor:
    """A point (u, v) of the manifold mosaic (0..1 across, 0..1 down) -> z (2,), as latent_manifold maps its grid.

    Cell j of S spans [j/S, (j+1)/S] and shows p_j = low + (high - low) j / (S - 1) at its centre,
    so p is that line through the cell centres (clamped inside (0, 1)); z = mean + L Phi^-1(p).
    """
    low, high = MANIFOLD_RANGE
    steps = MANIFOLD_STEPS
    fractions = torch.tensor([u, v], dtype=torch.float64)
    p = (low + (high - low) * (fractions * steps - 0.5) / (steps - 1)).clamp(1e-4, 1 - 1e-4)
    quantiles = torch.special.ndtri(p).float()  # (2,) first coordinate across, second down
    mean, covariance = latent_gaussian(run.model)
    identity = torch.eye(2)
    cholesky = identity if torch.equal(covariance, identity) else torch.linalg.cholesky(covariance + 1e-5 * identity)
    return mean + cholesky @ quantiles


async def manifold_point(run: ExploreRun, body: dict[str, Any]) -> dict[str, Any]:
    """{"u", "v" in [0, 1]} -> z there and its image."""
    z = manifold_latent(run, number(body, "u", low=0.0, high=1.0), number(body, "v", low=0.0, high=1.0))
    image = await run.decoder.decode(z, run.label_of(body))
    return {"image": png_url(image), **run.code_description(z)}
