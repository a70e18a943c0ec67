"""The image-to-image yardstick (`genzoo.metrics.translation`): PSNR/SSIM against scikit-image, edge F-scores, diversity,
the baseline's exact PSNR, the conditional NLL, and `evaluate_run` on a tiny trained regress run."""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from genzoo_testing.training import QUIET
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from genzoo.data import Preprocessor
from genzoo.data.format import DataFormat
from genzoo.metrics.evaluate import evaluate_run
from genzoo.metrics.features import FeatureTraining, train_feature_classifier
from genzoo.metrics.translation import (
    PSNR_CEILING_DB, EdgeCounts, edge_counts, evaluate_translation, pairwise_l1, psnr_per_image, ssim_per_image,
)
from genzoo.models.base import Capabilities
from genzoo.models.translation.base import TranslationModel
from genzoo.train import train
from genzoo.runs.config import DataConfig, RunConfig, TrainConfig


# ---- PSNR / SSIM: kornia against scikit-image ----------------------------------------------------
def structured_images() -> torch.Tensor:
    """(4, 3, 28, 28) in [0, 1]: a ramp, a checkerboard, a disc and a blurred copy of noise: edges, flat parts, texture."""
    rows, columns = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    ramp = (rows + columns) / 54
    checker = ((rows // 4 + columns // 4) % 2).float()
    disc = (((rows - 13.5) ** 2 + (columns - 10) ** 2) < 64).float()
    noise = torch.nn.functional.avg_pool2d(torch.rand(1, 1, 30, 30, generator=torch.Generator().manual_seed(1)), 3, stride=1)[0, 0]
    return torch.stack([torch.stack([ramp, checker, disc]), torch.stack([checker, disc, noise]),
                        torch.stack([disc, noise, ramp]), torch.stack([noise, ramp, checker])]).double()


@pytest.mark.parametrize("value_range", [(0.0, 1.0), (-1.0, 1.0)])
@pytest.mark.parametrize("kind", ["random", "structured"])
def test_psnr_and_ssim_match_scikit_image(kind, value_range):
    generator = torch.Generator().manual_seed(0)
    clean = torch.rand(4, 3, 28, 28, generator=generator, dtype=torch.float64) if kind == "random" else structured_images()
    degraded = (clean + 0.1 * torch.randn(clean.shape, generator=generator, dtype=torch.float64)).clamp(0, 1)
    low, high = value_range
    clean, degraded = low + (high - low) * clean, low + (high - low) * degraded
    psnr, ssim = psnr_per_image(degraded, clean, high - low), ssim_per_image(degraded, clean, high - low)
    for index in range(4):
        reference, output = clean[index].numpy(), degraded[index].numpy()
        expected_psnr = peak_signal_noise_ratio(reference, output, data_range=high - low)
        expected_ssim = structural_similarity(reference, output, channel_axis=0, gaussian_weights=True, sigma=1.5,
                                              use_sample_covariance=False, data_range=high - low)
        # Both average the SSIM map over the window positions inside the image (scikit-image crops the border it
        # filtered with mirrored values; kornia's "valid" map never computes it) with the same normalised 11-tap
        # Gaussian, in float64: they differ by rounding only, hence 1e-9. (kornia's default "same" map keeps the
        # border, filled by reflection, and differs by ~1e-3.)
        assert psnr[index].item() == pytest.approx(expected_psnr, abs=1e-9)
        assert ssim[index].item() == pytest.approx(expected_ssim, abs=1e-9)
    assert 0.2 < float(ssim.mean()) < 0.95  # a real degradation: neither identical nor unrelated


def test_identical_images_psnr_infinite_ssim_one_and_small_images_use_a_smaller_window():
    images = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    assert torch.isinf(psnr_per_image(images, images.clone(), 1.0)).all()
    assert torch.allclose(ssim_per_image(images, images.clone(), 1.0), torch.ones(2, dtype=torch.float64))
    assert (ssim_per_image(images, 1 - images, 1.0) < 0).all()  # 8 px < 11: the 7 x 7 window still sees anti-correlation


# ---- edge F-score, diversity ------------------------------------------------------------------------
def vertical_line(column: int) -> torch.Tensor:
    edges = torch.zeros(1, 1, 16, 16, dtype=torch.bool)
    edges[..., 2:14, column] = True
    return edges


def test_edge_f_score_is_one_for_identical_or_one_pixel_shifted_maps_and_drops_beyond_the_tolerance():
    line = vertical_line(5)
    assert edge_counts(line, line.clone()).f_score == 1.0
    assert edge_counts(vertical_line(6), line).f_score == 1.0  # within the 1-pixel tolerance
    far = edge_counts(vertical_line(7), line)
    assert far.f_score == 0.0 and far.output == far.reference == 12
    assert edge_counts(vertical_line(6), line, tolerance=0).f_score == 0.0
    half = vertical_line(5) | vertical_line(9)  # half of the output's edges are matched, all of the reference's
    counts = edge_counts(half, line)
    assert (counts.precision, counts.recall) == (0.5, 1.0) and counts.f_score == pytest.approx(2 / 3)
    assert (counts + counts).f_score == counts.f_score  # pooled counts
    empty = torch.zeros_like(line)
    assert EdgeCounts().f_score == 1.0 and edge_counts(empty, line).f_score == 0.0


def test_pairwise_l1_is_zero_for_identical_samples_and_the_mean_over_pairs_otherwise():
    one = torch.rand(2, 1, 3, 4, 4)
    assert torch.equal(pairwise_l1(one.expand(2, 5, 3, 4, 4)), torch.zeros(2))
    assert torch.equal(pairwise_l1(one), torch.zeros(2))  # a single sample
    levels = torch.tensor([0.0, 0.5, 1.0]).view(1, 3, 1, 1, 1).expand(1, 3, 1, 2, 2)
    assert pairwise_l1(levels).item() == pytest.approx((0.5 + 1.0 + 0.5) / 3)


# ---- the whole yardstick on tiny hand-made translators -----------------------------------------------
class Translator(TranslationModel):
    """Test-only: the task's baseline (or the input drawn at the target size) plus seeded Gaussian noise of `noise`."""

    name = "test-translator"

    def __init__(self, data_format: DataFormat, noise: float = 0.0) -> None:
        super().__init__(None, data_format)
        self.noise = noise
        self.weight = torch.nn.Parameter(torch.zeros(()))

    @torch.no_grad()
    def translate(self, condition, *, temperature=1.0, generator=None):
        answer = self.task.baseline(condition) if self.task.baseline_name else self.task.as_image(condition, self.target_shape)
        noise = torch.randn(answer.shape, generator=generator) * self.noise * temperature
        return (answer + noise).clamp(*self.task.value_range)


class Deterministic(Translator):
    stochastic = False


class ExactTranslator(Translator):
    """log p(t | c) = -dims * ln 2: one bit per target sub-pixel."""

    capabilities = Capabilities(exact_likelihood=True, image_to_image=True)

    def log_prob(self, x, y=None):
        return torch.full((len(x),), -math.prod(self.target_shape) * math.log(2.0))


@dataclass
class Split:
    images: torch.Tensor
    labels: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.images)


RUN_INFO = SimpleNamespace(make_preprocessor=lambda: Preprocessor((), source_levels=256), run_config=SimpleNamespace(data=SimpleNamespace(classes=None)))


def shapes_split(channels: int = 1, count: int = 12) -> Split:
    from genzoo.data import load_dataset

    dataset = load_dataset("shapes", "test", n_train=16, n_test=count, channels=channels, size=28)
    return Split(dataset.images, dataset.labels)


def data_format(task: str, channels: int = 1) -> DataFormat:
    return DataFormat((channels, 28, 28), task=task)


def test_the_superres_baseline_scores_its_known_psnr_on_a_checkerboard_and_the_ceiling_on_a_constant_image():
    rows, columns = torch.meshgrid(torch.arange(28), torch.arange(28), indexing="ij")
    checkerboard = ((rows + columns) % 2 * 255).to(torch.uint8)  # its 2 x 2 averages are all 0.5: bicubic gives 0.5 everywhere
    split = Split(torch.stack([checkerboard[None], torch.full((1, 28, 28), 77, dtype=torch.uint8)]))
    report = evaluate_translation(Deterministic(data_format("superres:2")), RUN_INFO, split, batch_size=1, progress=False)
    baseline = report.baseline
    assert baseline.name == "bicubic" and baseline.test_images == 2
    # image 1: MSE = 0.25 of a range of 1, PSNR = 10 log10(4); image 2: reproduced exactly, counted at the ceiling
    assert baseline.one_sample.psnr_db == pytest.approx((10 * math.log10(4.0) + PSNR_CEILING_DB) / 2, abs=1e-5)
    assert baseline.consistency.name == "condition_psnr_db" and baseline.consistency.value == pytest.approx(PSNR_CEILING_DB, abs=1e-5)
    assert report.model.one_sample == baseline.one_sample  # the translator answers with the baseline


def test_a_deterministic_translator_has_one_output_zero_diversity_and_equal_mean_output():
    report = evaluate_translation(Deterministic(data_format("superres:4")), RUN_INFO, shapes_split(), samples_per_input=4, batch_size=8, progress=False)
    scores = report.model
    assert report.samples_per_input == scores.samples_per_input == 1 and scores.diversity_l1 == 0.0
    assert scores.one_sample == scores.mean_of_samples and 5 < scores.one_sample.psnr_db < 60
    assert scores.outputs_per_s > 0 and scores.likelihood is None and scores.realism is None
    section = report.to_dict()
    assert section["task"] == "superres:4" and section["test_images"] == 12 and section["baseline"]["name"] == "bicubic"


def test_a_noisy_translator_has_diversity_and_its_mean_output_scores_higher():
    report = evaluate_translation(Translator(data_format("superres:4"), noise=0.1), RUN_INFO, shapes_split(), samples_per_input=4,
                                  batch_size=8, progress=False)
    scores, baseline = report.model, report.baseline
    assert scores.samples_per_input == 4
    # pairs of independent N(0, 0.1^2) noises (clamped at 0 and 1): E|a - b| = 2 * 0.1 / sqrt(pi) = 0.113 before clamping
    assert 0.05 < scores.diversity_l1 < 0.12
    assert scores.mean_of_samples.psnr_db > scores.one_sample.psnr_db + 1  # averaging 4 samples removes most of the noise
    assert scores.one_sample.psnr_db < baseline.one_sample.psnr_db and scores.consistency.value < baseline.consistency.value


def test_colorize_consistency_is_zero_for_the_grey_baseline_and_edges_report_an_f_score():
    report = evaluate_translation(Deterministic(data_format("colorize", 3)), RUN_INFO, shapes_split(3), batch_size=8, progress=False)
    assert report.baseline.name == "grey" and report.baseline.consistency.name == "luma_abs_error"
    assert report.baseline.consistency.value < 1e-6  # luma(grey copy of Y) = Y
    edges = evaluate_translation(Translator(data_format("edges"), noise=0.0), RUN_INFO, shapes_split(), samples_per_input=2, batch_size=8,
                                 progress=False)
    assert edges.baseline is None and edges.model.consistency.name == "edge_f_score"
    assert 0.0 <= edges.model.consistency.value <= 1.0 and edges.model.consistency.precision is not None
    paired = evaluate_translation(Deterministic(DataFormat((1, 28, 56), task="paired")), RUN_INFO,
                                  Split(torch.zeros(3, 1, 28, 56, dtype=torch.uint8)), batch_size=8, progress=False)
    assert paired.model.consistency is None and paired.baseline is None  # the condition comes from the data


def test_the_conditional_nll_is_stated_in_nats_and_bits_per_target_dim():
    report = evaluate_translation(ExactTranslator(data_format("superres:4")), RUN_INFO, shapes_split(count=5), batch_size=2, progress=False)
    likelihood = report.model.likelihood
    assert likelihood.dims == 784 and likelihood.num_images == 5
    assert likelihood.nll_nats == pytest.approx(784 * math.log(2.0)) and likelihood.bits_per_dim == pytest.approx(1.0)
    assert report.baseline.likelihood is None


# ---- evaluate_run on a tiny regress run, trained for real ---------------------------------------------
TINY_DATA = {"n_train": 64, "n_test": 40, "channels": 1, "size": 28}


@pytest.fixture(scope="module")
def regress_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("translation")
    config = RunConfig(model="regress", model_options={"width": 4, "max_depth": 2},
                       data=DataConfig(name="shapes", options=dict(TINY_DATA), task="superres:4", classes=(0, 1, 2)),
                       train=TrainConfig(**{**QUIET, "steps": 4}))
    train(config, root / "regress")
    return root / "regress"


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_evaluate_run_on_a_regress_run_writes_a_translation_section(regress_run):
    extractor = train_feature_classifier("shapes", dataset_options=TINY_DATA, architecture={"widths": (4, 8), "convs_per_block": 1, "feature_dim": 8},
                                         training=FeatureTraining(epochs=2, batch_size=32), cache=False, progress=False)
    result = evaluate_run(regress_run, num_samples=24, batch_size=16, feature_extractor=extractor, progress=False)
    section = result["translation"]
    test_labels = shapes_split(count=40).labels
    kept = int(torch.isin(test_labels, torch.tensor([0, 1, 2])).sum())  # data.classes filters the test split as in training
    assert section["task"] == "superres:4" and section["classes"] == [0, 1, 2] and section["test_images"] == min(24, kept)
    assert section["samples_per_input"] == 1  # regress is deterministic
    model, baseline = section["model"], section["baseline"]
    assert model["name"] == "regress" and baseline["name"] == "bicubic" and baseline["test_images"] == model["test_images"]
    assert model["one_sample"] == model["mean_of_samples"] and model["diversity_l1"] == 0.0
    assert 0 < baseline["one_sample"]["psnr_db"] < 60 and -1 <= model["one_sample"]["ssim"] <= 1
    assert model["realism"]["num_images"] == section["test_images"] and math.isfinite(model["realism"]["fid"])
    assert 0 <= model["realism"]["accuracy_outputs"] <= 1 and baseline["realism"]["accuracy_targets"] == model["realism"]["accuracy_targets"]
    assert section["feature_extractor"]["id"] == extractor.identifier
    assert "sample_quality" not in result and "likelihood" not in result  # replaced by the translation yardstick
    assert result["speed"]["translation_outputs_per_s"] == model["outputs_per_s"] and result["speed"]["training_images_per_s"] > 0
    summary = "\n".join(result["summary"])
    assert f"translation superres:4: N={section['test_images']} test images, classes [0, 1, 2], 1 output per input" in summary
    assert "  regress: PSNR " in summary and "  bicubic: PSNR " in summary and extractor.identifier in summary
    assert np.isclose(model["one_sample"]["psnr_db"], float(summary.split("regress: PSNR ")[1].split(" dB")[0]), atol=0.01)
