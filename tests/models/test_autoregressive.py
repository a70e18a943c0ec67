"""Autoregressive models (pixelcnn, gated-pixelcnn, pixelrnn-row, pixelrnn-diag): causality, normalization, contract.

Tiny random-weight networks in float64 on tiny images; every property is checked for
every model and every output distribution, gray and RGB.
"""

import itertools
import math

import pytest
import torch

from genzoo.data.format import DataFormat
from genzoo.models import build_model, build_model_from_format, model_class
from genzoo.models.autoregressive import AutoregressiveModel


MODELS = ["pixelcnn", "gated-pixelcnn", "pixelrnn-row", "pixelrnn-diag"]
TINY = {  # 12 channels: 4 per RGB channel group (2 in pixelcnn's blocks and the LSTM states), few ReLUs all dead
    "pixelcnn": {"hidden": 12, "residual_blocks": 2, "output_hidden": 12},
    "gated-pixelcnn": {"hidden": 12, "layers": 3, "output_hidden": 12},
    "pixelrnn-row": {"hidden": 12, "layers": 2, "output_hidden": 12},
    "pixelrnn-diag": {"hidden": 12, "layers": 2, "output_hidden": 12},
}


def tiny_model(name, shape, levels, output="auto", num_classes=None, seed=0, **options):
    """A tiny float64 model whose weights are perturbed so that conditionals are far from uniform."""
    torch.manual_seed(seed)
    data_format = DataFormat(image_shape=shape, levels=levels, num_classes=num_classes)
    model = build_model_from_format(name, data_format, {**TINY[name], "output": output, **options}).double()
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() > 1:  # weights, not biases (which could switch whole ReLU units off)
                parameter.add_(0.3 * torch.randn_like(parameter))
    return model


def raster_order(shape):
    """Position of every sub-pixel (C, H, W) in the ordering: rows, then columns, then channels."""
    channels, height, width = shape
    c = torch.arange(channels)[:, None, None]
    r = torch.arange(height)[None, :, None]
    w = torch.arange(width)[None, None, :]
    return (r * width + w) * channels + c


def predecessor(channel, row, col, channels):
    """A sub-pixel just before (channel, row, col) that every model must read (inside its 7x7 mask-A conv)."""
    if channel > 0:
        return channel - 1, row, col
    if col > 0:
        return channels - 1, row, col - 1
    return channels - 1, row - 1, 0


CASES = [  # (image shape, levels, output)
    ((1, 4, 5), 2, "bernoulli"),
    ((3, 4, 5), 4, "categorical"),
    ((3, 4, 5), 4, "logistic_mixture"),
    ((1, 4, 5), 3, "logistic_mixture"),
]


def subpixel_jacobian(model, shape):
    """(sub-pixel positions, Jacobian (N, C, H, W)): row n = gradient of a random projection of log p(x_n | .) w.r.t. x.

    One copy of the same image per sub-pixel; copy n's output at sub-pixel n is differentiated
    (examples in a batch are independent, so one backward pass gives every row of the Jacobian).
    """
    positions = list(itertools.product(*(range(s) for s in shape)))
    x = torch.rand(1, *shape, dtype=torch.float64).expand(len(positions), *shape).clone().requires_grad_(True)
    log_probs = model.conditional_log_probs(x)  # (N, C, H, W, L)
    projection = torch.randn(log_probs.shape[-1], dtype=torch.float64)
    selected = torch.stack([log_probs[n, c, r, w] for n, (c, r, w) in enumerate(positions)])  # (N, L)
    (jacobian,) = torch.autograd.grad((selected * projection).sum(), x)
    return positions, jacobian


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case[0][0]}ch-{case[2]}")
@pytest.mark.parametrize("name", MODELS)
def test_causality_by_gradients_at_every_sub_pixel(name, case):
    """d(conditional of sub-pixel i) / d(input j) is 0 for j >= i and non-zero for an earlier j (a dead net fails)."""
    shape, levels, output = case
    # Wide enough that no position has all of a channel group's ReLUs off by chance (16 units per group).
    model = tiny_model(name, shape, levels, output, hidden=24, output_hidden=48)
    positions, jacobian = subpixel_jacobian(model, shape)
    order = raster_order(shape)
    full_context = name in ("gated-pixelcnn", "pixelrnn-diag")  # no blind spot: every earlier sub-pixel is read
    for n, (channel, row, col) in enumerate(positions):
        unseen = torch.zeros(shape, dtype=torch.bool)
        if name == "pixelrnn-diag":
            unseen = diagonal_bilstm_unseen(shape, model.groups, row, col)
        i = int(order[channel, row, col])
        reads = jacobian[n] != 0  # (C, H, W)
        where = f"sub-pixel (c={channel}, r={row}, w={col})"
        assert not reads[order >= i].any(), f"{where} depends on itself or a later sub-pixel: {reads.nonzero().tolist()}"
        if i > 0:
            assert reads[predecessor(channel, row, col, shape[0])], f"{where} ignores the sub-pixel just before it"
        if full_context:
            missed = ~reads & (order < i) & ~unseen
            assert not missed.any(), f"{where} has a blind spot: {missed.nonzero().tolist()}"


def diagonal_bilstm_unseen(shape, groups, row, col, input_reach=3):
    """The one place the Diagonal BiLSTM cannot see: the end of the row above.

    Every hidden feature at pixel p (any layer, after the mask-A input conv) is independent of
    p's last channel group. The right-to-left LSTM of row r-1 therefore never reads that group
    of pixel (r-1, W-1); pixel (r, c) sees it only through the 7x7 input conv, i.e. when
    c >= W-1-3. (A property of the paper's architecture, not of this implementation.)
    """
    channels, _, width = shape
    unseen = torch.zeros(shape, dtype=torch.bool)
    if row > 0 and col < width - 1 - input_reach:
        last_group = torch.arange(channels) * groups // channels == groups - 1
        unseen[last_group, row - 1, width - 1] = True
    return unseen


def test_pixelcnn_has_the_blind_spot_that_gated_pixelcnn_removes():
    """Van den Oord et al. 2016b, Figure 1: stacked masked 3x3 kernels never reach the upper right."""
    shape = (1, 2, 6)
    for name, blind in (("pixelcnn", True), ("gated-pixelcnn", False)):
        model = tiny_model(name, shape, 2, hidden=24, output_hidden=48)
        x = torch.rand(1, *shape, dtype=torch.float64, requires_grad=True)
        model.conditional_log_probs(x)[0, 0, 1, 0].sum().backward()
        assert x.grad[0, 0, 0, :4].ne(0).all(), name  # both read the row above within the 7x7 input conv
        assert (x.grad[0, 0, 0, 4:] == 0).all() == blind, name  # pixels (0, 4), (0, 5) as seen from (1, 0)


def all_images(shape, levels):
    """Every image of the space, as floats in [0, 1]: (levels**dims, C, H, W)."""
    grid = torch.tensor(list(itertools.product(range(levels), repeat=math.prod(shape))), dtype=torch.float64)
    return (grid / (levels - 1)).view(-1, *shape)


SPACES = [  # (shape, levels, outputs): 2x2 binary, a 1x2 RGB image with 3 levels (3^6 images), 2x2 gray with 4 levels
    ((1, 2, 2), 2, ["bernoulli", "categorical", "logistic_mixture"]),
    ((3, 1, 2), 3, ["categorical", "logistic_mixture"]),
    ((1, 2, 2), 4, ["categorical", "logistic_mixture"]),
]
NORMALIZATION_CASES = [(shape, levels, output) for shape, levels, outputs in SPACES for output in outputs]


@pytest.mark.parametrize("case", NORMALIZATION_CASES, ids=lambda case: f"{case[0]}-{case[1]}levels-{case[2]}")
@pytest.mark.parametrize("name", MODELS)
def test_probabilities_of_every_image_sum_to_one(name, case):
    shape, levels, output = case
    model = tiny_model(name, shape, levels, output)
    images = all_images(shape, levels)
    with torch.no_grad():
        log_prob = model.log_prob(images)  # (N,)
    assert torch.logsumexp(log_prob, 0).item() == pytest.approx(0.0, abs=1e-10)
    assert log_prob.std() > 0.1  # not the uniform distribution: the check has teeth


@pytest.mark.parametrize("output", ["categorical", "logistic_mixture"])
def test_class_conditional_gated_pixelcnn_is_normalized_for_every_label(output):
    shape, levels = (3, 1, 2), 3
    model = tiny_model("gated-pixelcnn", shape, levels, output, num_classes=3, conditional=True)
    images = all_images(shape, levels)
    totals = []
    with torch.no_grad():
        for label in range(3):
            log_prob = model.log_prob(images, torch.full((len(images),), label))
            totals.append(torch.logsumexp(log_prob, 0).item())
            if label == 0:
                first = log_prob
    assert totals == pytest.approx([0.0] * 3, abs=1e-10)
    assert (log_prob - first).abs().max() > 1e-3  # the label matters


@pytest.mark.parametrize("name", MODELS + ["gated-pixelcnn-conditional"])
def test_loss_is_per_example_nll_with_bits_per_dim_and_every_parameter_trains(name):
    conditional = name.endswith("-conditional")
    options = {"num_classes": 3, "conditional": True} if conditional else {}
    model = tiny_model(name.removesuffix("-conditional"), (3, 3, 4), 4, **options)
    x = torch.randint(0, 4, (5, 3, 3, 4)).double() / 3
    out = model.loss(x, torch.tensor([0, 1, 2, 0, 1]) if conditional else None)
    assert set(out) == {"loss", "nll", "bits_per_dim"} and out["loss"].shape == (5,)
    torch.testing.assert_close(out["loss"], -model.log_prob(x, torch.tensor([0, 1, 2, 0, 1]) if conditional else None))
    torch.testing.assert_close(out["bits_per_dim"], out["nll"] / (36 * math.log(2)))
    out["loss"].mean().backward()
    unused = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert not unused, f"parameters without gradient (DistributedDataParallel rejects them): {unused}"


def test_value_range_is_respected():
    """Levels are read in the DataFormat's value space: (-1, 1) data equals the same images in (0, 1)."""
    torch.manual_seed(0)
    unit = build_model("pixelcnn", (1, 3, 3), levels=4, **TINY["pixelcnn"]).double()
    symmetric = build_model("pixelcnn", (1, 3, 3), levels=4, value_range=(-1.0, 1.0), **TINY["pixelcnn"]).double()
    symmetric.load_state_dict(unit.state_dict())
    levels = torch.randint(0, 4, (3, 1, 3, 3)).double()
    torch.testing.assert_close(unit.log_prob(levels / 3), symmetric.log_prob(levels / 3 * 2 - 1))


@pytest.mark.parametrize("name", MODELS)
def test_default_nets_start_with_sane_output_scale(name):
    """Default-size nets (pixelcnn: 15 residual blocks) at initialization: |logits| < 20 (no doubled residuals)."""
    torch.manual_seed(0)
    for levels in (2, 256):
        model = build_model(name, (1, 16, 16), levels=levels)
        x = torch.randint(0, levels, (1, 1, 16, 16)).float() / (levels - 1)
        with torch.no_grad():
            params = model.network(model.to_scaled(x))
        assert params.abs().max() < 20, (name, levels, params.abs().max().item())
        assert params.std() > 1e-3  # and not dead


@pytest.mark.parametrize("name", MODELS)
def test_registry_capabilities_and_selection_metric(name):
    cls = model_class(name)
    assert issubclass(cls, AutoregressiveModel) and cls.selection_metric == "nll"
    model = build_model(name, (1, 4, 4), levels=2, **TINY[name])
    assert model.capabilities.exact_likelihood and not model.capabilities.likelihood_bound
    assert model.capabilities.label_conditional is False


def test_gated_pixelcnn_capabilities_follow_the_config():
    assert model_class("gated-pixelcnn").capabilities.label_conditional  # the family can be conditional
    conditional = build_model("gated-pixelcnn", (1, 4, 4), levels=2, num_classes=10, conditional=True, **TINY["gated-pixelcnn"])
    assert conditional.capabilities.label_conditional and conditional.capabilities.exact_likelihood
    with pytest.raises(ValueError, match="pass labels"):
        conditional.loss(torch.zeros(1, 1, 4, 4))
    with pytest.raises(ValueError, match="num_classes"):
        build_model("gated-pixelcnn", (1, 4, 4), levels=2, conditional=True)


@pytest.mark.parametrize(
    "options,message",
    [
        ({"output": "gaussian"}, "choose one of auto, bernoulli, categorical, logistic_mixture"),
        ({"sampler": "fastest"}, "choose one of fast, naive"),
        ({"output": "bernoulli"}, "2 levels"),
        ({"hidden": 4, "output_hidden": 6}, "channel groups"),
    ],
)
def test_bad_options_raise_one_line_errors(options, message):
    with pytest.raises(ValueError, match=message):
        build_model("pixelcnn", (3, 4, 4), levels=4, **{**TINY["pixelcnn"], **options})


def test_continuous_data_and_wrong_shapes_are_rejected():
    with pytest.raises(ValueError, match="discrete"):
        build_model("pixelrnn-row", (1, 4, 4), levels=None)
    model = build_model("pixelrnn-diag", (1, 4, 4), levels=2, **TINY["pixelrnn-diag"])
    with pytest.raises(ValueError, match="shape"):
        model.log_prob(torch.zeros(2, 1, 5, 4))


# Gated PixelCNN at widths equal to the image's channels (hidden=1 on gray, 3 on RGB): the
# input layer must still add no residual, or the sub-pixel being predicted reaches every later layer.
NARROW_CAUSALITY = [((1, 4, 5), 2, "bernoulli", 1), ((3, 4, 5), 4, "categorical", 3), ((3, 3, 4), 3, "logistic_mixture", 3)]


@pytest.mark.parametrize("case", NARROW_CAUSALITY, ids=lambda case: f"{case[0][0]}ch-hidden{case[3]}-{case[2]}")
def test_gated_pixelcnn_as_narrow_as_the_image_stays_causal(case):
    shape, levels, output, hidden = case
    model = tiny_model("gated-pixelcnn", shape, levels, output, hidden=hidden, output_hidden=8)
    positions, jacobian = subpixel_jacobian(model, shape)
    order = raster_order(shape)
    read_something = False
    for n, (channel, row, col) in enumerate(positions):
        reads = jacobian[n] != 0  # (C, H, W)
        i = int(order[channel, row, col])
        assert not reads[order >= i].any(), f"sub-pixel (c={channel}, r={row}, w={col}) reads itself or a later one"
        read_something |= bool(reads.any())
    assert read_something  # a dead network would pass the check above


@pytest.mark.parametrize("case", [((1, 2, 2), 2, "bernoulli", 1), ((3, 1, 2), 3, "categorical", 3), ((1, 2, 2), 4, "logistic_mixture", 1)],
                         ids=lambda case: f"{case[0]}-hidden{case[3]}-{case[2]}")
def test_gated_pixelcnn_as_narrow_as_the_image_is_normalized(case):
    shape, levels, output, hidden = case
    model = tiny_model("gated-pixelcnn", shape, levels, output, hidden=hidden, output_hidden=8)
    with torch.no_grad():
        log_prob = model.log_prob(all_images(shape, levels))  # (N,)
    assert torch.logsumexp(log_prob, 0).item() == pytest.approx(0.0, abs=1e-10)
    assert log_prob.std() > 0.05


def test_gated_pixelcnn_as_narrow_as_the_image_samples_alike_fast_and_naive():
    model = tiny_model("gated-pixelcnn", (3, 3, 4), 4, "categorical", hidden=3, output_hidden=8)
    fast = model.sample(3, generator=torch.Generator().manual_seed(5), method="fast")
    naive = model.sample(3, generator=torch.Generator().manual_seed(5), method="naive")
    assert torch.equal(fast, naive)
