"""evaluate_run on tiny runs trained for a few steps on `shapes`: keys, values, N and extractor stated."""

from __future__ import annotations

import json
import math

import pytest
import torch

from genzoo.data import load_dataset
from genzoo.errors import ConfigError
from genzoo.metrics.results import EvaluationSections
from genzoo.metrics.evaluate import evaluate_run, sample_with_timing, write_metrics_json
from genzoo.metrics import features as features_module
from genzoo.metrics.features import FeatureTraining, holdout_indices, train_feature_classifier
from genzoo.metrics.reference import HELD_OUT, reference_statistics
from genzoo.metrics.sample_quality import frechet_distance, gaussian_statistics, recognised_share
from genzoo.train import load_model, train
from genzoo.runs.config import DataConfig, RunConfig, TrainConfig

TINY_DATA = {"n_train": 64, "n_test": 40, "channels": 1, "size": 28}  # the feature classifier holds out 64 // 5 = 12 train images
TINY_NET = {"widths": (4, 8), "convs_per_block": 1, "feature_dim": 8}
QUIET = {"progress": False, "sample_count": 4, "log_every": 2, "eval_every": 0, "sample_every": 0, "checkpoint_every": 0, "batch_size": 8}


def tiny_run(root, model, options, preprocess=None, steps=4):
    config = RunConfig(
        model=model, model_options=dict(options),
        data=DataConfig(name="shapes", preprocess=preprocess, options=dict(TINY_DATA)),
        train=TrainConfig(steps=steps, **QUIET),
    )
    train(config, root / model)
    return root / model


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return {
        "ae": tiny_run(root, "ae", {"channels": 4, "latent_dim": 4, "downsamples": 2}),
        "vae": tiny_run(root, "vae", {"channels": 4, "latent_dim": 4}, preprocess=("binarize-static",)),
    }


@pytest.fixture(scope="module")
def extractor():
    return train_feature_classifier(
        "shapes", dataset_options=TINY_DATA, architecture=TINY_NET, training=FeatureTraining(epochs=2, batch_size=32), cache=False, progress=False,
    )


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_sample_quality_of_an_ae_run_states_n_and_the_extractor(runs, extractor, tmp_path):
    result = evaluate_run(runs["ae"], num_samples=48, batch_size=16, feature_extractor=extractor, progress=False)
    assert set(result) >= {"run", "checkpoint", "model", "step", "dataset", "likelihood", "sample_quality", "speed", "summary"}
    assert result["model"] == "ae" and result["step"] == 4
    assert result["likelihood"]["available"] is False and "no likelihood" in result["likelihood"]["reason"]

    quality = result["sample_quality"]
    assert quality["num_samples"] == 48 and quality["reference"]["num_images"] == 40  # capped at the test split
    assert quality["feature_extractor"]["id"] == extractor.identifier and quality["feature_extractor"]["feature_dim"] == 8
    assert math.isfinite(quality["fid"]) and quality["fid"] > 0
    assert math.isfinite(quality["kid"]["mean"]) and quality["kid"]["std_error"] > 0 and quality["kid"]["subset_size"] == 20  # half the smaller set
    assert 0 <= quality["precision"] <= 1 and 0 <= quality["recall"] <= 1 and quality["pr_k"] == 3
    assert 1 <= quality["classifier_score"]["mean"] <= 6 and 1 <= quality["classifier_score"]["test_images_mean"] <= 6  # 5 classes + outlier
    assert quality["feature_extractor"]["choice"].endswith("given by the caller")

    speed = result["speed"]
    assert speed["sampling_seconds_per_image"] > 0 and speed["sampling_images_timed"] == 48
    assert speed["training_images_per_s"] > 0 and speed["training_records"] == 2  # log_every=2 over 4 steps
    assert any("N=48 samples vs 40 test images" in line and extractor.identifier in line for line in result["summary"])

    # the FID is that of the run's samples against the test split, recomputed here by hand
    model, info = load_model(runs["ae"])
    samples, _ = sample_with_timing(model, 48, seed=0, batch_size=16, progress=False)
    reference = reference_statistics(extractor, "shapes", "test", dataset_options=TINY_DATA, max_images=40, progress=False)
    expected = frechet_distance(reference.mu, reference.sigma, *gaussian_statistics(extractor.features(samples)))
    assert quality["fid"] == pytest.approx(expected, rel=1e-9)
    real = load_dataset("shapes", "test", **TINY_DATA).images
    assert frechet_distance(*gaussian_statistics(extractor.features(real)), reference.mu, reference.sigma) == pytest.approx(0.0, abs=1e-8)
    assert quality["reference"]["feature_total_variance"] == pytest.approx(float(reference.sigma.trace()), rel=1e-9)

    # the same figures for real images: the 12 held-out train images against the same 40 test images
    floor = quality["real_reference"]
    assert floor["images"] == HELD_OUT and floor["num_images"] == 12 and floor["num_test_images"] == 40
    held_out = load_dataset("shapes", "train", **TINY_DATA).images[holdout_indices(64, 12, seed=0)]
    held_out_features, held_out_probs = extractor.extract(held_out)
    assert floor["fid"] == pytest.approx(frechet_distance(reference.mu, reference.sigma, *gaussian_statistics(held_out_features)), rel=1e-6)
    assert 0 <= floor["precision"] <= 1 and 0 <= floor["recall"] <= 1 and floor["kid"]["subset_size"] == 6  # half of the 12
    recognised = quality["recognised"]
    assert recognised["threshold"] == 0.9
    assert recognised["samples"] == recognised_share(extractor.class_probs(samples), classes=5)
    assert recognised["test_images"] == recognised_share(reference.class_probs, classes=5)
    assert recognised["other_real_images"] == recognised_share(held_out_probs, classes=5)
    assert any(line.startswith("recognised (classifier confidence >= 0.9): samples ") for line in result["summary"])
    assert any(line.startswith("real images for comparison: FID ") and "N=12 training images held out" in line for line in result["summary"])

    path = write_metrics_json(result, tmp_path / "out" / "metrics.json")
    assert json.loads(path.read_text()) == json.loads(json.dumps(result, allow_nan=False))
    # the typed sections read back exactly what was written, and name the same figures
    typed = EvaluationSections.of(json.loads(path.read_text()))
    assert typed.sample_quality.to_dict() == result["sample_quality"] and typed.speed.to_dict() == result["speed"]
    assert typed.likelihood.to_dict() == result["likelihood"] and typed.sharpness.to_dict() == result["sharpness"] and typed.modes is None
    assert typed.sample_quality.samples.fid == quality["fid"] and typed.sample_quality.real.measured == ("fid", "kid", "pr")
    share = typed.sample_quality.recognised
    assert share.relative == (recognised["samples"] / recognised["test_images"] if recognised["test_images"] else None)

    again = evaluate_run(runs["ae"], metrics=("fid",), num_samples=48, batch_size=16, feature_extractor=extractor, progress=False)
    other_seed = evaluate_run(runs["ae"], metrics=("fid",), num_samples=48, batch_size=16, feature_extractor=extractor, seed=1, progress=False)
    assert again["sample_quality"]["fid"] == quality["fid"] != other_seed["sample_quality"]["fid"]
    assert set(again) >= {"sample_quality"} and "likelihood" not in again and "speed" not in again


def test_vae_run_reports_elbo_and_iwae_bounds(runs):
    result = evaluate_run(runs["vae"], metrics=("likelihood", "speed"), iwae_k=8, test_images=16, batch_size=8, progress=False)
    likelihood = result["likelihood"]
    assert likelihood["available"] and likelihood["kind"] == "bound" and likelihood["iwae_k"] == 8
    assert likelihood["num_test_images"] == 16 and likelihood["preprocess"] == ["binarize-static"]
    assert 0 < likelihood["nll_iwae_nats"] <= likelihood["nll_elbo_nats"]  # same samples: IWAE >= ELBO per image
    assert likelihood["bits_per_dim_iwae"] == pytest.approx(likelihood["nll_iwae_nats"] / (784 * math.log(2)))
    assert likelihood["bits_per_dim_elbo"] == pytest.approx(likelihood["nll_elbo_nats"] / (784 * math.log(2)))
    assert "sample_quality" not in result
    assert result["speed"]["sampling_images_timed"] == 8 and result["speed"]["sampling_seconds_per_image"] > 0
    assert any("IWAE k=8" in line and "N=16 test images" in line for line in result["summary"])


def test_a_density_decoder_on_discrete_images_gets_no_likelihood_and_says_why(tmp_path):
    """A Gaussian decoder on 256-level images without dequantization: its density can exceed 1 (a negative "NLL");
    it is no likelihood of the images and must not be reported as a bound."""
    run = tiny_run(tmp_path, "vae", {"channels": 4, "latent_dim": 4, "decoder": "gaussian", "gaussian_variance": "fixed",
                                     "gaussian_std": 0.01}, preprocess=())
    likelihood = evaluate_run(run, metrics=("likelihood",), iwae_k=4, test_images=8, batch_size=8, progress=False)["likelihood"]
    assert likelihood["available"] is False and "without dequantization" in likelihood["reason"] and "dequantize" in likelihood["reason"]
    dequantized = tiny_run(tmp_path / "d", "vae", {"channels": 4, "latent_dim": 4, "decoder": "gaussian"}, preprocess=("dequantize",))
    bound = evaluate_run(dequantized, metrics=("likelihood",), iwae_k=4, test_images=8, batch_size=8, progress=False)["likelihood"]
    assert bound["available"] and bound["nll_iwae_nats"] > 0  # the density converted to the discrete NLL (Theis et al. 2016)


def test_exact_likelihood_is_the_models_log_prob(tmp_path):
    run = tiny_run(tmp_path, "pixelcnn", {"hidden": 8, "residual_blocks": 1, "output_hidden": 8}, preprocess=("binarize-static",), steps=2)
    result = evaluate_run(run, metrics=("likelihood",), test_images=12, batch_size=16, progress=False)
    likelihood = result["likelihood"]
    assert likelihood["kind"] == "exact" and likelihood["num_test_images"] == 12
    model, info = load_model(run)
    x = info.make_preprocessor()(load_dataset("shapes", "test", **TINY_DATA).images[:12])  # static binarization: no randomness
    with torch.no_grad():
        expected = -model.log_prob(x).double().mean().item()
    assert likelihood["nll_nats"] == pytest.approx(expected, rel=1e-6)
    assert likelihood["bits_per_dim"] == pytest.approx(expected / (784 * math.log(2)), rel=1e-6)


def test_default_extractor_is_trained_and_cached_and_announced_first(runs, tmp_path, capsys):
    result = evaluate_run(runs["ae"], metrics=("fid", "kid"), num_samples=32, batch_size=16, progress=False)
    described = result["sample_quality"]["feature_extractor"]
    (line,) = [line for line in capsys.readouterr().err.splitlines() if "feature classifier" in line]
    assert "none cached" in line and "training the default one now" in line and described["choice"].startswith(line.removeprefix("genzoo: "))
    files = list((tmp_path / "cache" / "genzoo" / "features").glob("shapes-1x28x28-*.safetensors"))
    assert len(files) == 1 and json.loads(files[0].with_suffix(".json").read_text())["id"] == described["id"]
    assert described["test_accuracy"] is not None and result["sample_quality"]["reference"]["num_images"] == 32
    assert len(list((tmp_path / "cache" / "genzoo" / "reference").glob("shapes-test-1x28x28-*.safetensors"))) == 1


def test_an_extractor_of_another_dataset_is_a_one_line_error(runs, extractor):
    from genzoo.metrics.features import FeatureExtractor, FeatureExtractorError

    other = FeatureExtractor(net=extractor.net, dataset="fashion-mnist")  # same image shape, other data
    with pytest.raises(FeatureExtractorError, match="trained on fashion-mnist, the run on shapes") as error:
        evaluate_run(runs["ae"], metrics=("fid",), num_samples=8, batch_size=8, feature_extractor=other, progress=False)
    assert "\n" not in str(error.value)


def test_unknown_metric_is_a_one_line_error(runs):
    with pytest.raises(ConfigError, match="unknown metric 'is'") as error:
        evaluate_run(runs["ae"], metrics=("fid", "is"), progress=False)
    assert "\n" not in str(error.value) and "classifier_score" in str(error.value)


def test_sharpness_compares_the_timed_samples_with_as_many_test_images(runs):
    from genzoo.metrics.reference import subset
    from genzoo.metrics.sharpness import laplacian_variance

    result = evaluate_run(runs["ae"], metrics=("speed", "sharpness"), num_samples=48, batch_size=16, progress=False)
    sharpness = result["sharpness"]
    assert sharpness["available"] and sharpness["num_samples"] == 16 == sharpness["num_test_images"]  # the speed samples, reused
    model, _ = load_model(runs["ae"])
    samples, _ = sample_with_timing(model, 16, seed=0, batch_size=16, progress=False)
    real = load_dataset("shapes", "test", **TINY_DATA).images[subset(40, 16, seed=0)]
    expected = laplacian_variance(samples).mean() / laplacian_variance(real).mean()
    assert sharpness["ratio"] == pytest.approx(float(expected), rel=1e-9) and sharpness["ratio"] > 0
    assert any(line.startswith(f"sharpness: {sharpness['ratio']:.3f} x") and "N=16 samples vs 16 test images" in line for line in result["summary"])

    alone = evaluate_run(runs["vae"], metrics=("sharpness",), num_samples=48, batch_size=16, progress=False)
    assert alone["sharpness"]["num_samples"] == 16 and alone["sharpness"]["preprocess"] == ["binarize-static"]
    assert "speed" not in alone and "likelihood" not in alone


def test_eval_uses_a_classifier_cached_with_other_options_and_says_which(runs, tmp_path, monkeypatch, capsys):
    """The issue's case: `features train --epochs 0.1` was cached, yet eval trained the default one without a word."""
    from genzoo.cli import main

    other = train_feature_classifier(
        "shapes", dataset_options=TINY_DATA, architecture=TINY_NET, training=FeatureTraining(epochs=0.5, batch_size=16), progress=False,
    )  # cached under the private XDG_CACHE_HOME

    def no_training(*args, **kwargs):
        raise AssertionError("a cached classifier exists: nothing should be trained")

    monkeypatch.setattr(features_module, "train_feature_classifier", no_training)
    out = tmp_path / "evaluation.json"
    status = main(["eval", str(runs["ae"]), "--metrics", "fid,recognised", "--num-samples", "24", "--batch-size", "12",
                   "--no-progress", "--out", str(out)])
    captured = capsys.readouterr()
    assert status == 0
    (line,) = [line for line in captured.err.splitlines() if "feature classifier" in line]
    assert f"cached {other.identifier}" in line and "trained with other options: 0.5 epochs" in line and "no default-recipe one cached" in line
    written = json.loads(out.read_text())
    assert written["sample_quality"]["feature_extractor"]["id"] == other.identifier
    assert written["sample_quality"]["recognised"]["test_images"] is not None and "fid" in written["sample_quality"]["real_reference"]
    assert f"features {other.identifier}" in captured.out
