"""Every preprocessing step: values, levels, ranges, randomness and the way back to uint8."""

from __future__ import annotations

import pytest
import torch

from genzoo.data import DatasetInfo, Preprocessor
from genzoo.errors import ConfigError
from genzoo.sharding import BatchShard

INFO = DatasetInfo("d", (1, 16, 16), 256, 10, ("train",), None, "")
ALL_LEVELS = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)  # every 8-bit value once


def generator(seed=0):
    return torch.Generator().manual_seed(seed)


def test_no_steps_is_division_by_255():
    pre = Preprocessor()
    x = pre(ALL_LEVELS)
    assert x.dtype == torch.float32 and torch.allclose(x.flatten(), torch.arange(256) / 255)
    fmt = pre.output_format(INFO)
    assert fmt.levels == 256 and fmt.value_range == (0.0, 1.0) and fmt.num_classes == 10 and fmt.image_shape == (1, 16, 16)
    assert torch.equal(pre.to_uint8(x), ALL_LEVELS)


@pytest.mark.parametrize("step, threshold", [("binarize-static", 0.5), ("binarize-static:0.25", 0.25)])
def test_binarize_static(step, threshold):
    pre = Preprocessor([step])
    x = pre(ALL_LEVELS)
    assert set(x.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(x.flatten() == 1, torch.arange(256) / 255 > threshold)
    assert pre.output_format(INFO).levels == 2
    assert set(pre.to_uint8(x).unique().tolist()) == {0, 255}


def test_binarize_dynamic_mean_matches_intensity_and_resamples():
    pre = Preprocessor(["binarize-dynamic"])
    images = torch.tensor([0, 64, 128, 255], dtype=torch.uint8).view(4, 1, 1, 1).expand(4, 1, 100, 100)
    g = generator(1)
    first = pre(images, g)
    second = pre(images, g)
    assert set(first.unique().tolist()) <= {0.0, 1.0} and not torch.equal(first, second)
    means = first.mean(dim=(1, 2, 3))
    assert torch.allclose(means, torch.tensor([0, 64, 128, 255]) / 255, atol=0.02)
    assert means[0] == 0 and means[3] == 1
    assert torch.equal(pre(images, generator(3)), pre(images, generator(3)))  # generator decides


@pytest.mark.parametrize("bits", [1, 3, 5, 8])
def test_quantize(bits):
    pre = Preprocessor([f"quantize:{bits}"])
    x = pre(ALL_LEVELS)
    levels = 2**bits
    assert pre.output_format(INFO).levels == levels and len(x.unique()) == levels
    expected = torch.floor(torch.arange(256) / 2 ** (8 - bits)) / (levels - 1)
    assert torch.allclose(x.flatten(), expected)
    assert torch.equal(pre(pre.to_uint8(x)), x)  # displayed image quantizes to itself


@pytest.mark.parametrize("steps, levels", [(["dequantize"], 256), (["quantize:3", "dequantize"], 8), (["binarize-static", "dequantize"], 2)])
def test_dequantize_floor_recovers_levels(steps, levels):
    pre = Preprocessor(steps)
    images = ALL_LEVELS.expand(64, 1, 16, 16)
    x = pre(images, generator(2))
    assert pre.output_format(INFO).levels is None
    assert x.min() >= 0 and x.max() < 1
    k = torch.floor(x * levels)
    discrete = Preprocessor(steps[:-1])(images)
    assert torch.equal(k, torch.round(discrete * (levels - 1)))
    assert len(torch.unique(x)) > levels  # really continuous
    assert torch.equal(pre.to_uint8(x), Preprocessor(steps[:-1]).to_uint8(discrete))


def test_dequantize_stays_below_one_at_the_top_level():
    pre = Preprocessor(["dequantize"])
    top = torch.full((1, 1, 1000, 1000), 255, dtype=torch.uint8)
    assert pre(top, generator(0)).max() < 1.0


@pytest.mark.parametrize("steps", [["scale-symmetric"], ["dequantize", "scale-symmetric"], ["binarize-static", "scale-symmetric"]])
def test_scale_symmetric(steps):
    pre = Preprocessor(steps)
    x = pre(ALL_LEVELS, generator(0))
    assert pre.output_format(INFO).value_range == (-1.0, 1.0)
    assert x.min() >= -1 and x.max() <= 1 and x.min() < -0.99
    plain = Preprocessor(steps[:-1])
    assert torch.equal(pre.to_uint8(x), plain.to_uint8(plain(ALL_LEVELS, generator(0))))
    assert pre.to_uint8(torch.tensor([-5.0, 5.0])).tolist() == [0, 255]  # clamps


@pytest.mark.parametrize(
    "steps, message",
    [
        (["blur"], "unknown preprocessing step 'blur': choose from binarize-static"),
        (["binarize-static", "quantize:4"], "both discretize"),
        (["binarize-dynamic", "binarize-static"], "both discretize"),
        (["scale-symmetric", "dequantize"], "cannot follow"),
        (["dequantize", "dequantize"], "cannot follow"),
        (["quantize:9"], "B bits in 1..8"),
        (["quantize"], "B bits in 1..8"),
        (["binarize-static:2"], "threshold"),
        (["dequantize:3"], "takes no argument"),
    ],
)
def test_invalid_steps(steps, message):
    with pytest.raises(ConfigError, match=message):
        Preprocessor(steps)


def test_steps_are_normalised_and_accept_a_string():
    pre = Preprocessor("quantize:5,dequantize, scale-symmetric")
    assert pre.steps == ("quantize:5", "dequantize", "scale-symmetric")
    assert Preprocessor(pre.steps).steps == pre.steps


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_images_with_a_cuda_generator():
    pre = Preprocessor(["binarize-dynamic", "dequantize", "scale-symmetric"])
    images = ALL_LEVELS.expand(8, 1, 16, 16).cuda()
    g = torch.Generator(device="cuda").manual_seed(0)
    x = pre(images, g)
    assert x.device.type == "cuda" and x.dtype == torch.float32
    assert pre.to_uint8(x).device.type == "cuda"


@pytest.mark.parametrize("steps", [["binarize-dynamic"], ["quantize:3", "dequantize"]])
def test_a_shard_of_the_batch_gets_its_rows_of_the_one_process_noise(steps):
    """Under torchrun rank r holds rows r::W of the global batch: its random steps match them."""
    preprocessor = Preprocessor(steps)
    images = torch.randint(0, 256, (12, 1, 5, 5), dtype=torch.uint8)
    whole = preprocessor(images, generator=torch.Generator().manual_seed(7))  # (12, 1, 5, 5)
    for rank in range(4):
        shard = BatchShard(rank=rank, world_size=4)
        part = preprocessor(images[rank::4], generator=torch.Generator().manual_seed(7), shard=shard)
        assert torch.equal(part, whole[rank::4])
