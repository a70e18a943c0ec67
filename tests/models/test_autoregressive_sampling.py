"""Sampling and completion of the autoregressive models: fast == naive, samples follow log_prob, overfitting."""

import itertools
import math

import pytest
import torch

from genzoo.data.format import DataFormat
from genzoo.explore.completion import complete, keep_mask
from genzoo.models import build_model, build_model_from_format


MODELS = ["pixelcnn", "gated-pixelcnn", "pixelrnn-row", "pixelrnn-diag"]
TINY = {
    "pixelcnn": {"hidden": 12, "residual_blocks": 2, "output_hidden": 12},
    "gated-pixelcnn": {"hidden": 12, "layers": 3, "output_hidden": 12},
    "pixelrnn-row": {"hidden": 12, "layers": 2, "output_hidden": 12},
    "pixelrnn-diag": {"hidden": 12, "layers": 2, "output_hidden": 12},
}


def tiny_model(name, shape, levels, output="auto", num_classes=None, seed=0, value_range=(0.0, 1.0), **options):
    """A tiny float64 model with perturbed weights (peaked conditionals, so mistakes change samples)."""
    torch.manual_seed(seed)
    data_format = DataFormat(image_shape=shape, levels=levels, num_classes=num_classes, value_range=value_range)
    model = build_model_from_format(name, data_format, {**TINY[name], "output": output, **options}).double().eval()
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() > 1:
                parameter.add_(0.3 * torch.randn_like(parameter))
    return model


def draw(model, n, seed, **kwargs):
    return model.sample(n, generator=torch.Generator().manual_seed(seed), **kwargs)


SAMPLER_CASES = [  # (shape, levels, output, extra options)
    ((1, 5, 6), 2, "bernoulli", {}),
    ((3, 4, 5), 4, "categorical", {}),
    ((3, 3, 4), 5, "logistic_mixture", {}),
    ((1, 4, 5), 6, "logistic_mixture", {}),
    ((3, 3, 4), 4, "categorical", {"num_classes": 3, "conditional": True}),
]


SAMPLER_PARAMS = [  # only gated-pixelcnn is class-conditional
    pytest.param(name, case, id=f"{name}-{case[0][0]}ch-{case[2]}{'-conditional' if case[3] else ''}")
    for name in MODELS
    for case in SAMPLER_CASES
    if not case[3] or name == "gated-pixelcnn"
]


@pytest.mark.parametrize("name,case", SAMPLER_PARAMS)
def test_fast_and_naive_samplers_draw_the_same_images(name, case):
    shape, levels, output, options = case
    model = tiny_model(name, shape, levels, output, **options)
    labels = torch.tensor([2, 0, 1, 2]) if options else None
    for temperature in (0.7, 1.0):
        fast = draw(model, 4, seed=3, labels=labels, temperature=temperature, method="fast")
        naive = draw(model, 4, seed=3, labels=labels, temperature=temperature, method="naive")
        assert torch.equal(fast, naive), f"temperature {temperature}"
    default = draw(model, 4, seed=3, labels=labels)
    assert torch.equal(default, fast)  # the default sampler is the fast one
    assert not torch.equal(default, draw(model, 4, seed=4, labels=labels))


@pytest.mark.parametrize("output", ["categorical", "logistic_mixture"])
@pytest.mark.parametrize("name", MODELS)
def test_fast_stepper_computes_the_network_one_pixel_at_a_time(name, output):
    """Stepper.params_at(r, c) equals network(canvas)[:, :, r, c] at every pixel, to float64 precision."""
    shape = (3, 4, 5)
    model = tiny_model(name, shape, 4, output)
    canvas = torch.rand(2, *shape, dtype=torch.float64) * 2 - 1
    with torch.no_grad():
        full = model.network(canvas)  # (B, P, H, W)
        stepper = model.stepper(canvas)
        for row in range(shape[1]):
            stepper.begin_row(row)
            for col in range(shape[2]):
                torch.testing.assert_close(stepper.params_at(row, col), full[:, :, row, col], rtol=1e-10, atol=1e-10)


def empirical_vs_model(model, shape, levels, n, labels=None):
    """Total variation between the frequencies of n samples and exp(log_prob) over the whole (tiny) space."""
    images = torch.tensor(list(itertools.product(range(levels), repeat=math.prod(shape))), dtype=torch.float64)
    images = (images / (levels - 1)).view(-1, *shape)
    with torch.no_grad():
        image_labels = None if labels is None else labels[:1].expand(len(images))  # one label for all samples
        probabilities = model.log_prob(images, image_labels).exp()  # (N,)
        samples = draw(model, n, seed=0, labels=labels)
    codes = (samples * (levels - 1)).round().long().flatten(1)  # (n, dims)
    index = (codes * levels ** torch.arange(codes.shape[1] - 1, -1, -1)).sum(1)
    frequencies = torch.bincount(index, minlength=len(images)).double() / n
    return 0.5 * (frequencies - probabilities).abs().sum().item()


@pytest.mark.parametrize("name", MODELS)
def test_samples_follow_the_model_likelihood(name):
    """Frequencies of 4000 fast samples match exp(log_prob) (expected total variation ~0.02-0.03)."""
    assert empirical_vs_model(tiny_model(name, (1, 2, 2), 2), (1, 2, 2), 2, 4000) < 0.06
    mixture = tiny_model(name, (3, 1, 1), 3, "logistic_mixture")  # one RGB pixel: the channel coupling
    assert empirical_vs_model(mixture, (3, 1, 1), 3, 4000) < 0.08


def test_conditional_samples_follow_the_conditional_likelihood():
    model = tiny_model("gated-pixelcnn", (1, 2, 2), 2, num_classes=2, conditional=True)
    assert empirical_vs_model(model, (1, 2, 2), 2, 4000, labels=torch.ones(4000, dtype=torch.long)) < 0.06


@pytest.mark.parametrize("name", MODELS)
def test_samples_have_the_data_format_shape_and_values(name):
    model = tiny_model(name, (3, 3, 4), 5, value_range=(-1.0, 1.0))
    samples = draw(model, 6, seed=0)
    assert samples.shape == (6, 3, 3, 4) and samples.dtype == torch.float64
    levels = (samples + 1) / 2 * 4
    torch.testing.assert_close(levels, levels.round())  # on the grid low + k (high - low) / (L - 1)
    assert samples.min() >= -1 and samples.max() <= 1 and len(samples.unique()) > 2


@pytest.mark.parametrize("name", MODELS)
def test_zero_temperature_is_greedy_and_ignores_the_seed(name):
    model = tiny_model(name, (1, 3, 3), 4)
    greedy = draw(model, 2, seed=0, temperature=0.0)
    assert torch.equal(greedy, draw(model, 2, seed=1, temperature=0.0, method="naive"))
    assert torch.equal(greedy[0], greedy[1])


def test_class_labels_steer_conditional_samples():
    model = tiny_model("gated-pixelcnn", (1, 4, 4), 2, num_classes=2, conditional=True)
    with torch.no_grad():  # make the label dominate the first layer's horizontal gates
        model.layers[0].label_horizontal.weight.mul_(50)
    zeros = draw(model, 8, seed=0, labels=torch.zeros(8, dtype=torch.long))
    ones = draw(model, 8, seed=0, labels=torch.ones(8, dtype=torch.long))
    assert not torch.equal(zeros, ones)
    cycled = draw(model, 4, seed=0)  # no labels: classes in turn 0, 1, 0, 1
    assert torch.equal(cycled, draw(model, 4, seed=0, labels=torch.tensor([0, 1, 0, 1])))


@pytest.mark.parametrize("region", ["top-half", "left-half", "center"])
@pytest.mark.parametrize("name", MODELS)
def test_completion_keeps_the_given_pixels_and_samples_the_rest(name, region):
    shape = (3, 4, 4)
    model = tiny_model(name, shape, 4)
    images = torch.randint(0, 4, (2, *shape)).double() / 3
    keep = keep_mask(region, shape)
    completions = complete(model, images, keep, n=3, generator=torch.Generator().manual_seed(0))
    assert completions.shape == (2, 3, *shape)
    assert torch.equal(completions[:, :, keep], images[:, None].expand_as(completions)[:, :, keep])
    assert not torch.equal(completions[:, 0][:, ~keep], completions[:, 1][:, ~keep])  # n different completions
    naive = complete(model, images, keep, n=3, generator=torch.Generator().manual_seed(0), method="naive")
    assert torch.equal(completions, naive)


@pytest.mark.parametrize("output", ["categorical", "logistic_mixture"])
@pytest.mark.parametrize("name", MODELS)
def test_completion_with_a_sub_pixel_mask_forces_single_channels(name, output):
    """Keep a random half of the sub-pixels (e.g. R given, G and B drawn): kept ones survive, fast == naive."""
    shape = (3, 3, 4)
    model = tiny_model(name, shape, 4, output)
    images = torch.randint(0, 4, (2, *shape)).double() / 3
    keep = torch.rand(2, *shape, generator=torch.Generator().manual_seed(1)) < 0.5
    fast = model.complete(images, keep, generator=torch.Generator().manual_seed(0))
    naive = model.complete(images, keep, generator=torch.Generator().manual_seed(0), method="naive")
    assert torch.equal(fast[keep], images[keep]) and torch.equal(fast, naive)


def test_completion_samples_from_the_conditional_given_the_kept_pixels():
    """Keeping the top row of a 2x2 binary image, the bottom row follows p(bottom | top) = p(x) / p(top)."""
    model = tiny_model("pixelcnn", (1, 2, 2), 2)
    top = torch.tensor([1.0, 0.0], dtype=torch.float64)
    bottoms = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=torch.float64)
    images = torch.cat([top.expand(4, 2), bottoms], 1).view(4, 1, 2, 2)
    with torch.no_grad():
        conditional = torch.softmax(model.log_prob(images), 0)  # (4,)
    keep = keep_mask("top-half", (1, 2, 2))
    drawn = complete(model, images[:1], keep, n=4000, generator=torch.Generator().manual_seed(0))[0]  # (4000, 1, 2, 2)
    index = (drawn[:, 0, 1] * torch.tensor([2.0, 1.0], dtype=torch.float64)).sum(1).long()
    frequencies = torch.bincount(index, minlength=4).double() / 4000
    assert 0.5 * (frequencies - conditional).abs().sum() < 0.04


def test_keep_masks_and_completion_errors():
    top = keep_mask("top-half", (3, 4, 6))
    assert top.shape == (3, 4, 6) and top[:, :2].all() and not top[:, 2:].any()
    left = keep_mask("left-half", (1, 4, 6))
    assert left[:, :, :3].all() and not left[:, :, 3:].any()
    center = keep_mask("center", (1, 8, 8))
    assert not center[0, 2:6, 2:6].any() and center.sum() == 64 - 16
    with pytest.raises(ValueError, match="choose one of top-half, left-half, center"):
        keep_mask("bottom", (1, 4, 4))
    autoencoder = build_model("ae", (1, 8, 8), architecture="mlp", latent_dim=2, hidden=8)
    with pytest.raises(ValueError, match="autoregressive"):
        complete(autoencoder, torch.zeros(1, 1, 8, 8), top[:1, :, :4].expand(1, 4, 4))


def _shapes_dataset():
    """Four 8x8 binary images: a square, a cross, a diagonal, a frame."""
    images = torch.zeros(4, 1, 8, 8)
    images[0, 0, 2:6, 2:6] = 1
    images[1, 0, 3:5, :] = 1
    images[1, 0, :, 3:5] = 1
    images[2, 0] = torch.eye(8)
    images[3, 0, [0, -1], :] = 1
    images[3, 0, :, [0, -1]] = 1
    return images


@pytest.mark.parametrize("name", MODELS)
def test_a_tiny_model_overfits_a_handful_of_images(name):
    """NLL of 4 training images falls far below the uniform baseline 64 ln 2 = 44.4 nats (the floor is ln 4 = 1.4)."""
    torch.manual_seed(0)
    images = _shapes_dataset()
    options = {"hidden": 16, "output_hidden": 16, ("residual_blocks" if name == "pixelcnn" else "layers"): 2}
    model = build_model(name, (1, 8, 8), levels=2, **options)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-2)
    for _ in range(60):
        optimizer.zero_grad()
        model.loss(images)["loss"].mean().backward()
        optimizer.step()
    baseline = 64 * math.log(2)
    assert model.loss(images)["nll"].mean().item() < 0.2 * baseline


@pytest.mark.parametrize("method", ["fast", "naive"])
def test_row_progress_reports_every_row_and_leaves_the_draw_unchanged(method):
    from genzoo.explore.sampling import sample_images

    model = tiny_model("pixelcnn", (1, 5, 4), levels=2)
    rows = []
    plain = model.sample(3, generator=torch.Generator().manual_seed(1), method=method)
    watched = model.sample(3, generator=torch.Generator().manual_seed(1), method=method, on_row=lambda: rows.append(1))
    assert torch.equal(plain, watched) and len(rows) == 5  # one call per image row
    assert torch.equal(sample_images(model, 3, seed=2, batch_size=2, progress=True), sample_images(model, 3, seed=2, batch_size=2))
