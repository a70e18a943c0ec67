"""A GAN on the 8-Gaussian ring through the one trainer, and the toy2d dataset it trains on."""

from __future__ import annotations

import pytest
import torch

from genzoo.data import Preprocessor, load_dataset
from genzoo.data.toy2d import RECOMMENDED_PREPROCESS, mixture_extent, mixture_modes, points_to_uint8, to_points
from genzoo.errors import ConfigError
from genzoo.metrics.modes import mode_statistics, sampled_mode_statistics
from genzoo.models import build_model_from_format


@pytest.fixture
def one_thread():
    """Tiny MLPs run several times faster on one thread than on two contended ones."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_toy2d_points_are_1x2_images_labelled_by_mode():
    data = load_dataset("toy2d", "train", mixture="grid", n_train=500, n_test=10)
    assert data.images.dtype == torch.uint8 and data.images.shape == (500, 1, 1, 2)
    assert data.info.num_classes == 25 and data.labels.shape == (500,)
    preprocessor = Preprocessor(RECOMMENDED_PREPROCESS)
    assert preprocessor.output_format(data.info).levels is None  # continuous after dequantization
    points = to_points(preprocessor(data.images), mixture_extent("grid"))  # (N, 2)
    centres, std = mixture_modes("grid")
    assert (points - centres[data.labels]).norm(dim=1).max() < 6 * std  # each point near its own mode
    with pytest.raises(ConfigError, match="ring, grid"):
        load_dataset("toy2d", "train", mixture="spiral")


def test_binning_round_trip_is_within_one_bin():
    extent = mixture_extent("ring")
    points = torch.tensor([[2.0, 0.0], [-1.4142, 1.4142], [0.013, -0.027]])
    stored = points_to_uint8(points, extent)
    lower = to_points(stored.float() / 256 * 2 - 1, extent)  # bin start
    width = 2 * extent / 256
    assert ((points - lower) >= 0).all() and ((points - lower) < width).all()


@pytest.mark.parametrize("mixture, modes", [("ring", 8), ("grid", 25)])
def test_the_data_itself_scores_full_coverage(mixture, modes):
    data = load_dataset("toy2d", "test", mixture=mixture, n_test=2500)
    points = to_points(Preprocessor(RECOMMENDED_PREPROCESS)(data.images, generator=torch.Generator().manual_seed(0)), mixture_extent(mixture))
    stats = mode_statistics(points, *mixture_modes(mixture))
    assert stats.modes_covered == modes
    assert stats.high_quality_fraction == pytest.approx(0.989, abs=0.01)  # 1 - exp(-9/2) within 3 std in 2-D


def test_a_small_gan_covers_most_of_the_ring(tmp_path, one_thread):
    """Algorithm 1 through genzoo.train: 1500 steps (~10 s), weights averaged (ema 0.99) to damp the
    mode hopping of plain GANs (Metz et al. 2017); 6 seeds gave 7-8 modes, 49-68% high quality."""
    from genzoo.train import load_model, train
    from genzoo.runs.config import DataConfig, RunConfig, TrainConfig

    options = {
        "latent_dim": 8, "generator_hidden": [64, 64], "discriminator_hidden": [64, 64],
        "discriminator_activation": "leaky-relu", "dropout": 0.0, "output": "linear", "lr": 2e-3,
    }
    config = RunConfig(
        model="gan", model_options=options,
        data=DataConfig(name="toy2d", preprocess=RECOMMENDED_PREPROCESS, options={"mixture": "ring", "n_train": 8192, "n_test": 512}),
        train=TrainConfig(steps=1500, batch_size=256, ema_decay=0.99, progress=False, log_every=500, eval_every=0,
                          sample_every=0, checkpoint_every=0, sample_count=16, seed=0),
    )
    result = train(config, tmp_path / "ring")
    assert result.status == "finished"
    model, _ = load_model(tmp_path / "ring", which="last")
    stats = sampled_mode_statistics(model, "ring", n=2500)
    assert stats.modes_covered >= 6, stats
    assert stats.high_quality_fraction >= 0.35, stats
    torch.manual_seed(0)
    untrained = build_model_from_format("gan", model.data_format, options)
    assert sampled_mode_statistics(untrained, "ring").modes_covered <= 2  # the measure can fail
