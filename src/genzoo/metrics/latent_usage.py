"""Which latent dimensions a model uses: active units and the KL of each dimension.

Active units (Burda et al. 2016, "Importance Weighted Autoencoders", Sec. 5.2): unit u is
active when its activity A_u = Cov_x(E_{q(z|x)}[z_u]) exceeds 0.01, i.e. when the posterior
mean of z_u moves with the input x; an inactive unit's posterior is the same for every x and
its decoder ignores it ("posterior collapse"). The covariance is the unbiased variance of the
posterior means over the test images.

KL per dimension: for a diagonal Gaussian posterior the KL to the N(0, I) prior is a sum
over dimensions; the mean over x of the u-th term,
    KL_u = E_x[ 0.5 (mu_u^2 + sigma_u^2 - log sigma_u^2 - 1) ]   (Kingma & Welling 2014, eq. 10),
is the number of nats the code spends on dimension u, a finer view than the active/inactive cut.

Models whose encoder gives a diagonal Gaussian posterior expose `posterior(x, y) -> (mu, log
sigma^2)` (the vae); a deterministic encoder (the ae) has codes but no KL: for it only the
variance of the codes per dimension is reported, in the codes' own units (no fixed scale, so
the 0.01 threshold does not apply and no active-unit count is given).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

ACTIVITY_THRESHOLD = 0.01  # Burda et al. 2016


def activity(posterior_means: torch.Tensor) -> torch.Tensor:
    """A_u = Cov_x(E_q[z_u]): unbiased variance over images of the posterior means (N, D) -> (D,)."""
    if posterior_means.dim() != 2 or posterior_means.shape[0] < 2:
        raise ValueError(f"activity needs posterior means of at least 2 images as (N, D), got {tuple(posterior_means.shape)}")
    return posterior_means.double().var(dim=0, correction=1).float()


def active_units(posterior_means: torch.Tensor, threshold: float = ACTIVITY_THRESHOLD) -> torch.Tensor:
    """Boolean (D,): A_u > threshold (Burda et al. 2016, active units)."""
    return activity(posterior_means) > threshold


def kl_per_dimension(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """Mean over images of KL(N(mu_u, sigma_u^2) || N(0, 1)) per dimension, nats: (N, D), (N, D) -> (D,)."""
    if mu.shape != log_var.shape or mu.dim() != 2:
        raise ValueError(f"mu and log_var must both be (N, D), got {tuple(mu.shape)} and {tuple(log_var.shape)}")
    mu, log_var = mu.double(), log_var.double()
    per_image = 0.5 * (mu.pow(2) + log_var.exp() - log_var - 1.0)  # (N, D)
    return per_image.mean(dim=0).float()


def has_gaussian_posterior(model: Any) -> bool:
    """Whether the model's encoder gives q(z|x) = N(mu, diag sigma^2) through `posterior(x, y)`."""
    return bool(model.capabilities.encoder) and callable(getattr(model, "posterior", None))


@dataclass(frozen=True)
class LatentUsage:
    """Per-dimension usage of a latent code over N images.

    activity: (D,) variance of the posterior means (of the codes, for a deterministic encoder);
    kl_nats: (D,) mean KL per dimension, None without a Gaussian posterior;
    active: (D,) activity > threshold, None without a Gaussian posterior.
    """

    activity: torch.Tensor
    kl_nats: torch.Tensor | None
    active: torch.Tensor | None
    num_images: int
    threshold: float = ACTIVITY_THRESHOLD

    @property
    def num_active(self) -> int | None:
        return None if self.active is None else int(self.active.sum())

    def order(self) -> list[int]:
        """Dimensions from the most used to the least: by KL when known, else by activity (ties: lower index first)."""
        key = self.kl_nats if self.kl_nats is not None else self.activity
        return sorted(range(len(key)), key=lambda d: (-float(key[d]), d))


@torch.no_grad()
def posterior_moments(model: Any, x: torch.Tensor, y: torch.Tensor | None = None, *, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Posterior means (N, D) and log variances (N, D) of preprocessed images x (N, C, H, W), in eval mode.

    A deterministic encoder gives its codes and None for the log variances.
    """
    if not model.capabilities.encoder:
        raise ValueError(f"model {model.name!r} has no encoder: latent usage needs codes of images")
    gaussian = has_gaussian_posterior(model)
    conditional = bool(model.capabilities.label_conditional and y is not None)
    was_training = model.training
    model.eval()
    means, log_vars = [], []
    try:
        for start in range(0, len(x), batch_size):
            batch = x[start : start + batch_size].to(model.device)  # (B, C, H, W)
            labels = y[start : start + batch_size].to(model.device) if conditional else None
            if gaussian:
                mu, log_var = model.posterior(batch, labels)  # (B, D) each
                log_vars.append(log_var.flatten(1).float().cpu())
            else:
                mu = model.encode(batch, labels)
            means.append(mu.flatten(1).float().cpu())
    finally:
        model.train(was_training)
    return torch.cat(means), (torch.cat(log_vars) if gaussian else None)


def latent_usage(model: Any, x: torch.Tensor, y: torch.Tensor | None = None, *, batch_size: int = 256,
                 threshold: float = ACTIVITY_THRESHOLD) -> LatentUsage:
    """Activity, KL per dimension and active units of `model` over preprocessed images x (N, C, H, W)."""
    mu, log_var = posterior_moments(model, x, y, batch_size=batch_size)
    if log_var is None:
        return LatentUsage(activity=activity(mu), kl_nats=None, active=None, num_images=len(x), threshold=threshold)
    return LatentUsage(activity=activity(mu), kl_nats=kl_per_dimension(mu, log_var), active=activity(mu) > threshold,
                       num_images=len(x), threshold=threshold)


def usage_summary(usage: LatentUsage) -> dict[str, Any]:
    """A JSON-ready dict: per-dimension lists, the ordering, and the active count where defined."""
    order = usage.order()
    out: dict[str, Any] = {
        "available": True,
        "num_test_images": usage.num_images,
        "latent_dim": len(usage.activity),
        "activity": [float(v) for v in usage.activity],
        "order_most_used_first": order,
    }
    if usage.kl_nats is None:
        out["measure"] = "variance of the deterministic codes per dimension over test images (codes have no fixed scale: no active-unit count)"
    else:
        out.update(
            active_units=usage.num_active,
            active_dims=[d for d in order if bool(usage.active[d])],  # type: ignore[index]
            threshold=usage.threshold,
            kl_nats_per_dim=[float(v) for v in usage.kl_nats],
            kl_nats_total=float(usage.kl_nats.sum()),
            measure="unit u active when Cov_x(E_q[z_u]) > threshold (Burda et al. 2016); KL per dimension in nats, mean over test images",
        )
    return out


def latent_usage_metrics(model: Any, info: Any, images: torch.Tensor, labels: torch.Tensor | None, *, batch_size: int = 256,
                         seed: int = 0) -> dict[str, Any]:
    """`usage_summary` over uint8 test images (N, C, H, W) given the run's preprocessing (seeded), for `genzoo eval`."""
    if not model.capabilities.encoder:
        return {"available": False, "reason": f"model {model.name} has no encoder"}
    x = info.make_preprocessor()(images, generator=torch.Generator().manual_seed(seed))  # (N, C, H, W) floats
    return usage_summary(latent_usage(model, x, labels, batch_size=batch_size))


def usage_line(summary: dict[str, Any], most_used: int = 5) -> str:
    """One line for the CLI: active units and the most used dimensions with their KL (or code variance)."""
    where = f"N={summary['num_test_images']} test images"
    order = summary["order_most_used_first"][:most_used]
    if "active_units" in summary:
        kl = summary["kl_nats_per_dim"]
        top = ", ".join(f"z{d} {kl[d]:.2f}" for d in order)
        return (f"latent usage: {summary['active_units']} of {summary['latent_dim']} dims active (Cov_x E_q[z_u] > {summary['threshold']:g}), "
                f"KL {summary['kl_nats_total']:.2f} nats in all; most used (KL nats): {top} [{where}]")
    variance = summary["activity"]
    top = ", ".join(f"z{d} {variance[d]:.3g}" for d in order)
    return f"latent usage: deterministic codes, no KL; largest variance per dim: {top} [{where}]"
