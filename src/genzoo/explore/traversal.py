"""Latent traversals and the learned 2-D manifold, decoded to image grids.

- `traverse_latents`: one row per latent dimension; along a row that coordinate sweeps the
  latent Gaussian's quantiles Phi^-1(p), p evenly spaced in [low, high], while every other
  coordinate stays at a base code (a given image's code, or the latent mean). Used to read
  what each dimension encodes (as in Higgins et al. 2017, beta-VAE).
- `latent_manifold`: for a 2-D latent, the decoder over a grid of coordinates evenly spaced
  on the unit square mapped through the inverse Gaussian CDF (Kingma & Welling 2014, Figure 4).

The latent Gaussian is the VAE's prior N(0, I), or for the deterministic `ae` the Gaussian
fitted to its training codes (buffers `latent_mean`, `latent_covariance`): a traversal then
sweeps mean_d + sqrt(cov_dd) Phi^-1(p) for dimension d, and the manifold maps the grid
through mean + L Phi^-1(p) with L the Cholesky factor of the covariance.
Interpolation between images lives in genzoo.explore.interpolation.

Which rows to show: a VAE trained briefly uses few of its dimensions; the others decode to
identical rows. `dims_to_show` orders the dimensions by their KL (most used first, see
genzoo.metrics.latent_usage) and keeps the active ones; `dimension_label` writes a row's
label ("z12  KL 2.31"). Every grid carries its row and column labels for
`genzoo.explore.figure.save_labelled_grid`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from genzoo.explore.figure import format_value
from genzoo.explore.sampling import to_display
from genzoo.models.base import GenerativeModel

if TYPE_CHECKING:
    from genzoo.metrics.latent_usage import LatentUsage

MAX_TRAVERSAL_ROWS = 16


@dataclass(frozen=True)
class LatentGrid:
    """Decoded images in row-major grid order, with the codes that made them.

    images: uint8 (N, C, H, W) for `save_labelled_grid(images, path, nrow=nrow, **grid.labels())`;
    latents: (N, D), the code of each image; nrow: images per row;
    row_labels / column_labels: one per row / column; row_title / column_title: what they sweep.
    """

    images: torch.Tensor
    latents: torch.Tensor
    nrow: int
    row_labels: tuple[str, ...] = ()
    column_labels: tuple[str, ...] = ()
    row_title: str = ""
    column_title: str = ""

    def labels(self) -> dict[str, object]:
        """The keyword arguments of `save_labelled_grid` that label this grid."""
        return {"row_labels": self.row_labels, "column_labels": self.column_labels,
                "row_title": self.row_title, "column_title": self.column_title}


def normal_quantiles(steps: int, low: float = 0.05, high: float = 0.95) -> torch.Tensor:
    """Phi^-1(p) of `steps` probabilities p evenly spaced in [low, high]: (steps,)."""
    if steps < 2:
        raise ValueError(f"a sweep needs at least 2 steps, got {steps}")
    if not 0.0 < low < high < 1.0:
        raise ValueError(f"quantile range must satisfy 0 < low < high < 1, got low={low}, high={high}")
    return torch.special.ndtri(torch.linspace(low, high, steps, dtype=torch.float64)).float()


def latent_dim_of(model: GenerativeModel) -> int:
    dim = getattr(getattr(model, "config", None), "latent_dim", None)
    if not model.capabilities.latent_decoder or dim is None:
        raise ValueError(f"model {model.name!r} has no latent decoder with a latent_dim to traverse")
    return int(dim)


def latent_gaussian(model: GenerativeModel) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (D,) and covariance (D, D) of the model's latent Gaussian: the prior, or ae's fitted codes."""
    dim = latent_dim_of(model)
    mean = getattr(model, "latent_mean", None)
    covariance = getattr(model, "latent_covariance", None)
    if isinstance(mean, torch.Tensor) and isinstance(covariance, torch.Tensor):
        return mean.detach().float().cpu(), covariance.detach().float().cpu()
    return torch.zeros(dim), torch.eye(dim)  # the standard normal prior of a VAE


def dims_to_show(usage: LatentUsage, *, max_rows: int = MAX_TRAVERSAL_ROWS, min_active: int = 2) -> list[int]:
    """Dimensions for a traversal, most used first (by KL, else by code variance).

    The active ones (Burda et al. 2016) when at least `min_active` are, else every dimension;
    at most `max_rows`. A deterministic encoder has no active count: its dimensions by variance.
    """
    if max_rows < 1:
        raise ValueError(f"max_rows must be >= 1, got {max_rows}")
    order = usage.order()
    if usage.active is not None:
        active = [d for d in order if bool(usage.active[d])]
        if len(active) >= min_active:
            order = active
    return order[:max_rows]


def dimension_label(dim: int, usage: LatentUsage | None = None) -> str:
    """A traversal row's label: "z12  KL 2.31" (nats), "z12  var 0.84" for codes without KL, else "z12"."""
    if usage is None:
        return f"z{dim}"
    if usage.kl_nats is not None:
        return f"z{dim}  KL {float(usage.kl_nats[dim]):.2f}"
    return f"z{dim}  var {float(usage.activity[dim]):.3g}"


def _decode(model: GenerativeModel, z: torch.Tensor, label: int | None) -> torch.Tensor:
    labels = None if label is None else torch.full((z.shape[0],), int(label), dtype=torch.long, device=model.device)
    images = model.decode(z.to(model.device), labels)
    return to_display(images, model.data_format).cpu()


@torch.no_grad()
def traverse_latents(
    model: GenerativeModel,
    *,
    x: torch.Tensor | None = None,
    label: int | None = None,
    dims: Sequence[int] | None = None,
    steps: int = 9,
    low: float = 0.05,
    high: float = 0.95,
    usage: LatentUsage | None = None,
) -> LatentGrid:
    """One row per latent dimension in `dims` (default all), `steps` images per row.

    Row r sets coordinate dims[r] to mean_d + std_d * Phi^-1(p) for p in linspace(low, high,
    steps); the other coordinates stay at the code of image `x` (C, H, W) or (1, C, H, W)
    when given (the posterior mean of a VAE), else at the latent mean. `label` conditions a
    label-conditional model's encoder and decoder. Rows are labelled by `dimension_label`
    (with their KL when `usage` is given), columns by Phi^-1(p).
    """
    dim = latent_dim_of(model)
    dims = list(range(dim)) if dims is None else [int(d) for d in dims]
    if not dims or min(dims) < 0 or max(dims) >= dim:
        raise ValueError(f"dims must be indices in 0..{dim - 1}, got {dims}")
    was_training = model.training
    model.eval()
    try:
        mean, covariance = latent_gaussian(model)
        base = mean.clone()  # (D,)
        if x is not None:
            if not model.capabilities.encoder:
                raise ValueError(f"model {model.name!r} has no encoder: traverse around the latent mean (x=None)")
            x = x if x.dim() == 4 else x[None]
            if x.shape[0] != 1:
                raise ValueError(f"traverse around one image, got a batch of {x.shape[0]}")
            if label is not None and model.capabilities.label_conditional:
                base = model.encode(x.to(model.device), torch.tensor([int(label)], device=model.device))[0]
            else:
                base = model.encode(x.to(model.device))[0]
            base = base.float().cpu()
        sweep = normal_quantiles(steps, low, high)  # (steps,)
        std = covariance.diagonal().clamp_min(0).sqrt()  # (D,)
        latents = base.repeat(len(dims), steps, 1)  # (rows, steps, D)
        for row, d in enumerate(dims):
            latents[row, :, d] = mean[d] + std[d] * sweep
        latents = latents.flatten(0, 1)  # (rows * steps, D)
        standard = torch.equal(mean, torch.zeros_like(mean)) and torch.equal(covariance.diagonal(), torch.ones_like(mean))
        return LatentGrid(
            _decode(model, latents, label), latents, steps,
            row_labels=tuple(dimension_label(d, usage) for d in dims),
            column_labels=tuple(format_value(float(q)) for q in sweep),
            row_title="latent dimension",
            column_title=(f"z_d = Phi^-1(p), p = {low:g}..{high:g}" if standard
                          else f"z_d = mean_d + std_d * q, q = Phi^-1(p) shown, p = {low:g}..{high:g}"),
        )
    finally:
        model.train(was_training)


@torch.no_grad()
def latent_manifold(
    model: GenerativeModel,
    *,
    steps: int = 20,
    low: float = 0.05,
    high: float = 0.95,
    label: int | None = None,
) -> LatentGrid:
    """The decoder over a steps x steps inverse-CDF grid of a 2-D latent (Kingma & Welling 2014, Figure 4).

    Column j sweeps the first coordinate left to right, row i the second top to bottom; for
    a non-standard latent Gaussian (ae) the grid is mapped through mean + L q, L L^T = cov.
    """
    if latent_dim_of(model) != 2:
        raise ValueError(f"the manifold grid needs a 2-D latent, model {model.name!r} has latent_dim={latent_dim_of(model)}")
    was_training = model.training
    model.eval()
    try:
        mean, covariance = latent_gaussian(model)
        sweep = normal_quantiles(steps, low, high)  # (steps,)
        second, first = torch.meshgrid(sweep, sweep, indexing="ij")  # (steps, steps): row i, column j
        grid = torch.stack([first, second], dim=-1).reshape(-1, 2)  # (steps^2, 2) standard-normal quantiles
        identity = torch.eye(2)
        cholesky = identity if torch.equal(covariance, identity) else torch.linalg.cholesky(covariance + 1e-5 * identity)  # (2, 2)
        latents = mean + grid @ cholesky.T  # (steps^2, 2)
        values = latents.view(steps, steps, 2)  # (row, column, coordinate)
        identity_map = torch.equal(cholesky, identity) and torch.equal(mean, torch.zeros_like(mean))
        return LatentGrid(
            _decode(model, latents, label), latents, steps,
            # with a correlated latent Gaussian (ae) the coordinates also vary along a row: label its first column / row
            row_labels=tuple(format_value(float(v)) for v in values[:, 0, 1]),
            column_labels=tuple(format_value(float(v)) for v in values[0, :, 0]),
            row_title="z1" if identity_map else "z1 along the first column",
            column_title=f"z0 = Phi^-1(p), p = {low:g}..{high:g}" if identity_map else "z0 along the first row (fitted Gaussian)",
        )
    finally:
        model.train(was_training)
