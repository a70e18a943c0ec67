"""Evaluate a trained run: likelihood, sample quality, speed, as one JSON-ready dict.

    evaluate_run("runs/vae", metrics=("likelihood", "fid"), num_samples=10_000) -> dict
    write_metrics_json(result, "runs/vae/eval.json")
    EvaluationSections.of(result)   the sections as types (genzoo.metrics.results), for every reader

Each section is built as its type (Likelihood, SampleQuality, Speed, Sharpness, Modes;
TranslationReport) and stored as that type's to_dict(), so the names of the figures are
spelled once, in genzoo.metrics.results and genzoo.metrics.likelihood_result.

What is measured, and how it is stated in the result:
  - likelihood, on the test split (N images stated, `test_images` caps it):
      exact-likelihood models (autoregressive): -log p(x) from `model.log_prob`;
      likelihood-bound models (VAE): the ELBO and the k-sample IWAE bound
        (Burda et al. 2016, k = `iwae_k`, stated; 5000 as in the paper) from the same samples,
        via `genzoo.metrics.iwae.likelihood_bounds`;
      in nats per image and bits/dim. Test images get the run's preprocessing (seeded for
      dynamic binarization / dequantization noise). For continuous (dequantized) data the
      density is converted to the comparable discrete nll (`discrete_nll_from_density`).
      Models without a likelihood (ae, GANs) get {"available": false, "reason": ...}.
  - sample quality: `num_samples` images from `sample_images` (seeded) against the same number
    of test images (Lucic et al. 2018 use 10k vs 10k), the test images shown through the run's
    preprocessing (`genzoo.metrics.reference`); FID, KID (mean and standard error), improved
    precision/recall (k = 3), the classifier score and the recognised share (samples the
    classifier names with p(y|x) >= 0.9), all in the feature space of genzoo's per-dataset
    classifier, whose id, test accuracy and choice (`choose_feature_extractor`: the most
    accurate cached one, else the default trained now, announced on stderr) are recorded with
    both N. `real_reference` holds the same figures for as many other real images (training
    images the classifier never saw) against the same test images: the floor at this N.
  - speed: sampling seconds per image (batch size and device stated) and the training
    throughput (images/s, median of the train records of RUN_DIR/metrics.jsonl).
  - sharpness: the variance of the Laplacian of the samples over that of as many test images
    shown through the run's preprocessing (`genzoo.metrics.sharpness`; < 1: blurrier), both N
    stated. It reuses the samples drawn for sample quality or speed, else draws
    min(num_samples, batch_size).
  - latent_usage, for models with an encoder: active units (Burda et al. 2016: Cov_x(E_q[z_u])
    > 0.01) and the KL of each latent dimension over the test images (N stated, `test_images`
    caps it), `genzoo.metrics.latent_usage`; for a deterministic encoder (ae) the variance of
    its codes per dimension. Models without an encoder get {"available": false, "reason": ...}.
  - modes, for 2-D point data (toy2d): modes covered and the high-quality share of
    `num_samples` samples (`genzoo.metrics.modes`, VEEGAN / PacGAN criteria, N stated). On such
    data "modes" replaces the image metrics (FID, KID, P&R, classifier score, sharpness), which
    are recorded as skipped with the reason; on image data "modes" is skipped.
  - translation, for image-to-image models (capabilities.image_to_image), whose outputs need an
    input so that unconditional sample metrics cannot exist: the yardstick of
    `genzoo.metrics.translation` (PSNR/SSIM, consistency with the input, diversity of
    `samples_per_input` outputs, FID/KID and classifier accuracy of the outputs when a
    sample-quality metric is asked for, the conditional NLL when "likelihood" is, outputs/s)
    on `test_images` (default `num_samples`) images of the run's test split (filtered by data.classes),
    the task's baseline (bicubic, grey) scored beside the model. It replaces likelihood, sample
    quality, sharpness and latent usage; speed gives translation seconds per output.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genzoo.atomic_file import atomic_write
from genzoo.errors import ConfigError, unknown_choice
from genzoo.metrics.likelihood_result import Likelihood, NllEstimate
from genzoo.metrics.results import EvaluationSections, Modes, QualityFigures, Recognised, SampleQuality, Sharpness, Speed
from genzoo.runs import RunDir, read_metrics

METRICS = ("likelihood", "fid", "kid", "pr", "classifier_score", "recognised", "speed", "sharpness", "latent_usage")
POINT_METRICS = ("modes",)  # 2-D point data (toy2d) only; chosen there automatically (see _choose_point_metrics)
SAMPLE_QUALITY_METRICS = ("fid", "kid", "pr", "classifier_score", "recognised")


def _progress(iterable: Iterable[Any], enabled: bool, **options: Any) -> Iterable[Any]:
    from genzoo.progress import progress_iter

    return progress_iter(iterable, enabled=enabled, **options) if enabled else iterable


def _chunk_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


# ---- likelihood ---------------------------------------------------------------------------
def likelihood_metrics(
    model: Any,
    info: Any,
    images: torch.Tensor,
    labels: torch.Tensor | None,
    *,
    iwae_k: int,
    batch_size: int,
    seed: int,
    progress: bool,
) -> dict[str, Any]:
    """-log p(x) (exact) or its ELBO / IWAE bounds on uint8 test images, nats per image and bits/dim."""
    from genzoo.metrics.iwae import discrete_nll_from_density, likelihood_bounds

    capabilities = model.capabilities
    if not (capabilities.exact_likelihood or capabilities.likelihood_bound):
        names = ", ".join(capabilities.names()) or "none"
        return Likelihood(False, reason=f"model {model.name} has no likelihood (capabilities: {names})").to_dict()
    data_format = model.data_format
    if data_format.levels is not None and getattr(getattr(model, "likelihood", None), "is_density", False):
        return Likelihood(False, reason=(
            f"model {model.name}'s decoder is a density, evaluated on {data_format.levels}-level images without dequantization: "
            "not a likelihood of the images (it can be negative); for a comparable NLL add dequantize to data.preprocess "
            "or use decoder=logistic")).to_dict()
    preprocessor = info.make_preprocessor()
    dims = data_format.dims
    device = model.device
    generator = torch.Generator(device="cpu").manual_seed(seed)  # preprocessing noise
    sample_generator = torch.Generator(device=device).manual_seed(seed)  # importance samples
    conditional = bool(capabilities.label_conditional and labels is not None)
    exact = bool(capabilities.exact_likelihood)
    chunk = int(getattr(model.config, "iwae_chunk", 100) or 100)
    # a bound decodes (batch x chunk) images at once: keep that near 4096 images
    step = batch_size if exact else max(1, min(batch_size, 4096 // max(min(chunk, iwae_k), 1)))
    parts: dict[str, list[torch.Tensor]] = {}
    for start in _progress(range(0, len(images), step), progress, desc="likelihood", unit="batch", total=math.ceil(len(images) / step)):
        x = preprocessor(images[start : start + step], generator=generator).to(device)  # (B, C, H, W)
        y = labels[start : start + step].to(device) if conditional else None
        with torch.no_grad():
            if exact:
                values = {"exact": -model.log_prob(x, y)}
            else:
                bounds = likelihood_bounds(model, x, y, k=iwae_k, chunk=min(chunk, iwae_k), generator=sample_generator)
                values = {"elbo": -bounds["elbo"], "iwae": -bounds["iwae"]}
        for name, value in values.items():
            value = value.double().cpu()
            if data_format.levels is None:  # a density on dequantized data -> comparable discrete nll
                low, high = data_format.value_range
                value = discrete_nll_from_density(value, dims, levels=preprocessor.discrete_levels, value_width=high - low)
            parts.setdefault(name, []).append(value)
    details: dict[str, Any] = {"split": "test", "preprocess": list(info.preprocess), "dims": dims, "conditional_on_labels": conditional,
                               "units": "nats per image (summed over sub-pixels); bits per sub-pixel"}
    if data_format.levels is None:
        details["note"] = "dequantized data: density converted to the discrete nll (+ dims * log(levels)), Theis et al. 2016"
    if not exact:
        details["bound"] = "ELBO <= IWAE(k) <= log p(x): nll values are upper bounds on -log p(x)"
    estimates = {name: _nll_estimate(torch.cat(chunks), dims) for name, chunks in parts.items()}
    return Likelihood(True, kind="exact" if exact else "bound", num_test_images=len(images), iwae_k=None if exact else iwae_k,
                      details=details, **estimates).to_dict()


def _nll_estimate(nll: torch.Tensor, dims: int) -> NllEstimate:
    """Mean, standard error and bits/dim of per-image NLLs (N,) in nats."""
    from genzoo.metrics.iwae import bits_per_dim

    std_error = float(nll.std() / math.sqrt(len(nll))) if len(nll) > 1 else None
    return NllEstimate(float(nll.mean()), std_error, float(bits_per_dim(nll.mean(), dims)))


# ---- sampling -----------------------------------------------------------------------------
def sample_with_timing(model: Any, n: int, *, seed: int, batch_size: int, progress: bool) -> tuple[torch.Tensor, float]:
    """n uint8 samples (n, C, H, W) in chunks of batch_size (chunk i seeded by (seed, i)), and the seconds it took."""
    from genzoo.models.sampling import sample_images

    chunks = []
    starts = range(0, n, batch_size)
    started = time.perf_counter()
    for index, start in enumerate(_progress(starts, progress, desc="sampling", unit="batch", total=len(starts))):
        count = min(batch_size, n - start)
        chunks.append(sample_images(model, count, seed=_chunk_seed(seed, index), batch_size=batch_size))
    if model.device.type == "cuda":
        torch.cuda.synchronize(model.device)
    return torch.cat(chunks), time.perf_counter() - started


def training_throughput(run_dir: Path) -> dict[str, Any]:
    """Training images/s from RUN_DIR/metrics.jsonl (median and last of the train records): Speed's training fields."""
    path = RunDir(run_dir).metrics_log
    records = [r for r in read_metrics(path) if r.get("split") == "train" and isinstance(r.get("images_per_s"), (int, float))]
    if not records:
        return {"training_images_per_s": None, "training_note": f"no train records with images_per_s in {path}"}
    rates = [float(r["images_per_s"]) for r in records]
    return {
        "training_images_per_s": statistics.median(rates),
        "training_images_per_s_last": rates[-1],
        "training_records": len(rates),
        "training_seconds": records[-1].get("time"),
    }


# ---- the run ------------------------------------------------------------------------------
@dataclass(frozen=True)
class EvaluationSettings:
    """What `evaluate_run` measures and on how much data (the fields of `genzoo eval`'s options)."""

    metrics: Sequence[str] = METRICS
    num_samples: int = 10_000
    reference_images: int | None = None
    iwae_k: int = 5000
    test_images: int | None = None
    batch_size: int = 256
    device: str = "auto"
    seed: int = 0
    which: str = "best"
    announce: bool = True
    inception_weights: str | os.PathLike[str] | None = None
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    pr_k: int = 3
    classifier_score_splits: int = 10
    cache: bool = True
    progress: bool = True
    samples_per_input: int = 4


def evaluate_run(
    path: str | os.PathLike[str],
    settings: EvaluationSettings | None = None,
    *,
    feature_extractor: Any = None,
    **options: Any,
) -> dict[str, Any]:
    """Evaluate the run directory or checkpoint `path`; a JSON-serialisable dict (see module docstring).

    settings: what to measure and on how much (`EvaluationSettings`); `options` replace some of its fields,
    e.g. `evaluate_run(run, metrics=("likelihood",), test_images=1000)`;

    reference_images: test images for sample quality (default: num_samples, capped at the split);
    test_images: test images for the likelihood and latent usage (default: the whole split), and for the
        translation yardstick of an image-to-image model (default there: num_samples, capped at the split);
    feature_extractor: a `FeatureExtractor` to use instead of choosing one (`choose_feature_extractor`);
    announce: print which feature extractor is used, and why one is trained, on stderr;
    inception_weights: pytorch-fid's Inception-v3 weights file: use the FID Inception network instead;
    samples_per_input: outputs drawn per test image by an image-to-image model (1 for a deterministic one).
    """
    from genzoo.runs.model import load_model
    from genzoo.runs.device import resolve_device
    from genzoo.runs.test_split import load_test_split

    settings = replace(settings or EvaluationSettings(), **options)

    metrics = tuple(dict.fromkeys(settings.metrics))
    for name in metrics:
        if name not in METRICS + POINT_METRICS:
            raise unknown_choice("metric", name, METRICS + POINT_METRICS)
    if settings.num_samples < 2:
        raise ConfigError(f"the number of samples must be >= 2, got {settings.num_samples}")
    target = resolve_device(settings.device)
    if settings.inception_weights is not None and feature_extractor is None:
        from genzoo.metrics.inception import load_inception_extractor

        feature_extractor = load_inception_extractor(settings.inception_weights, device=target)
    model, info = load_model(path, which=settings.which, device=target)  # type: ignore[arg-type]
    run_dir = Path(path) if Path(path).is_dir() else RunDir.of_checkpoint(info.path).root
    data = info.run_config.data
    dataset_options = dict(data.options)
    result: dict[str, Any] = {
        "run": str(run_dir),
        "checkpoint": str(info.path),
        "model": info.model,
        "step": info.step,
        "capabilities": model.capabilities.names(),
        "dataset": {"name": data.name, "options": dataset_options, "preprocess": list(info.preprocess), "image_shape": list(model.data_format.image_shape)},
        "seed": settings.seed,
        "device": str(model.device),
        "metrics": list(metrics),
    }
    metrics = _choose_point_metrics(result, metrics)  # toy2d: modes instead of image metrics
    if model.capabilities.image_to_image:  # an output needs an input: the translation yardstick replaces the sample metrics
        _translation_sections(
            result, model, info, run_dir, metrics, samples_per_input=settings.samples_per_input, num_images=settings.num_samples if settings.test_images is None else settings.test_images,
            batch_size=settings.batch_size, seed=settings.seed, feature_extractor=feature_extractor, kid_subsets=settings.kid_subsets, kid_subset_size=settings.kid_subset_size,
            progress=settings.progress, device=target, announce=settings.announce,
        )
        result["summary"] = summary_lines(result)
        return _json_ready(result)
    test_set = None
    if "likelihood" in metrics or "sharpness" in metrics or any(name in metrics for name in SAMPLE_QUALITY_METRICS):
        test_set = load_test_split(data, progress=settings.progress)  # data.classes as in training

    if "likelihood" in metrics:
        assert test_set is not None
        count = len(test_set) if settings.test_images is None else min(settings.test_images, len(test_set))
        labels = None if test_set.labels is None else test_set.labels[:count]
        result["likelihood"] = likelihood_metrics(
            model, info, test_set.images[:count], labels, iwae_k=settings.iwae_k, batch_size=settings.batch_size, seed=settings.seed, progress=settings.progress,
        )

    sampling_seconds_per_image = None
    sampled = 0
    samples: torch.Tensor | None = None  # (N, C, H, W) uint8, drawn once and reused for sharpness
    wanted = [name for name in SAMPLE_QUALITY_METRICS if name in metrics]
    if wanted:
        quality, samples, sampling_seconds_per_image = _sample_quality(
            model, info, test_set, wanted, num_samples=settings.num_samples, reference_images=settings.reference_images, batch_size=settings.batch_size,
            seed=settings.seed, feature_extractor=feature_extractor, kid_subsets=settings.kid_subsets, kid_subset_size=settings.kid_subset_size, pr_k=settings.pr_k,
            splits=settings.classifier_score_splits, cache=settings.cache, progress=settings.progress, device=target, announce=settings.announce,
        )
        result["sample_quality"] = quality.to_dict()
        sampled = settings.num_samples if samples is not None else 0

    if "speed" in metrics:
        details: dict[str, Any] = {}
        if sampling_seconds_per_image is None:
            sampled = min(settings.num_samples, settings.batch_size)
            try:
                samples, seconds = sample_with_timing(model, sampled, seed=settings.seed, batch_size=settings.batch_size, progress=False)
                sampling_seconds_per_image = seconds / sampled
            except NotImplementedError as error:
                details["sampling_note"] = str(error)
                sampled = 0
        details["sampling_images_timed"] = sampled
        result["speed"] = _speed(model, run_dir, settings.batch_size, sampling_seconds_per_image, details).to_dict()

    if "sharpness" in metrics:
        assert test_set is not None
        result["sharpness"] = sharpness_metrics(model, info, test_set, samples, num_samples=min(settings.num_samples, settings.batch_size), batch_size=settings.batch_size, seed=settings.seed)
    if "modes" in metrics:
        result["modes"] = modes_metrics(model, result["dataset"], num_samples=settings.num_samples, seed=settings.seed)
        _state_modes_as_sample_quality(result)
    if "latent_usage" in metrics:
        result["latent_usage"] = _latent_usage(model, info, test_set, test_images=settings.test_images, batch_size=settings.batch_size, seed=settings.seed, progress=settings.progress)
    result["summary"] = summary_lines(result)
    return _json_ready(result)


def _translation_sections(
    result: dict[str, Any], model: Any, info: Any, run_dir: Path, metrics: tuple[str, ...], *, samples_per_input: int, num_images: int,
    batch_size: int, seed: int, feature_extractor: Any, kid_subsets: int, kid_subset_size: int, progress: bool, device: torch.device,
    announce: bool,
) -> None:
    """result["translation"] (`genzoo.metrics.translation` on at most `num_images` test images, the baseline beside the model)
    and the speed section, for an image-to-image model. Realism needs a sample-quality metric, the conditional NLL "likelihood"."""
    from genzoo.metrics.translation import evaluate_translation, realism_skip_reason
    from genzoo.runs.test_split import load_test_split

    test_set = load_test_split(info.run_config.data, progress=progress)
    extractor, description = None, None
    note = "realism skipped: no sample-quality metric (fid, kid, pr, classifier_score, recognised) asked for"
    if any(name in metrics for name in SAMPLE_QUALITY_METRICS):
        note = realism_skip_reason(model.task, model.data_format.image_shape, test_set.info.num_classes)
        if note is None:
            extractor, choice = _feature_extractor_for(model, info, feature_extractor, device=device, progress=progress, announce=announce)
            description = {**extractor.describe(), "choice": choice}
    report = evaluate_translation(
        model, info, test_set, samples_per_input=samples_per_input, test_images=num_images, batch_size=batch_size, seed=seed,
        extractor=extractor, extractor_description=description, realism_note=note, likelihood="likelihood" in metrics,
        kid_subsets=kid_subsets, kid_subset_size=kid_subset_size, progress=progress,
    )
    result["translation"] = report.to_dict()
    if "speed" in metrics:
        outputs_per_s = report.model.outputs_per_s
        details = {"sampling_images_timed": report.test_images * report.samples_per_input, "translation_outputs_per_s": outputs_per_s,
                   "sampling_note": "image-to-image model: seconds per output of translate(input)"}
        result["speed"] = _speed(model, run_dir, batch_size, 1.0 / outputs_per_s, details).to_dict()


def _speed(model: Any, run_dir: Path, batch_size: int, seconds_per_image: float | None, details: dict[str, Any]) -> Speed:
    """The speed section: sampling (or translation) seconds per image and the training throughput of metrics.jsonl."""
    training = training_throughput(run_dir)
    images_per_s = training.pop("training_images_per_s")
    return Speed(str(model.device), seconds_per_image, batch_size, images_per_s, {**details, **training})


def _sample_quality(
    model: Any,
    info: Any,
    test_set: Any,
    wanted: list[str],
    *,
    num_samples: int,
    reference_images: int | None,
    batch_size: int,
    seed: int,
    feature_extractor: Any,
    kid_subsets: int,
    kid_subset_size: int,
    pr_k: int,
    splits: int,
    cache: bool,
    progress: bool,
    device: torch.device,
    announce: bool = True,
) -> tuple[SampleQuality, torch.Tensor | None, float | None]:
    """Samples against test images, and other real images against them (the floor), in one extractor's features;
    (the section, the uint8 samples (N, C, H, W), seconds per sample) - None, None when the model cannot sample."""
    from genzoo.metrics.reference import other_real_statistics, reference_statistics, statistics_of_images
    from genzoo.metrics.sample_quality import RECOGNISED_THRESHOLD, classifier_score, recognised_share

    data = info.run_config.data
    extractor, choice_note = _feature_extractor_for(model, info, feature_extractor, device=device, progress=progress, announce=announce)
    try:
        samples, seconds = sample_with_timing(model, num_samples, seed=seed, batch_size=batch_size, progress=progress)
    except NotImplementedError as error:
        return SampleQuality(False, reason=f"model {model.name} cannot sample ({error})"), None, None
    extractor.check_images(samples)
    reference_count = min(reference_images or num_samples, len(test_set))
    real_options = dict(dataset_options=dict(data.options), data_dir=data.data_dir, preprocess=info.preprocess, max_images=reference_count,
                        seed=0, cache=cache, progress=progress)
    reference = reference_statistics(extractor, data.name, "test", **real_options)
    other_real = other_real_statistics(extractor, data.name, **real_options)
    generated = statistics_of_images(extractor, samples, progress=progress)
    figures = dict(seed=seed, kid_subsets=kid_subsets, kid_subset_size=kid_subset_size, pr_k=pr_k)
    recognised = None
    if "recognised" in wanted:
        shares = (recognised_share(stats.class_probs, classes=extractor.num_classes) for stats in (generated, reference, other_real))
        recognised = Recognised(RECOGNISED_THRESHOLD, *shares, measure=(
            f"share of images whose most probable class of the dataset has p(y|x) >= {RECOGNISED_THRESHOLD:g} under the feature classifier"))
    sample_figures = _quality_figures(reference, generated, wanted, **figures)
    if "classifier_score" in wanted:
        parts = min(splits, num_samples, reference.num_images)
        score, test_score = classifier_score(generated.class_probs, splits=parts), classifier_score(reference.class_probs, splits=parts)
        sample_figures = replace(sample_figures, measured=sample_figures.measured + ("classifier_score",), classifier_score={
            "mean": score.mean, "std": score.std, "splits": parts, "test_images_mean": test_score.mean,
            "note": "Inception Score formula on genzoo's dataset classifier; not the Inception Score",
        })
    # The same figures for real images: N test images against N other real images, the floor a perfect model would reach.
    provenance = {
        "sampling_seed": seed,
        "reference": {"split": "test", "preprocess": list(info.preprocess), "subset_seed": 0},
        "real_reference": {"images": other_real.key["images"], "split": "train", "num_images": other_real.num_images,
                           "num_test_images": reference.num_images, "preprocess": list(info.preprocess), "subset_seed": 0},
    }
    quality = SampleQuality(
        True, num_samples=num_samples, samples=sample_figures, real=_quality_figures(reference, other_real, wanted, **figures),
        recognised=recognised, test_images=reference.num_images, feature_total_variance=float(np.trace(reference.sigma)),
        feature_extractor={**extractor.describe(), "choice": choice_note}, details=provenance,
    )
    return quality, samples, seconds / num_samples


def _feature_extractor_for(model: Any, info: Any, given: Any, *, device: torch.device, progress: bool, announce: bool) -> tuple[Any, str]:
    """The feature extractor of the run's dataset (`given`, checked, else `choose_feature_extractor`) and one line saying which."""
    from genzoo.metrics.features import choose_feature_extractor

    data = info.run_config.data
    if given is not None:
        trained_on = getattr(given, "dataset", data.name)  # Inception has no dataset of its own
        if trained_on != data.name:
            from genzoo.metrics.features import FeatureExtractorError

            raise FeatureExtractorError(f"feature extractor {given.identifier} was trained on {trained_on}, the run on {data.name}: "
                                        f"pass one of {data.name} (`genzoo features train --data {data.name}`)")
        return given, f"feature extractor: {given.identifier}, given by the caller"
    choice = choose_feature_extractor(
        data.name, model.data_format.image_shape, data_dir=data.data_dir, dataset_options=dict(data.options), device=device,
        progress=progress, say=_print_notice if announce else None,
    )
    return choice.extractor, choice.note


def _quality_figures(reference: Any, other: Any, wanted: list[str], *, seed: int, kid_subsets: int, kid_subset_size: int, pr_k: int) -> QualityFigures:
    """FID, KID and precision/recall of `other` against the test `reference` (ReferenceStatistics), those in `wanted`."""
    from genzoo.metrics.sample_quality import frechet_distance, kid, precision_recall

    values: dict[str, Any] = {}
    if "fid" in wanted:
        values["fid"] = frechet_distance(reference.mu, reference.sigma, other.mu, other.sigma)
    if "kid" in wanted:
        # Subsets must be a proper part of each set, or every subset is the whole set and the
        # standard error collapses to 0: at most half of the smaller set.
        size = min(kid_subset_size, max(2, min(other.num_images, reference.num_images) // 2))
        value = kid(reference.features, other.features, subsets=kid_subsets, subset_size=size, seed=seed)
        values["kid"] = {"mean": value.mean, "std_error": value.std_error, "subsets": kid_subsets, "subset_size": size}
    if "pr" in wanted:
        pr = precision_recall(reference.features, other.features, k=pr_k)
        values.update(precision=pr.precision, recall=pr.recall, pr_k=pr_k)
    measured = tuple(name for name in ("fid", "kid", "pr") if name in wanted)
    return QualityFigures(measured, **values)


def _print_notice(line: str) -> None:
    """One line on stderr: which feature extractor an evaluation uses, or why it trains one now."""
    import sys

    print(f"genzoo: {line}", file=sys.stderr, flush=True)


def sharpness_metrics(
    model: Any, info: Any, test_set: Any, samples: torch.Tensor | None, *, num_samples: int, batch_size: int, seed: int,
) -> dict[str, Any]:
    """Laplacian variance of uint8 samples (N, C, H, W) (num_samples drawn if None) over that of as many test images."""
    from genzoo.metrics.reference import display_images, subset
    from genzoo.metrics.sharpness import laplacian_variance

    if samples is None:
        try:
            samples, _ = sample_with_timing(model, num_samples, seed=seed, batch_size=batch_size, progress=False)
        except NotImplementedError as error:
            return Sharpness(False, reason=f"model {model.name} cannot sample ({error})").to_dict()
    count = min(len(samples), len(test_set))
    real = test_set.images[subset(len(test_set), count, seed=0)]  # (count, C, H, W) uint8
    real = display_images(real, info.preprocess, source_levels=test_set.info.levels, seed=0)  # as the model sees them
    samples_variance = float(laplacian_variance(samples).mean())
    test_variance = float(laplacian_variance(real).mean())
    if test_variance <= 0.0:
        return Sharpness(False, reason="the test images have no detail (Laplacian variance 0)").to_dict()
    details = {"samples_laplacian_variance": samples_variance, "test_laplacian_variance": test_variance, "preprocess": list(info.preprocess),
               "measure": "variance of the 3x3 Laplacian per image, pixels in [0, 1], mean over images; ratio samples / test (< 1: blurrier)"}
    return Sharpness(True, ratio=samples_variance / test_variance, num_samples=len(samples), num_test_images=count, details=details).to_dict()


def likelihood_line(likelihood: Likelihood) -> str:
    """The likelihood line of `summary_lines` (N test images stated; "n/a" for a figure stored as null)."""
    if not likelihood.available:
        return f"likelihood: {likelihood.reason}"
    n = likelihood.num_test_images
    if likelihood.kind == "exact":
        return f"NLL {_figure(likelihood.exact.nats, '.2f')} nats = {_figure(likelihood.exact.bits_per_dim, '.4f')} bits/dim (exact, N={n} test images)"
    iwae, elbo = likelihood.iwae, likelihood.elbo
    return (f"NLL <= {_figure(iwae.nats, '.2f')} nats = {_figure(iwae.bits_per_dim, '.4f')} bits/dim (IWAE k={likelihood.iwae_k}), "
            f"ELBO bound {_figure(elbo.nats, '.2f')} nats = {_figure(elbo.bits_per_dim, '.4f')} bits/dim (N={n} test images)")


def _figure(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def speed_line(speed: Speed) -> str:
    sampling, training = speed.sampling_seconds_per_image, speed.training_images_per_s
    what = "translation" if speed.translating else "sampling"
    return ("speed: " + (f"{what} {sampling * 1000:.3f} ms/image (batch {speed.sampling_batch_size}, {speed.device})" if sampling is not None else "sampling n/a")
            + (f", training {training:.0f} images/s" if training is not None else ", training n/a"))


def sharpness_line(sharpness: Sharpness) -> str:
    if not sharpness.available:
        return f"sharpness: {sharpness.reason}"
    return (f"sharpness: {_figure(sharpness.ratio, '.3f')} x the test images' (variance of the Laplacian, N={sharpness.num_samples} samples "
            f"vs {sharpness.num_test_images} test images)")


def summary_lines(result: dict[str, Any]) -> list[str]:
    """Human-readable lines for the CLI, each naming N and the feature extractor where relevant."""
    lines = [f"{result['model']} at step {result['step']} ({result['checkpoint']})"]
    likelihood = Likelihood.from_dict(result.get("likelihood"))
    if likelihood is not None:
        lines.append(likelihood_line(likelihood))
    sections = EvaluationSections.of(result)
    if sections.sample_quality is not None:
        lines += sample_quality_lines(sections.sample_quality)
    translation = result.get("translation")
    if translation:
        from genzoo.metrics.translation import translation_lines

        lines += translation_lines(translation)
    if sections.modes is not None:
        lines.append(modes_line(sections.modes))
    if sections.speed is not None:
        lines.append(speed_line(sections.speed))
    usage = result.get("latent_usage")
    if usage and usage["available"]:  # models without an encoder: recorded in the JSON, not printed
        from genzoo.metrics.latent_usage import usage_line

        lines.append(usage_line(usage))
    if sections.sharpness is not None:
        lines.append(sharpness_line(sections.sharpness))
    return lines


# ---- 2-D point data (toy2d): mode coverage instead of image metrics -------------------------
IMAGE_METRICS = SAMPLE_QUALITY_METRICS + ("sharpness",)
POINT_DATA_REASON = "skipped: toy2d samples are 2-D points, not images"


# ---- latent usage: active units and KL per dimension (genzoo.metrics.latent_usage) ------------
def _latent_usage(model: Any, info: Any, test_set: Any, *, test_images: int | None, batch_size: int, seed: int, progress: bool) -> dict[str, Any]:
    """Active units and KL per latent dimension over the first `test_images` test images (default all); encoder models only."""
    from genzoo.metrics.latent_usage import latent_usage_metrics
    from genzoo.runs.test_split import load_test_split

    if not model.capabilities.encoder:
        return {"available": False, "reason": f"model {model.name} has no encoder"}
    if test_set is None:
        test_set = load_test_split(info.run_config.data, progress=progress)
    count = len(test_set) if test_images is None else min(test_images, len(test_set))
    labels = None if test_set.labels is None else test_set.labels[:count]
    return latent_usage_metrics(model, info, test_set.images[:count], labels, batch_size=batch_size, seed=seed)


def _choose_point_metrics(result: dict[str, Any], metrics: tuple[str, ...]) -> tuple[str, ...]:
    """The metrics to compute for result["dataset"]: on toy2d points the image metrics are recorded
    as skipped and "modes" stands in for them; elsewhere "modes" is recorded as skipped."""
    from genzoo.data.toy2d import point_mixture

    dataset = result["dataset"]
    if point_mixture(dataset["name"], dataset["options"]) is None:
        if "modes" in metrics:
            result["modes"] = Modes(False, reason=f"skipped: modes needs toy2d points, dataset is {dataset['name']}").to_dict()
        kept = tuple(name for name in metrics if name != "modes")
    else:
        image = [name for name in metrics if name in IMAGE_METRICS]
        if any(name in SAMPLE_QUALITY_METRICS for name in image):
            result["sample_quality"] = SampleQuality(False, reason=POINT_DATA_REASON).to_dict()
        if "sharpness" in image:
            result["sharpness"] = Sharpness(False, reason=POINT_DATA_REASON).to_dict()
        kept = tuple(name for name in metrics if name not in IMAGE_METRICS)
        if image and "modes" not in kept:
            kept += ("modes",)
    result["metrics"] = list(kept)
    return kept


def modes_metrics(model: Any, dataset: dict[str, Any], *, num_samples: int, seed: int) -> dict[str, Any]:
    """Modes covered and high-quality share of num_samples seeded samples of a model of toy2d points."""
    from genzoo.data.toy2d import mixture_modes, point_mixture
    from genzoo.metrics.modes import MIN_SHARE, QUALITY_STDS, mode_statistics, sample_points, samples_needed_per_mode

    mixture = point_mixture(dataset["name"], dataset["options"])
    try:
        points = sample_points(model, mixture, num_samples, seed=seed)  # (N, 2)
    except NotImplementedError as error:
        return Modes(False, reason=f"model {model.name} cannot sample ({error})").to_dict()
    centres, std = mixture_modes(mixture)
    stats = mode_statistics(points, centres, std)
    details = {
        "counts": list(stats.counts), "mixture": mixture, "sampling_seed": seed, "quality_stds": QUALITY_STDS,
        "quality_radius": QUALITY_STDS * std, "samples_needed_per_mode": samples_needed_per_mode(stats),
        "criteria": f"high quality: within {QUALITY_STDS:g} std of a mode centre; covered: >= {MIN_SHARE:g} of the expected N/K high-quality samples",
    }
    return Modes(True, None, stats.modes_covered, stats.num_modes, stats.high_quality_fraction, stats.num_samples, details).to_dict()


def _state_modes_as_sample_quality(result: dict[str, Any]) -> None:
    """Where FID & co were skipped for points, their reason carries the mode figures, so tables
    that show sample quality (the report's properties) show what was measured instead."""
    quality, modes = result.get("sample_quality"), result["modes"]
    if quality and quality.get("reason") == POINT_DATA_REASON and modes["available"]:
        quality["reason"] = (
            f"{modes['modes_covered']} of {modes['num_modes']} modes covered, high-quality share "
            f"{modes['high_quality_fraction']:.2f} (N={modes['num_samples']}); FID/KID/P&R skipped: toy2d points are not images"
        )


def modes_line(modes: Modes) -> str:
    """The modes line of `summary_lines`."""
    if not modes.available:
        return f"modes: {modes.reason}"
    details = modes.details
    return (f"modes covered: {modes.modes_covered} of {modes.num_modes} ({details['mixture']}), high-quality share "
            f"{modes.high_quality_fraction:.3f} [N={modes.num_samples} samples; high quality: within "
            f"{details['quality_radius']:g} = {details['quality_stds']:g} std of a mode centre; a mode is covered with "
            f">= {details['samples_needed_per_mode']} of them]")


def sample_quality_lines(quality: SampleQuality) -> list[str]:
    """The sample-quality lines of `summary_lines`: samples vs test images, then real images vs test images (the floor)."""
    if not quality.available:
        return [f"sample quality: {quality.reason}"]
    extractor = quality.feature_extractor
    accuracy = extractor.get("test_accuracy")
    features = f"features {extractor['id']}" + (f" (test accuracy {accuracy:.3f})" if accuracy is not None else "")
    lines = [", ".join(_quality_values(quality.samples)) + f" [N={quality.num_samples} samples vs {quality.test_images} test images, {features}]"]
    recognised = quality.recognised
    if recognised is not None:
        lines.append(
            f"recognised (classifier confidence >= {recognised.threshold:g}): samples {_figure(recognised.samples, '.1%')}, "
            f"test images {_figure(recognised.test_images, '.1%')}, other real images {_figure(recognised.other_real_images, '.1%')}"
        )
    values = _quality_values(quality.real)
    if values:
        real = quality.details.get("real_reference", {})
        lines.append(f"real images for comparison: {', '.join(values)} [N={real.get('num_images')} {real.get('images')} vs "
                     f"{real.get('num_test_images')} test images]")
    return lines


def _quality_values(figures: QualityFigures) -> list[str]:
    values = []
    if "fid" in figures.measured:
        values.append(f"FID {_figure(figures.fid, '.3f')}")
    if "kid" in figures.measured:
        values.append(f"KID {figures.kid['mean']:.5f} +- {figures.kid['std_error']:.5f}")
    if "pr" in figures.measured:
        values.append(f"precision {_figure(figures.precision, '.3f')} recall {_figure(figures.recall, '.3f')} (k={figures.pr_k})")
    if "classifier_score" in figures.measured:
        score = figures.classifier_score
        values.append(f"classifier score {score['mean']:.3f} (test images {score['test_images_mean']:.3f})")
    return values


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return _json_ready(value.item())
    if isinstance(value, Path):
        return str(value)
    return value


def write_metrics_json(result: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write `result` as indented JSON (NaN/inf as null), atomically."""
    return atomic_write(path, json.dumps(_json_ready(result), indent=2, allow_nan=False) + "\n")
