"""The latent sliders: which directions of z the page moves, and how far.

A code is z = base + sum_k c_k u_k with slider values c_k along directions u_k (rows of
`directions`, (K, D)); starting from a code z, c is its least-squares projection and base the
rest, so a fresh start decodes exactly to z.

- Small latents (D <= MAX_DIMENSION_SLIDERS): one slider per dimension, u_k the unit vectors,
  c_k = z_d - mean_d over +-3 standard deviations of the latent Gaussian (the prior; the
  fitted Gaussian for `ae`; U[-1, 1] for a uniform GAN prior). With test images, a VAE's
  dimensions come most used first (by KL, genzoo.metrics.latent_usage), labelled with it.
- Large latents: the top PRINCIPAL_SLIDERS principal directions, stated as such on the page.
  A model with an encoder: principal axes of the codes of test images (PCA of the aggregate
  posterior means), each slider +-3 standard deviations along its axis. A generator without
  one: GANSpace (Härkönen et al. 2020, "GANSpace: Discovering Interpretable GAN Controls"),
  because the prior of z is isotropic and has no principal axes: PCA of the generator's first
  hidden activations over prior samples, each feature-space axis carried back to z by
  linear regression of z on the PCA coordinates (their Sec. 2.2, as for BigGAN).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from genzoo.explore.traversal import latent_dim_of, latent_gaussian
from genzoo.models.base import GenerativeModel

MAX_DIMENSION_SLIDERS = 16
PRINCIPAL_SLIDERS = 10
PCA_SAMPLES = 2000  # prior samples (GANSpace) or test images (codes) the directions are fitted on
SLIDER_STDS = 3.0
HIDDEN_ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.SiLU, nn.ELU, nn.GELU)


@dataclass(frozen=True)
class SliderBasis:
    """Directions (K, D), slider ranges (K, 2), labels and the sentence that says what they are."""

    kind: str  # "dimensions" or "principal"
    mean: torch.Tensor  # (D,) where every slider at 0 sits
    directions: torch.Tensor  # (K, D)
    ranges: torch.Tensor  # (K, 2) low, high of each slider
    labels: tuple[str, ...]
    note: str

    def coefficients(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A code z (D,) -> slider values c (K,) and base (D,) with base + c @ directions = z."""
        offset = (z - self.mean).double()
        c = torch.linalg.lstsq(self.directions.double().T, offset[:, None]).solution[:, 0]  # (K,)
        base = z.double() - c @ self.directions.double()
        return c.float(), base.float()

    def describe(self) -> dict[str, object]:
        return {
            "kind": self.kind, "note": self.note, "mean": self.mean.tolist(), "directions": self.directions.tolist(),
            "ranges": self.ranges.tolist(), "labels": list(self.labels),
        }


def prior_ranges(model: GenerativeModel) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (D,) and +-SLIDER_STDS std half-widths (D,) of the latent distribution; [-1, 1] for a uniform prior."""
    dim = latent_dim_of(model)
    if getattr(model.config, "prior", "normal") == "uniform":
        return torch.zeros(dim), torch.ones(dim)
    mean, covariance = latent_gaussian(model)
    return mean, SLIDER_STDS * covariance.diagonal().clamp_min(1e-8).sqrt()


def dimension_basis(model: GenerativeModel, order: list[int] | None = None, labels: list[str] | None = None) -> SliderBasis:
    """One slider per latent dimension (in `order`, default 0..D-1)."""
    dim = latent_dim_of(model)
    order = list(range(dim)) if order is None else order
    mean, half_width = prior_ranges(model)
    directions = torch.eye(dim)[order]  # (D, D) rows in slider order
    ranges = torch.stack([-half_width[order], half_width[order]], 1)  # (D, 2)
    uniform = getattr(model.config, "prior", "normal") == "uniform"
    spread = "the uniform prior's range [-1, 1]" if uniform else f"+-{SLIDER_STDS:g} standard deviations of the latent Gaussian"
    note = f"one slider per latent dimension (z_d minus its mean), over {spread}"
    if labels is not None:
        note += "; most used first (KL per dimension on test images)"
    return SliderBasis("dimensions", mean, directions, ranges, tuple(labels or (f"z{d}" for d in order)), note)


def code_pca_basis(codes: torch.Tensor, count: int = PRINCIPAL_SLIDERS) -> SliderBasis:
    """Principal axes of codes (N, D) of test images, +-3 std each."""
    mean = codes.mean(0)
    _, singular, vh = torch.linalg.svd(codes - mean, full_matrices=False)  # vh (D, D) rows: axes
    count = min(count, vh.shape[0])
    std = singular[:count] / max(len(codes) - 1, 1) ** 0.5  # (K,)
    ranges = torch.stack([-SLIDER_STDS * std, SLIDER_STDS * std], 1)
    share = (singular[:count] ** 2).sum() / (singular**2).sum().clamp_min(1e-12)
    note = (f"the top {count} principal directions of z (PCA of the codes of {len(codes)} test images, "
            f"{100 * float(share):.0f}% of their variance), +-{SLIDER_STDS:g} standard deviations each")
    return SliderBasis("principal", mean, vh[:count].contiguous(), ranges, tuple(f"PC{k + 1}" for k in range(count)), note)


def first_hidden_activation(model: GenerativeModel, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """The output (B, F) of the first hidden nonlinearity `decode(z, labels)` passes through (GANSpace's early layer)."""
    captured: list[torch.Tensor] = []

    def keep_first(module: nn.Module, inputs: object, output: torch.Tensor) -> None:
        if not captured:
            captured.append(output.flatten(1))

    handles = [module.register_forward_hook(keep_first) for module in model.modules() if isinstance(module, HIDDEN_ACTIVATIONS)]
    try:
        model.decode(z, labels)
    finally:
        for handle in handles:
            handle.remove()
    if not captured:
        raise ValueError(f"model {model.name!r} has no hidden activation to find principal directions in")
    return captured[0]


def ganspace_basis(model: GenerativeModel, *, count: int = PRINCIPAL_SLIDERS, samples: int = PCA_SAMPLES, seed: int = 0,
                   labels: torch.Tensor | None = None) -> SliderBasis:
    """GANSpace directions in z: PCA of first-layer activations y = G1(z), regressed back onto z."""
    generator = torch.Generator(device=model.device).manual_seed(seed)
    z = model.sample_latent(samples, generator=generator)  # (N, D)
    if labels is not None:  # a conditional generator: its features over the classes in turn
        labels = labels.to(model.device)
    with torch.no_grad():
        features = first_hidden_activation(model, z, labels).float().cpu()  # (N, F)
    z = z.float().cpu()
    centred = features - features.mean(0)
    count = min(count, *centred.shape, latent_dim_of(model))
    _, _, axes = torch.svd_lowrank(centred, q=min(count + 8, *centred.shape), niter=4, M=None)  # axes (F, q)
    coordinates = centred @ axes[:, :count]  # (N, K) PCA coordinates x
    z_mean = z.mean(0)
    directions = torch.linalg.lstsq(coordinates.double(), (z - z_mean).double()).solution.float()  # (K, D): z ~ mean + x U
    std = coordinates.std(0)  # (K,)
    ranges = torch.stack([-SLIDER_STDS * std, SLIDER_STDS * std], 1)
    note = (f"the top {count} principal directions, GANSpace-style (Härkönen et al. 2020): PCA of the generator's first hidden "
            f"activations over {samples} prior samples, each carried back to z by linear regression; +-{SLIDER_STDS:g} std each")
    return SliderBasis("principal", z_mean, directions, ranges, tuple(f"PC{k + 1}" for k in range(count)), note)

