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

from genzoo.metrics.likelihood_result import Likelihood
from genzoo.metrics.results import EvaluationSections, Modes, SampleQuality, Sharpness, Speed

Family = Literal["image-to-image", "autoregressive", "latent variable", "autoencoder", "adversarial"]

PROPERTIES_TITLE = "Properties (lecture 13 summary, measured)"
# Verdict thresholds on the two sample-quality figures, each relative to real images (see quality_verdict).
CLOSE_FID_EXCESS, POOR_FID_EXCESS = 0.05, 0.25  # FID above the real floor, as a share of Tr(Sigma) of the test features
# Recognised share of the samples over that of the test images. Under a quarter is "poor": the classifier's p >= 0.9 is
# strict, and a DCGAN whose samples a person reads as garments about 2 times in 3 scored 34% of the real share (FID 0.10 of
# Tr(Sigma) above the floor: fair); noise (0%) and 20% speckle (5%) stay far below, blur and 5% speckle are poor by FID.
CLOSE_RECOGNISED, POOR_RECOGNISED = 0.9, 0.25

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
    sections = EvaluationSections.of(result)
    likelihood, quality, modes = sections.likelihood, sections.sample_quality, sections.modes
    speed = sections.speed or Speed("?")
    return {
        "model": model_name,
        "family": family,
        "density": _cell(claims["density"], _density(likelihood, capabilities)),
        "latent inference (encoder)": _inference(capabilities, likelihood),
        "sampling": _cell(claims["sampling"], _per_image(speed.sampling_seconds_per_image)),
        "samples: quality vs real images": _cell(claims["samples"], _modes(modes) if modes and not quality else _quality(quality)),
        "sharpness vs test images": "no images (2-D points)" if modes and not sections.sharpness else _sharpness(sections.sharpness),
        "training": _cell(claims["training"], _throughput(speed.training_images_per_s)),
    }


def number(value: float | None, spec: str) -> str:
    """`value` formatted with `spec`, or "n/a" where the evaluation stored null (a NaN or inf in JSON)."""
    return "n/a" if value is None else format(value, spec)


def _cell(claim: str, measured: str) -> str:
    return f"{claim} — {measured}"


def _density(likelihood: Likelihood | None, capabilities: Any) -> str:
    if likelihood is None:
        return NOT_MEASURED if capabilities.exact_likelihood or capabilities.likelihood_bound else "none"
    if not likelihood.available:
        return "none"
    if likelihood.kind == "exact":
        return f"{number(likelihood.exact.nats, '.1f')} nats ({number(likelihood.exact.bits_per_dim, '.3f')} bits/dim)"
    return f"IWAE {number(likelihood.iwae.nats, '.1f')} nats (ELBO {number(likelihood.elbo.nats, '.1f')})"


def _inference(capabilities: Any, likelihood: Likelihood | None) -> str:
    if not capabilities.encoder:
        return "no"
    if not capabilities.likelihood_bound:
        return "yes: deterministic z = encode(x)"
    if likelihood is not None and likelihood.available and likelihood.elbo.nats is not None and likelihood.iwae.nats is not None:
        # How far q(z|x) is from the true posterior shows in how much looser the ELBO is than IWAE.
        return _cell("yes: q(z|x)", f"ELBO {likelihood.elbo.nats - likelihood.iwae.nats:.1f} nats looser than IWAE")
    return "yes: q(z|x)"


def _modes(modes: Modes) -> str:
    """A toy 2-D run's samples: modes covered and the high-quality share (genzoo.data.toy2d_modes)."""
    if not modes.available:
        return modes.reason or NOT_MEASURED
    return f"{modes.modes_covered} of {modes.num_modes} modes covered, {number(modes.high_quality_fraction, '.0%')} high-quality, N={modes.num_samples}"


def _per_image(seconds_per_image: float | None) -> str:
    return f"{seconds_per_image * 1000:.2f} ms/image" if seconds_per_image is not None else NOT_MEASURED


def _throughput(images_per_s: float | None) -> str:
    return f"{images_per_s:.0f} images/s" if images_per_s is not None else NOT_MEASURED


def _sharpness(sharpness: Sharpness | None) -> str:
    if sharpness is None:
        return NOT_MEASURED
    return f"{number(sharpness.ratio, '.2f')}x" if sharpness.available else sharpness.reason or "none"


def quality_verdict(quality: SampleQuality) -> str | None:
    """"like real images", "fair" or "poor" from an `evaluate_run` sample_quality section; None without the figures.

    Both figures are read relative to real images at the same N: the FID excess over the
    real-vs-real FID, as a share of Tr(Sigma) of the test features (the FID of a generator stuck
    at their mean feature, so the share does not depend on the extractor's scale or, unlike a
    ratio to the floor, on N); and the recognised share over that of the test images.
    """
    fid, real, spread = quality.samples.fid, quality.real.fid, quality.feature_total_variance
    share = None if quality.recognised is None else quality.recognised.relative
    if None in (fid, real, spread, share) or not spread:
        return None
    excess = (fid - real) / spread
    if excess >= POOR_FID_EXCESS or share < POOR_RECOGNISED:
        return "poor"
    if excess <= CLOSE_FID_EXCESS and share >= CLOSE_RECOGNISED:
        return "like real images"
    return "fair"


def _quality(quality: SampleQuality | None) -> str:
    if quality is None:
        return NOT_MEASURED
    if not quality.available:
        return quality.reason or "none"
    recognised = quality.recognised
    parts = []
    if "fid" in quality.samples.measured:
        real = f" (real {number(quality.real.fid, '.1f')})" if "fid" in quality.real.measured else ""
        parts.append(f"FID {number(quality.samples.fid, '.1f')}{real}")
    if recognised is not None:
        parts.append(f"recognised {number(recognised.samples, '.0%')} (real {number(recognised.test_images, '.0%')})")
    if not parts:
        return NOT_MEASURED
    verdict = quality_verdict(quality)
    return (f"{verdict}: " if verdict else "") + ", ".join(parts) + f", N={quality.num_samples}"
