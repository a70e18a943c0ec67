"""The procedural shapes dataset: determinism, and attributes recoverable from the pixels."""

from __future__ import annotations

import itertools

import pytest
import torch

from genzoo.data import dataset_info, load_dataset
from genzoo.data.shapes import CENTRES, GRAY, RGB, SHAPES, rasterize
from genzoo.errors import ConfigError


@pytest.fixture(scope="module")
def colour_shapes():
    return load_dataset("shapes", "train", size=32, channels=3, n_train=3000)


def test_info_and_attribute_tables(colour_shapes):
    info = dataset_info("shapes", size=64, channels=1)
    assert info.image_shape == (1, 64, 64) and info.class_names == SHAPES and info.num_classes == len(SHAPES)
    data = colour_shapes
    assert set(data.attributes) == {"shape", "colour", "size", "x", "y"}
    assert torch.equal(data.labels, data.attributes["shape"])
    for name, values in data.attribute_values.items():
        assert sorted(data.attributes[name].unique().tolist()) == list(range(len(values)))  # every value occurs


def test_deterministic_and_prefix_stable():
    a = load_dataset("shapes", "train", n_train=500)
    b = load_dataset("shapes", "train", n_train=500)
    longer = load_dataset("shapes", "train", n_train=800)
    test = load_dataset("shapes", "test", n_test=500)
    assert torch.equal(a.images, b.images) and torch.equal(a.images, longer.images[:500])
    assert all(torch.equal(a.attributes[k], longer.attributes[k][:500]) for k in a.attributes)
    assert not torch.equal(a.images, test.images)


def _recover(images: torch.Tensor, palette: torch.Tensor):
    """(colour index, x index, y index, area) of each image, from its pixels alone."""
    size = images.shape[-1]
    foreground = images.amax(dim=1) > 0  # (N, S, S)
    area = foreground.sum(dim=(1, 2))
    pixels = (torch.arange(size) + 0.5).float()
    cx = (foreground.sum(1).float() * pixels).sum(1) / area  # (N,)
    cy = (foreground.sum(2).float() * pixels).sum(1) / area
    centres = torch.tensor(CENTRES) * size
    x = (cx[:, None] - centres).abs().argmin(1)
    y = (cy[:, None] - centres).abs().argmin(1)
    # All foreground pixels carry the exact colour: find it in the palette.
    colours = []
    for image, mask in zip(images, foreground):
        values = image[:, mask].T.unique(dim=0)  # (K, C) distinct colours in the shape
        assert len(values) == 1, "a shape must have exactly one colour"
        colours.append(int((palette == values[0]).all(1).nonzero()))
    centre_error = torch.maximum((cx - centres[x]).abs(), (cy - centres[y]).abs())
    return torch.tensor(colours), x, y, area, centre_error


@pytest.mark.parametrize("size, channels", [(28, 1), (32, 3), (64, 3)])
def test_attributes_recovered_from_pixels(size, channels):
    data = load_dataset("shapes", "train", size=size, channels=channels, n_train=600)
    palette = torch.tensor(RGB if channels == 3 else [(g,) for g in GRAY], dtype=torch.uint8)
    colour, x, y, area, centre_error = _recover(data.images, palette)
    assert torch.equal(colour, data.attributes["colour"])
    assert torch.equal(x, data.attributes["x"]) and torch.equal(y, data.attributes["y"])
    assert centre_error.max() < 0.06 * size  # well inside the grid spacing of 0.25 * size
    # Area depends only on (shape, size) and grows with size: size is recoverable from pixels.
    shape, size_index = data.attributes["shape"], data.attributes["size"]
    for kind in range(len(SHAPES)):
        areas = [area[(shape == kind) & (size_index == s)].unique().tolist() for s in range(3)]
        assert all(len(a) == 1 for a in areas), f"{SHAPES[kind]}: area varies with position"
        assert areas[0][0] < areas[1][0] < areas[2][0]


@pytest.mark.parametrize("image_size", [28, 64])
def test_different_shapes_differ(image_size):
    # Every shape at every size and position, one colour: masks are pairwise different.
    combos = list(itertools.product(range(len(SHAPES)), range(3), range(3), range(3)))
    shape, size, x, y = (torch.tensor(column) for column in zip(*combos))
    images = rasterize(shape, torch.zeros_like(shape), size, x, y, image_size=image_size, channels=1)
    masks = images[:, 0] > 0
    for s, px, py in itertools.product(range(3), range(3), range(3)):
        chosen = ((size == s) & (x == px) & (y == py)).nonzero().squeeze(1)
        flat = masks[chosen].flatten(1)
        assert len({bytes(m.numpy()) for m in flat}) == len(SHAPES)
    assert (masks.sum((1, 2)) > 0).all()
    # no shape is clipped by the image border
    assert not masks[:, 0].any() and not masks[:, -1].any() and not masks[:, :, 0].any() and not masks[:, :, -1].any()


def test_bad_options():
    with pytest.raises(ConfigError, match="size must be 28, 32 or 64"):
        dataset_info("shapes", size=30)
    with pytest.raises(ConfigError, match="unknown option 'colours' for dataset shapes"):
        load_dataset("shapes", colours=3)


def test_isoluminant_palette_shares_lumas_within_hue_groups():
    from genzoo.data.tasks import luma

    shapes = load_dataset("shapes", "test", n_train=8, n_test=300, palette="isoluminant")
    plain = load_dataset("shapes", "test", n_train=8, n_test=300)
    assert torch.equal(shapes.attributes["colour"], plain.attributes["colour"]), "the same factors, other colours"
    grey = luma(shapes.images.float() / 255)  # (N, 1, S, S)
    brightest = grey.amax(dim=(1, 2, 3))  # (N,): the shape's luma, equal within a group up to float32 rounding
    by_colour = {int(c): {round(v, 5) for v in brightest[shapes.attributes["colour"] == c].tolist()} for c in range(7)}
    assert by_colour[0] == by_colour[1] == by_colour[2], "red, green and blue: one grey"
    assert by_colour[3] == by_colour[4] == by_colour[5], "yellow, magenta and cyan: another"
    assert len(by_colour[0] | by_colour[3] | by_colour[6]) == 3
    with pytest.raises(ConfigError, match="palette=isoluminant colours RGB images: set channels=3"):
        dataset_info("shapes", channels=1, palette="isoluminant")
