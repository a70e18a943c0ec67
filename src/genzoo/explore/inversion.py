"""Generator inversion: find a latent z whose decoding G(z) reconstructs a given image.

A GAN has no encoder, so a real image's latent is found by optimisation (Creswell &
Bharath 2016, "Inverting the Generator of a Generative Adversarial Network"; Lipton &
Tripathi 2017, "Precise Recovery of Latent Vectors from Generative Adversarial Networks"):

    z* = argmin_z  mean_i (G(z)_i - x_i)^2  +  prior_weight * ||z||^2 / (2 d)

by Adam on z alone, from several random starts ("restarts") drawn from the prior, keeping
the start with the lowest objective. The squared-norm penalty is the normal prior's
negative log-density per latent dimension; under a uniform prior z is instead projected
back into [-1, 1]^d after every step (Lipton & Tripathi's clipping). All images and restarts
are optimised together as one batch (each row's gradient is its own: the objective is a sum
over rows). G runs in eval mode, so BatchNorm statistics are used, never updated.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genzoo.models.base import GenerativeModel


@dataclass
class Inversion:
    """Result of `invert_generator` for B images."""

    latents: torch.Tensor  # (B, D) the best restart's z per image
    reconstructions: torch.Tensor  # (B, C, H, W) G(z) in the model's value space
    errors: torch.Tensor  # (B,) mean squared error per sub-pixel of the reconstructions
    objectives: torch.Tensor  # (B,) error + prior penalty, the optimised quantity


def _prior(model: GenerativeModel) -> str:
    return getattr(getattr(model, "config", None), "prior", "normal")


def _initial_latents(model: GenerativeModel, n: int, dim: int, generator: torch.Generator | None) -> torch.Tensor:
    try:
        return model.sample_latent(n, generator=generator)  # (n, D) from the model's prior
    except NotImplementedError:
        return torch.randn(n, dim, generator=generator, device=model.device)


def invert_generator(
    model: GenerativeModel,
    images: torch.Tensor,
    *,
    labels: torch.Tensor | None = None,
    steps: int = 300,
    lr: float = 0.05,
    restarts: int = 4,
    prior_weight: float = 1e-2,
    latent_dim: int | None = None,
    batch_size: int = 256,
    generator: torch.Generator | None = None,
) -> Inversion:
    """Latents (B, D) whose decodings reconstruct `images` (B, C, H, W, in the model's value space).

    `restarts` random starts per image, `steps` Adam steps of size `lr` each; `batch_size`
    bounds images x restarts optimised at once. `labels` (B,) for class-conditional models.
    """
    if not model.capabilities.latent_decoder:
        raise ValueError(f"model {model.name!r} has no latent decoder to invert")
    if steps < 1 or restarts < 1:
        raise ValueError(f"steps and restarts must be >= 1, got {steps} and {restarts}")
    dim = latent_dim or getattr(getattr(model, "config", None), "latent_dim", None)
    if dim is None:
        raise ValueError(f"cannot tell the latent size of {model.name!r}: pass latent_dim")
    model.check_input(images)
    was_training = model.training
    model.eval()
    try:
        per_chunk = max(1, batch_size // restarts)
        parts = [
            _invert_chunk(model, images[start : start + per_chunk], None if labels is None else labels[start : start + per_chunk],
                          steps=steps, lr=lr, restarts=restarts, prior_weight=prior_weight, dim=dim, generator=generator)
            for start in range(0, len(images), per_chunk)
        ]
    finally:
        model.train(was_training)
    return Inversion(*(torch.cat([getattr(p, name) for p in parts]) for name in ("latents", "reconstructions", "errors", "objectives")))


def _invert_chunk(
    model: GenerativeModel, images: torch.Tensor, labels: torch.Tensor | None, *,
    steps: int, lr: float, restarts: int, prior_weight: float, dim: int, generator: torch.Generator | None,
) -> Inversion:
    count = len(images)
    targets = images.to(model.device).float().repeat_interleave(restarts, 0)  # (B*R, C, H, W), restarts adjacent
    repeated_labels = None if labels is None else labels.to(model.device).repeat_interleave(restarts)
    uniform = _prior(model) == "uniform"
    z = _initial_latents(model, count * restarts, dim, generator).detach().clone().requires_grad_(True)  # (B*R, D)
    optimizer = torch.optim.Adam([z], lr=lr)

    def objective() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        reconstruction = model.decode(z, repeated_labels)  # (B*R, C, H, W)
        error = (reconstruction - targets).pow(2).flatten(1).mean(1)  # (B*R,)
        penalty = 0.0 if uniform else prior_weight * z.pow(2).sum(1) / (2 * dim)  # normal prior's -log p(z) / d
        return error + penalty, error, reconstruction

    for _ in range(steps):
        total, _, _ = objective()
        (gradient,) = torch.autograd.grad(total.sum(), z)  # rows are independent; no parameter gradients
        z.grad = gradient
        optimizer.step()
        if uniform:
            with torch.no_grad():
                z.clamp_(-1.0, 1.0)
    with torch.no_grad():
        total, error, reconstruction = objective()
    best = total.view(count, restarts).argmin(1)  # (B,) best restart per image
    rows = torch.arange(count, device=best.device) * restarts + best  # (B,)
    return Inversion(z.detach()[rows], reconstruction[rows], error[rows], total[rows])
