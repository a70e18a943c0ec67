"""Evaluate a trained run: likelihood, sample quality, speed, as one JSON-ready dict.

    evaluate_run("runs/vae", metrics=("likelihood", "fid"), num_samples=10_000) -> dict
    write_metrics_json(result, "runs/vae/eval.json")

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
    precision/recall (k = 3) and the classifier score, all in the feature space of
    genzoo's per-dataset classifier, whose id and test accuracy are recorded with both N.
  - speed: sampling seconds per image (batch size and device stated) and the training
    throughput (images/s, median of the train records of RUN_DIR/metrics.jsonl).
  - sharpness: the variance of the Laplacian of the samples over that of as many test images
    shown through the run's preprocessing (`genzoo.metrics.sharpness`; < 1: blurrier), both N
    stated. It reuses the samples drawn for sample quality or speed, else draws
    min(num_samples, batch_size).
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genzoo.errors import ConfigError, unknown_choice

METRICS = ("likelihood", "fid", "kid", "pr", "classifier_score", "speed", "sharpness")
SAMPLE_QUALITY_METRICS = ("fid", "kid", "pr", "classifier_score")


def _progress(iterable: Iterable[Any], enabled: bool, **options: Any) -> Iterable[Any]:
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, leave=False, **options)


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
    from genzoo.metrics.iwae import bits_per_dim, discrete_nll_from_density, likelihood_bounds

    capabilities = model.capabilities
    if not (capabilities.exact_likelihood or capabilities.likelihood_bound):
        names = ", ".join(capabilities.names()) or "none"
        return {"available": False, "reason": f"model {model.name} has no likelihood (capabilities: {names})"}
    preprocessor = info.make_preprocessor()
    data_format = model.data_format
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
                values = {"nll": -model.log_prob(x, y)}
            else:
                bounds = likelihood_bounds(model, x, y, k=iwae_k, chunk=min(chunk, iwae_k), generator=sample_generator)
                values = {"nll_elbo": -bounds["elbo"], "nll_iwae": -bounds["iwae"]}
        for name, value in values.items():
            value = value.double().cpu()
            if data_format.levels is None:  # a density on dequantized data -> comparable discrete nll
                low, high = data_format.value_range
                value = discrete_nll_from_density(value, dims, levels=preprocessor.discrete_levels, value_width=high - low)
            parts.setdefault(name, []).append(value)
    result: dict[str, Any] = {
        "available": True,
        "kind": "exact" if exact else "bound",
        "num_test_images": len(images),
        "split": "test",
        "preprocess": list(info.preprocess),
        "dims": dims,
        "conditional_on_labels": conditional,
        "units": "nats per image (summed over sub-pixels); bits per sub-pixel",
    }
    if data_format.levels is None:
        result["note"] = "dequantized data: density converted to the discrete nll (+ dims * log(levels)), Theis et al. 2016"
    for name, chunks in parts.items():
        nll = torch.cat(chunks)
        result[f"{name}_nats"] = float(nll.mean())
        result[f"{name}_nats_std_error"] = float(nll.std() / math.sqrt(len(nll))) if len(nll) > 1 else None
        result[f"{name.replace('nll', 'bits_per_dim')}"] = float(bits_per_dim(nll.mean(), dims))
    if not exact:
        result["iwae_k"] = iwae_k
        result["bound"] = "ELBO <= IWAE(k) <= log p(x): nll values are upper bounds on -log p(x)"
    return result


# ---- sampling -----------------------------------------------------------------------------
def sample_with_timing(model: Any, n: int, *, seed: int, batch_size: int, progress: bool) -> tuple[torch.Tensor, float]:
    """n uint8 samples (n, C, H, W) in chunks of batch_size (chunk i seeded by (seed, i)), and the seconds it took."""
    from genzoo.explore.sampling import sample_images

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
    """Training images/s from RUN_DIR/metrics.jsonl (median and last of the train records)."""
    from genzoo.train.logging import read_metrics

    path = run_dir / "metrics.jsonl"
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
def evaluate_run(
    path: str | os.PathLike[str],
    *,
    metrics: Sequence[str] = METRICS,
    num_samples: int = 10_000,
    reference_images: int | None = None,
    iwae_k: int = 5000,
    test_images: int | None = None,
    batch_size: int = 256,
    device: str = "auto",
    seed: int = 0,
    which: str = "best",
    feature_extractor: Any = None,
    inception_weights: str | os.PathLike[str] | None = None,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    pr_k: int = 3,
    classifier_score_splits: int = 10,
    cache: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate the run directory or checkpoint `path`; a JSON-serialisable dict (see module docstring).

    reference_images: test images for sample quality (default: num_samples, capped at the split);
    test_images: test images for the likelihood (default: the whole split);
    feature_extractor: a `FeatureExtractor` to use instead of the cached default of the dataset;
    inception_weights: pytorch-fid's Inception-v3 weights file: use the FID Inception network instead.
    """
    from genzoo.data import load_dataset
    from genzoo.train import load_model, run_dir_of
    from genzoo.train.device import resolve_device

    metrics = tuple(dict.fromkeys(metrics))
    for name in metrics:
        if name not in METRICS:
            raise unknown_choice("metric", name, METRICS)
    if num_samples < 2:
        raise ConfigError(f"the number of samples must be >= 2, got {num_samples}")
    target = resolve_device(device)
    if inception_weights is not None and feature_extractor is None:
        from genzoo.metrics.inception import load_inception_extractor

        feature_extractor = load_inception_extractor(inception_weights, device=target)
    model, info = load_model(path, which=which, device=target)  # type: ignore[arg-type]
    run_dir = Path(path) if Path(path).is_dir() else run_dir_of(info.path)
    data = info.run_config.data
    dataset_options = dict(data.options)
    result: dict[str, Any] = {
        "run": str(run_dir),
        "checkpoint": str(info.path),
        "model": info.model,
        "step": info.step,
        "capabilities": model.capabilities.names(),
        "dataset": {"name": data.name, "options": dataset_options, "preprocess": list(info.preprocess), "image_shape": list(model.data_format.image_shape)},
        "seed": seed,
        "device": str(model.device),
        "metrics": list(metrics),
    }
    test_set = None
    if "likelihood" in metrics or "sharpness" in metrics or any(name in metrics for name in SAMPLE_QUALITY_METRICS):
        test_set = load_dataset(data.name, "test", data_dir=data.data_dir, download=data.download, progress=progress, **dataset_options)

    if "likelihood" in metrics:
        assert test_set is not None
        count = len(test_set) if test_images is None else min(test_images, len(test_set))
        labels = None if test_set.labels is None else test_set.labels[:count]
        result["likelihood"] = likelihood_metrics(
            model, info, test_set.images[:count], labels, iwae_k=iwae_k, batch_size=batch_size, seed=seed, progress=progress,
        )

    sampling_seconds_per_image = None
    sampled = 0
    samples: torch.Tensor | None = None  # (N, C, H, W) uint8, drawn once and reused for sharpness
    wanted = [name for name in SAMPLE_QUALITY_METRICS if name in metrics]
    if wanted:
        result["sample_quality"] = _sample_quality(
            model, info, test_set, wanted, num_samples=num_samples, reference_images=reference_images, batch_size=batch_size,
            seed=seed, feature_extractor=feature_extractor, kid_subsets=kid_subsets, kid_subset_size=kid_subset_size, pr_k=pr_k,
            splits=classifier_score_splits, cache=cache, progress=progress, device=target,
        )
        sampling_seconds_per_image = result["sample_quality"].pop("_seconds_per_image", None)
        samples = result["sample_quality"].pop("_samples", None)
        sampled = num_samples

    if "speed" in metrics:
        speed: dict[str, Any] = {"device": str(model.device), "sampling_batch_size": batch_size}
        if sampling_seconds_per_image is None:
            sampled = min(num_samples, batch_size)
            try:
                samples, seconds = sample_with_timing(model, sampled, seed=seed, batch_size=batch_size, progress=False)
                sampling_seconds_per_image = seconds / sampled
            except NotImplementedError as error:
                speed["sampling_note"] = str(error)
                sampled = 0
        speed["sampling_seconds_per_image"] = sampling_seconds_per_image
        speed["sampling_images_timed"] = sampled
        speed.update(training_throughput(run_dir))
        result["speed"] = speed

    if "sharpness" in metrics:
        assert test_set is not None
        result["sharpness"] = sharpness_metrics(model, info, test_set, samples, num_samples=min(num_samples, batch_size), batch_size=batch_size, seed=seed)
    result["summary"] = summary_lines(result)
    return _json_ready(result)


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
) -> dict[str, Any]:
    from genzoo.metrics.features import load_feature_extractor
    from genzoo.metrics.reference import reference_statistics, statistics_of_images
    from genzoo.metrics.sample_quality import classifier_score, frechet_distance, kid, precision_recall

    data = info.run_config.data
    extractor = feature_extractor or load_feature_extractor(
        data.name, model.data_format.image_shape, data_dir=data.data_dir, dataset_options=dict(data.options), device=device, progress=progress,
    )
    try:
        samples, seconds = sample_with_timing(model, num_samples, seed=seed, batch_size=batch_size, progress=progress)
    except NotImplementedError as error:
        return {"available": False, "reason": f"model {model.name} cannot sample ({error})"}
    extractor.check_images(samples)
    reference_count = min(reference_images or num_samples, len(test_set))
    reference = reference_statistics(
        extractor, data.name, "test", dataset_options=dict(data.options), data_dir=data.data_dir, preprocess=info.preprocess,
        max_images=reference_count, seed=0, cache=cache, progress=progress,
    )
    generated = statistics_of_images(extractor, samples, progress=progress)
    out: dict[str, Any] = {
        "available": True,
        "num_samples": num_samples,
        "sampling_seed": seed,
        "reference": {"split": "test", "num_images": reference.num_images, "preprocess": list(info.preprocess), "subset_seed": 0},
        "feature_extractor": extractor.describe(),
    }
    if "fid" in wanted:
        out["fid"] = frechet_distance(reference.mu, reference.sigma, generated.mu, generated.sigma)
    if "kid" in wanted:
        # Subsets must be a proper part of each set, or every subset is the whole set and the
        # standard error collapses to 0: at most half of the smaller set.
        size = min(kid_subset_size, max(2, min(num_samples, reference.num_images) // 2))
        value = kid(reference.features, generated.features, subsets=kid_subsets, subset_size=size, seed=seed)
        out["kid"] = {"mean": value.mean, "std_error": value.std_error, "subsets": kid_subsets, "subset_size": size}
    if "pr" in wanted:
        pr = precision_recall(reference.features, generated.features, k=pr_k)
        out["precision"], out["recall"], out["pr_k"] = pr.precision, pr.recall, pr_k
    if "classifier_score" in wanted:
        parts = min(splits, num_samples, reference.num_images)
        score = classifier_score(generated.class_probs, splits=parts)
        real = classifier_score(reference.class_probs, splits=parts)
        out["classifier_score"] = {
            "mean": score.mean, "std": score.std, "splits": parts, "test_images_mean": real.mean,
            "note": "Inception Score formula on genzoo's dataset classifier; not the Inception Score",
        }
    out["_seconds_per_image"] = seconds / num_samples
    out["_samples"] = samples
    return out


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
            return {"available": False, "reason": f"model {model.name} cannot sample ({error})"}
    count = min(len(samples), len(test_set))
    real = test_set.images[subset(len(test_set), count, seed=0)]  # (count, C, H, W) uint8
    real = display_images(real, info.preprocess, source_levels=test_set.info.levels, seed=0)  # as the model sees them
    samples_variance = float(laplacian_variance(samples).mean())
    test_variance = float(laplacian_variance(real).mean())
    if test_variance <= 0.0:
        return {"available": False, "reason": "the test images have no detail (Laplacian variance 0)"}
    return {
        "available": True,
        "ratio": samples_variance / test_variance,
        "samples_laplacian_variance": samples_variance,
        "test_laplacian_variance": test_variance,
        "num_samples": len(samples),
        "num_test_images": count,
        "preprocess": list(info.preprocess),
        "measure": "variance of the 3x3 Laplacian per image, pixels in [0, 1], mean over images; ratio samples / test (< 1: blurrier)",
    }


def summary_lines(result: dict[str, Any]) -> list[str]:
    """Human-readable lines for the CLI, each naming N and the feature extractor where relevant."""
    lines = [f"{result['model']} at step {result['step']} ({result['checkpoint']})"]
    likelihood = result.get("likelihood")
    if likelihood:
        if not likelihood["available"]:
            lines.append(f"likelihood: {likelihood['reason']}")
        elif likelihood["kind"] == "exact":
            lines.append(f"NLL {likelihood['nll_nats']:.2f} nats = {likelihood['bits_per_dim']:.4f} bits/dim (exact, N={likelihood['num_test_images']} test images)")
        else:
            lines.append(
                f"NLL <= {likelihood['nll_iwae_nats']:.2f} nats = {likelihood['bits_per_dim_iwae']:.4f} bits/dim (IWAE k={likelihood['iwae_k']}), "
                f"ELBO bound {likelihood['nll_elbo_nats']:.2f} nats = {likelihood['bits_per_dim_elbo']:.4f} bits/dim (N={likelihood['num_test_images']} test images)"
            )
    quality = result.get("sample_quality")
    if quality:
        if not quality["available"]:
            lines.append(f"sample quality: {quality['reason']}")
        else:
            extractor = quality["feature_extractor"]
            accuracy = extractor.get("test_accuracy")
            where = (
                f"N={quality['num_samples']} samples vs {quality['reference']['num_images']} test images, "
                f"features {extractor['id']}" + (f" (test accuracy {accuracy:.3f})" if accuracy is not None else "")
            )
            values = []
            if "fid" in quality:
                values.append(f"FID {quality['fid']:.3f}")
            if "kid" in quality:
                values.append(f"KID {quality['kid']['mean']:.5f} +- {quality['kid']['std_error']:.5f}")
            if "precision" in quality:
                values.append(f"precision {quality['precision']:.3f} recall {quality['recall']:.3f} (k={quality['pr_k']})")
            if "classifier_score" in quality:
                score = quality["classifier_score"]
                values.append(f"classifier score {score['mean']:.3f} (test images {score['test_images_mean']:.3f})")
            lines.append(", ".join(values) + f" [{where}]")
    speed = result.get("speed")
    if speed:
        sampling = speed.get("sampling_seconds_per_image")
        training = speed.get("training_images_per_s")
        lines.append(
            "speed: "
            + (f"sampling {sampling * 1000:.3f} ms/image (batch {speed['sampling_batch_size']}, {speed['device']})" if sampling is not None else "sampling n/a")
            + (f", training {training:.0f} images/s" if training is not None else ", training n/a")
        )
    sharpness = result.get("sharpness")
    if sharpness:
        lines.append(
            f"sharpness: {sharpness['ratio']:.3f} x the test images' (variance of the Laplacian, N={sharpness['num_samples']} samples "
            f"vs {sharpness['num_test_images']} test images)" if sharpness["available"] else f"sharpness: {sharpness['reason']}"
        )
    return lines


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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temporary.write_text(json.dumps(_json_ready(result), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    return path
