"""Paths through latent space: linear and spherical interpolation, decoded to images.

Spherical linear interpolation (slerp, Shoemake 1985; recommended for Gaussian latents by
White 2016, "Sampling Generative Networks"): for unit directions at angle omega,
slerp(a, b; t) = sin((1 - t) omega) / sin(omega) * a + sin(t omega) / sin(omega) * b.
It keeps the norm typical of a high-dimensional Gaussian sample, where the straight line
between two samples passes through low-density space near the origin.

`interpolation_column_labels` names the columns of a decoded path (A at t=0 .. B at t=1)
for `genzoo.explore.figure.save_labelled_grid`.
"""

from __future__ import annotations

from typing import Literal

import torch

from genzoo.models.base import GenerativeModel

PathKind = Literal["linear", "slerp"]


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """a, b (B, D); t (T,) in [0, 1] -> (B, T, D) points on the straight lines a -> b."""
    t = t.to(a)[None, :, None]  # (1, T, 1)
    return (1 - t) * a[:, None] + t * b[:, None]


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """a, b (B, D); t (T,) -> (B, T, D) spherical interpolation (falls back to lerp for parallel vectors)."""
    a_unit = a / a.norm(dim=-1, keepdim=True).clamp_min(eps)
    b_unit = b / b.norm(dim=-1, keepdim=True).clamp_min(eps)
    omega = torch.acos((a_unit * b_unit).sum(-1).clamp(-1 + eps, 1 - eps))[:, None, None]  # (B, 1, 1)
    t = t.to(a)[None, :, None]  # (1, T, 1)
    sin_omega = torch.sin(omega)
    spherical = (torch.sin((1 - t) * omega) * a[:, None] + torch.sin(t * omega) * b[:, None]) / sin_omega
    nearly_parallel = sin_omega.abs() < 1e-4
    return torch.where(nearly_parallel, lerp(a, b, t[0, :, 0]), spherical)


def latent_path(a: torch.Tensor, b: torch.Tensor, steps: int, kind: PathKind = "slerp") -> torch.Tensor:
    """`steps` points from a to b inclusive, for each row: (B, steps, D)."""
    if steps < 2:
        raise ValueError(f"an interpolation needs at least 2 steps, got {steps}")
    if kind not in ("linear", "slerp"):
        raise ValueError(f"unknown interpolation {kind!r}: choose one of linear, slerp")
    t = torch.linspace(0.0, 1.0, steps)
    return slerp(a, b, t) if kind == "slerp" else lerp(a, b, t)


def interpolation_column_labels(steps: int) -> tuple[str, ...]:
    """"A t=0", "t=0.11", ..., "B t=1": the path parameter of each of `steps` columns."""
    if steps < 2:
        raise ValueError(f"an interpolation needs at least 2 steps, got {steps}")
    values = [f"t={t:.2f}".rstrip("0").rstrip(".") for t in torch.linspace(0.0, 1.0, steps).tolist()]
    return (f"A {values[0]}", *values[1:-1], f"B {values[-1]}")


@torch.no_grad()
def decode_path(model: GenerativeModel, a: torch.Tensor, b: torch.Tensor, steps: int = 8, kind: PathKind = "slerp",
                labels: torch.Tensor | None = None) -> torch.Tensor:
    """Decode the paths a -> b (B, D): images (B * steps, C, H, W), one row per pair."""
    if not model.capabilities.latent_decoder:
        raise ValueError(f"model {model.name!r} has no latent decoder to interpolate with")
    was_training = model.training
    model.eval()
    points = latent_path(a, b, steps, kind).to(model.device)  # (B, steps, D)
    flat = points.reshape(-1, points.shape[-1])  # (B * steps, D)
    flat_labels = None if labels is None else labels.to(model.device).repeat_interleave(steps)
    images = model.decode(flat, flat_labels)
    model.train(was_training)
    return images


@torch.no_grad()
def interpolate_images(model: GenerativeModel, x_a: torch.Tensor, x_b: torch.Tensor, steps: int = 8, kind: PathKind = "linear",
                       labels: torch.Tensor | None = None) -> torch.Tensor:
    """Encode image pairs (B, C, H, W) and decode along the path between their codes: (B * steps, C, H, W).

    Class-conditional models encode and decode both ends with `labels` (B,).
    """
    if not model.capabilities.encoder:
        raise ValueError(f"model {model.name!r} has no encoder: interpolate between latent vectors with decode_path")
    was_training = model.training
    model.eval()
    if labels is not None:
        labels = labels.to(model.device)
    z_a, z_b = model.encode(x_a.to(model.device), labels), model.encode(x_b.to(model.device), labels)
    model.train(was_training)
    return decode_path(model, z_a.flatten(1), z_b.flatten(1), steps, kind, labels)
