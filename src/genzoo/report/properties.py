"""The lecture's summary of the model families (CS231n lecture 13), each claim beside the run's measured value.

    property_row("vae", model.capabilities, evaluate_result)
      -> {"model": "vae", "family": "latent variable",
          "density": "approximate (lower bound) — IWAE 246.4 nats (ELBO 250.1)", ...}

The summary slide:
  PixelRNN/CNN: explicit tractable density, exact likelihood, good samples, slow sequential generation;
  VAE: approximate density, optimizes a lower bound, useful latent (inference q(z|x)), blurrier samples;
  GAN: implicit density, game-theoretic (tricky training), sharpest samples, fast sampling,
       no inference and no likelihood.
The plain autoencoder, the VAE's starting point, is not on the slide: its claims say so.

Claims come from declared capabilities, never from model names: exact_likelihood ->
autoregressive; likelihood_bound -> latent variable model; an encoder without a bound ->
autoencoder; none of these -> adversarial (implicit density). Every exact-likelihood model in
genzoo is autoregressive (there are no flows), hence "sequential" sampling. Measured values come
from an `evaluate_run` result (its likelihood, sample_quality, speed and sharpness sections);
a cell says "not measured" where the result lacks them.

The samples claim is checked against a verdict on FID and the recognised share, each beside the
same figure for real images (`quality_verdict`), not against sharpness: speckle noise is sharp
(a noisy PixelCNN once read "good — 0.60x"). Sharpness stays as a secondary column.
"""

from __future__ import annotations

from typing import Any, Literal

Family = Literal["image-to-image", "autoregressive", "latent variable", "autoencoder", "adversarial"]

PROPERTIES_TITLE = "Properties (lecture 13 summary, measured)"
# Verdict thresholds on the two sample-quality figures, each relative to real images (see quality_verdict).
CLOSE_FID_EXCESS, POOR_FID_EXCESS = 0.05, 0.25  # FID above the real floor, as a share of Tr(Sigma) of the test features
CLOSE_RECOGNISED, POOR_RECOGNISED = 0.9, 0.5  # recognised share of the samples over that of the test images

PROPERTIES_NOTE = (
    "Each cell: the lecture's claim for the model's family (read from its declared capabilities) — "
    "the value measured on this run. Samples: a verdict from FID and the recognised share (samples the feature "
    "classifier names with p >= 0.9), each beside the same figure for real images (N other real images vs the test images): "
    f"'like real images' when FID exceeds the real floor by at most {CLOSE_FID_EXCESS:g} x Tr(Sigma) of the test features "
    f"and the recognised share is at least {CLOSE_RECOGNISED:.0%} of the real one; 'poor' when FID exceeds it by "
    f"{POOR_FID_EXCESS:g} x Tr(Sigma) or more, or the share is under {POOR_RECOGNISED:.0%} of the real one; 'fair' between. "
    "Sharpness: variance of the Laplacian of the samples over that of as many test images (< 1: blurrier than the data; "
    "noise is sharp, so it is no verdict)."
)
NOT_MEASURED = "not measured"

# The slide's words per family: density, sampling, samples, training objective.
_CLAIMS: dict[str, dict[str, str]] = {
    "autoregressive": {"density": "exact", "sampling": "sequential", "samples": "good", "training": "maximum likelihood"},
    "latent variable": {"density": "approximate (lower bound)", "sampling": "one pass", "samples": "blurrier",
                        "training": "maximize a lower bound (ELBO)"},
    "autoencoder": {"density": "none (no prior)", "sampling": "one pass", "samples": "not on the slide", "training": "reconstruction"},
    "adversarial": {"density": "implicit", "sampling": "one pass", "samples": "sharpest", "training": "two-player game (tricky)"},
    # Not on the summary slide: the applications slide. The report compares these runs in its Applications section.
    "image-to-image": {"density": "conditional p(output | input)", "sampling": "per input", "samples": "see Applications",
                       "training": "paired examples"},
}


def lecture_family(capabilities: Any) -> Family:
    """The model's family in the lecture's taxonomy, from its declared capabilities (applications apart)."""
    if getattr(capabilities, "image_to_image", False):
        return "image-to-image"
    if capabilities.exact_likelihood:
        return "autoregressive"
    if capabilities.likelihood_bound:
        return "latent variable"
    if capabilities.encoder:
        return "autoencoder"
    return "adversarial"


def property_row(model_name: str, capabilities: Any, result: dict[str, Any]) -> dict[str, str]:
    """One row of the properties table: claim — measured value per column (result: `evaluate_run` dict, may be {})."""
    family = lecture_family(capabilities)
    claims = _CLAIMS[family]
    likelihood = result.get("likelihood") or {}
    quality = result.get("sample_quality") or {}
    speed = result.get("speed") or {}
    sharpness = result.get("sharpness") or {}
    return {
        "model": model_name,
        "family": family,
        "density": _cell(claims["density"], _density(likelihood)),
        "latent inference (encoder)": _inference(capabilities, likelihood),
        "sampling": _cell(claims["sampling"], _per_image(speed.get("sampling_seconds_per_image"))),
        "samples: quality vs real images": _cell(claims["samples"], _quality(quality)),
        "sharpness vs test images": _sharpness(sharpness),
        "training": _cell(claims["training"], _throughput(speed.get("training_images_per_s"))),
    }


def number(value: float | None, spec: str) -> str:
    """`value` formatted with `spec`, or "n/a" where the evaluation stored null (a NaN or inf in JSON)."""
    return "n/a" if value is None else format(value, spec)


def _cell(claim: str, measured: str) -> str:
    return f"{claim} — {measured}"


def _density(likelihood: dict[str, Any]) -> str:
    if not likelihood:
        return NOT_MEASURED
    if not likelihood.get("available"):
        return "none"
    if likelihood["kind"] == "exact":
        return f"{number(likelihood.get('nll_nats'), '.1f')} nats ({number(likelihood.get('bits_per_dim'), '.3f')} bits/dim)"
    return f"IWAE {number(likelihood.get('nll_iwae_nats'), '.1f')} nats (ELBO {number(likelihood.get('nll_elbo_nats'), '.1f')})"


def _inference(capabilities: Any, likelihood: dict[str, Any]) -> str:
    if not capabilities.encoder:
        return "no"
    if not capabilities.likelihood_bound:
        return "yes: deterministic z = encode(x)"
    if likelihood.get("available") and likelihood.get("nll_elbo_nats") is not None and likelihood.get("nll_iwae_nats") is not None:
        # How far q(z|x) is from the true posterior shows in how much looser the ELBO is than IWAE.
        return _cell("yes: q(z|x)", f"ELBO {likelihood['nll_elbo_nats'] - likelihood['nll_iwae_nats']:.1f} nats looser than IWAE")
    return "yes: q(z|x)"


def _per_image(seconds_per_image: float | None) -> str:
    return f"{seconds_per_image * 1000:.2f} ms/image" if seconds_per_image is not None else NOT_MEASURED


def _throughput(images_per_s: float | None) -> str:
    return f"{images_per_s:.0f} images/s" if images_per_s is not None else NOT_MEASURED


def _sharpness(sharpness: dict[str, Any]) -> str:
    if not sharpness:
        return NOT_MEASURED
    return f"{number(sharpness.get('ratio'), '.2f')}x" if sharpness.get("available") else sharpness.get("reason", "none")


def quality_verdict(quality: dict[str, Any]) -> str | None:
    """"like real images", "fair" or "poor" from an `evaluate_run` sample_quality section; None without the figures.

    Both figures are read relative to real images at the same N: the FID excess over the
    real-vs-real FID, as a share of Tr(Sigma) of the test features (the FID of a generator stuck
    at their mean feature, so the share does not depend on the extractor's scale or, unlike a
    ratio to the floor, on N); and the recognised share over that of the test images.
    """
    fid, real = quality.get("fid"), (quality.get("real_reference") or {}).get("fid")
    spread = (quality.get("reference") or {}).get("feature_total_variance")
    recognised = quality.get("recognised") or {}
    samples_share, test_share = recognised.get("samples"), recognised.get("test_images")
    if None in (fid, real, spread, samples_share, test_share) or not spread or not test_share:
        return None
    excess = (fid - real) / spread
    share = samples_share / test_share
    if excess >= POOR_FID_EXCESS or share < POOR_RECOGNISED:
        return "poor"
    if excess <= CLOSE_FID_EXCESS and share >= CLOSE_RECOGNISED:
        return "like real images"
    return "fair"


def _quality(quality: dict[str, Any]) -> str:
    if not quality:
        return NOT_MEASURED
    if not quality.get("available"):
        return quality.get("reason", "none")
    real = quality.get("real_reference") or {}
    recognised = quality.get("recognised") or {}
    parts = []
    if "fid" in quality:
        parts.append(f"FID {number(quality['fid'], '.1f')}" + (f" (real {number(real['fid'], '.1f')})" if "fid" in real else ""))
    if recognised:
        parts.append(f"recognised {number(recognised.get('samples'), '.0%')} (real {number(recognised.get('test_images'), '.0%')})")
    if not parts:
        return NOT_MEASURED
    verdict = quality_verdict(quality)
    return (f"{verdict}: " if verdict else "") + ", ".join(parts) + f", N={quality['num_samples']}"
