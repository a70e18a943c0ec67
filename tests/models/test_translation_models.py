"""Image-to-image models (regress, pix2pix, conditional-pixelcnn): the properties of each method.

Conditional PixelCNN: causal in the target, not in the condition; normalized over a tiny
target space for a fixed condition; fast == naive sampler; samples follow log p(t | c).
pix2pix: neither player gets gradients in the other's phase; test-time dropout is the noise,
reproducible from a generator. Every model: overfits one batch, one-line shape errors.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from genzoo.data.format import DataFormat
from genzoo.models import build_model_from_format
from genzoo.models.translation.pix2pix import stride2_layers

TINY_PIXELCNN = {"hidden": 12, "layers": 3, "output_hidden": 12, "condition_features": 6, "condition_width": 8}


def tiny_pixelcnn(shape, levels, task, output="auto", seed=0, **options):
    """A float64 conditional PixelCNN with perturbed weights (peaked conditionals, so mistakes change samples)."""
    torch.manual_seed(seed)
    data_format = DataFormat(image_shape=shape, levels=levels, task=task)
    model = build_model_from_format("conditional-pixelcnn", data_format, {**TINY_PIXELCNN, "output": output, **options})
    model = model.double().eval()
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() > 1:
                parameter.add_(0.3 * torch.randn_like(parameter))
    return model


def raster_order(shape):
    """Position of every sub-pixel (C, H, W) in the ordering: rows, then columns, then channels."""
    channels, height, width = shape
    return (torch.arange(height)[None, :, None] * width + torch.arange(width)[None, None, :]) * channels + torch.arange(channels)[:, None, None]


def jacobians(model):
    """Gradients of a random projection of each target sub-pixel's conditional w.r.t. the target (N, C, H, W) and
    the condition (N, Cc, Hc, Wc): one copy of one (target, condition) pair per sub-pixel n."""
    shape = model.target_shape
    positions = list(itertools.product(*(range(s) for s in shape)))
    target = torch.rand(1, *shape, dtype=torch.float64).expand(len(positions), *shape).clone().requires_grad_(True)
    condition = torch.rand(1, *model.condition_shape, dtype=torch.float64).expand(len(positions), -1, -1, -1).clone().requires_grad_(True)
    log_probs = model.pixelcnn.conditional_log_probs(target, condition)  # (N, C, H, W, L)
    projection = torch.randn(log_probs.shape[-1], dtype=torch.float64)
    selected = torch.stack([log_probs[n, c, r, w] for n, (c, r, w) in enumerate(positions)])  # (N, L)
    target_jacobian, condition_jacobian = torch.autograd.grad((selected * projection).sum(), (target, condition))
    return positions, target_jacobian, condition_jacobian


# (target shape, levels, task, output, hidden, seed); hidden == channels: the narrowest net. With one channel the
# skip sum passes one ReLU, which some initial biases switch off everywhere (seed 0 here): seed 3 keeps it alive.
CAUSALITY_CASES = [
    ((1, 4, 4), 2, "superres:2", "bernoulli", 24, 0),
    ((1, 4, 4), 2, "superres:2", "bernoulli", 1, 3),
    ((3, 4, 4), 4, "colorize", "categorical", 24, 0),
    ((3, 4, 4), 4, "colorize", "categorical", 3, 0),
    ((3, 3, 4), 3, "colorize", "logistic_mixture", 24, 0),
]


@pytest.mark.parametrize("case", CAUSALITY_CASES, ids=lambda case: f"{case[0][0]}ch-{case[2]}-{case[3]}-hidden{case[4]}")
def test_conditional_pixelcnn_is_causal_in_the_target_and_sees_all_of_the_condition(case):
    shape, levels, task, output, hidden, seed = case
    # Wide nets have 8 units per channel group (3 channels) and 48 output units: no position has all of a group's ReLUs off.
    model = tiny_pixelcnn(shape, levels, task, output, seed=seed, hidden=hidden, output_hidden=48)
    positions, target_jacobian, condition_jacobian = jacobians(model)
    order = raster_order(shape)
    wide = hidden > shape[0]  # narrower nets can have every unit of a position off (a ReLU of one channel)
    for n, (channel, row, col) in enumerate(positions):
        where = f"sub-pixel (c={channel}, r={row}, w={col})"
        i = int(order[channel, row, col])
        reads = target_jacobian[n] != 0  # (C, H, W)
        assert not reads[order >= i].any(), f"{where} reads itself or a later target sub-pixel: {reads.nonzero().tolist()}"
        if wide:  # no blind spot, and all of the condition, below and right of the sub-pixel too
            assert reads[order < i].all(), f"{where} has a blind spot"
            assert (condition_jacobian[n] != 0).all(), f"{where} ignores part of the condition"
    assert (target_jacobian != 0).any() and (condition_jacobian != 0).flatten(1).any(0).all()  # a dead net fails here


def all_targets(shape, levels):
    grid = torch.tensor(list(itertools.product(range(levels), repeat=math.prod(shape))), dtype=torch.float64)
    return (grid / (levels - 1)).view(-1, *shape)  # (levels**dims, C, H, W) in [0, 1]


@pytest.mark.parametrize("output", ["bernoulli", "categorical", "logistic_mixture"])
def test_conditional_probabilities_of_every_target_sum_to_one_for_a_fixed_condition(output):
    """Superres:2 on 1x2x2 binary targets: sum_t p(t | c) = 1 for any fixed c (not only the c of t), and c matters."""
    model = tiny_pixelcnn((1, 2, 2), 2, "superres:2", output)
    targets = all_targets((1, 2, 2), 2)  # (16, 1, 2, 2)
    with torch.no_grad():
        totals, per_condition = [], []
        for value in (0.3, 0.8):
            log_prob = model.conditional_log_prob(targets, torch.full((16, 1, 1, 1), value, dtype=torch.float64))
            totals.append(torch.logsumexp(log_prob, 0).item())
            per_condition.append(log_prob)
    assert totals == pytest.approx([0.0, 0.0], abs=1e-10)
    assert per_condition[0].std() > 0.1  # not uniform: the check has teeth
    assert (per_condition[0] - per_condition[1]).abs().max() > 1e-3  # the condition changes the distribution


def test_log_prob_of_paired_batches_is_normalized_over_the_target_half():
    """paired: x = [c | t] (1, 2, 4); with the left half fixed, exp(log_prob(x)) over the 16 right halves sums to one."""
    model = tiny_pixelcnn((1, 2, 4), 4, "paired", "categorical")
    right = all_targets((1, 2, 2), 2) * (2 / 3) + 1 / 3  # 16 targets on two of the 4 levels (1/3, 1)
    left = torch.tensor([0.0, 1 / 3, 2 / 3, 1.0], dtype=torch.float64).view(1, 1, 2, 2).expand(16, -1, -1, -1)
    with torch.no_grad():
        probabilities = model.log_prob(torch.cat([left, right], 3)).exp()  # (16,)
        every_target = all_targets((1, 2, 2), 4)  # all 4^4 targets
        total = model.conditional_log_prob(every_target, left[:1].expand(256, -1, -1, -1)).exp().sum()
    assert total.item() == pytest.approx(1.0, abs=1e-10)
    assert 0 < probabilities.sum() < 1  # a proper subset of the targets


SAMPLER_CASES = [  # (target shape, levels, task, output, hidden)
    ((1, 4, 4), 2, "superres:2", "bernoulli", 12),
    ((3, 4, 4), 4, "colorize", "categorical", 12),
    ((3, 4, 4), 4, "colorize", "categorical", 3),
    ((3, 2, 4), 5, "colorize", "logistic_mixture", 12),
    ((1, 4, 6), 6, "paired", "logistic_mixture", 12),
]


@pytest.mark.parametrize("case", SAMPLER_CASES, ids=lambda case: f"{case[2]}-{case[3]}-hidden{case[4]}")
def test_fast_and_naive_samplers_translate_alike(case):
    shape, levels, task, output, hidden = case
    model = tiny_pixelcnn(shape, levels, task, output, hidden=hidden)
    condition, _ = model.split(torch.randint(0, levels, (4, *shape), generator=torch.Generator().manual_seed(1)).double() / (levels - 1))
    for temperature in (0.7, 1.0):
        fast = model.translate(condition, temperature=temperature, generator=torch.Generator().manual_seed(3), method="fast")
        naive = model.translate(condition, temperature=temperature, generator=torch.Generator().manual_seed(3), method="naive")
        assert torch.equal(fast, naive), f"temperature {temperature}"
    assert fast.shape == (4, *model.target_shape)
    assert torch.equal(model.translate(condition, generator=torch.Generator().manual_seed(3)), fast)  # the default is fast
    assert not torch.equal(fast, model.translate(condition, generator=torch.Generator().manual_seed(4)))


def test_fast_stepper_computes_the_network_one_pixel_at_a_time():
    model = tiny_pixelcnn((3, 3, 4), 4, "colorize", "categorical")
    canvas = torch.rand(2, 3, 3, 4, dtype=torch.float64) * 2 - 1
    condition = torch.rand(2, 1, 3, 4, dtype=torch.float64) * 2 - 1
    with torch.no_grad():
        full = model.pixelcnn.network(canvas, condition)  # (B, P, H, W)
        stepper = model.pixelcnn.stepper(canvas, condition)
        for row in range(3):
            stepper.begin_row(row)
            for col in range(4):
                torch.testing.assert_close(stepper.params_at(row, col), full[:, :, row, col], rtol=1e-10, atol=1e-10)


def test_translations_follow_the_conditional_likelihood():
    """Frequencies of 4000 draws for one condition match p(t | c) over the 16 binary 1x2x2 targets."""
    model = tiny_pixelcnn((1, 2, 2), 2, "superres:2", "bernoulli")
    condition = torch.full((1, 1, 1, 1), 0.4, dtype=torch.float64)
    targets = all_targets((1, 2, 2), 2)
    with torch.no_grad():
        probabilities = model.conditional_log_prob(targets, condition.expand(16, -1, -1, -1)).exp()
    drawn = model.translate(condition.expand(4000, -1, -1, -1), generator=torch.Generator().manual_seed(0))
    index = (drawn.flatten(1).round().long() * torch.tensor([8, 4, 2, 1])).sum(1)
    frequencies = torch.bincount(index, minlength=16).double() / 4000
    assert 0.5 * (frequencies - probabilities).abs().sum() < 0.06


# ---- every model ---------------------------------------------------------------------------
SUPERRES = DataFormat(image_shape=(1, 8, 8), levels=256, task="superres:2")
TINY_OPTIONS = {
    "regress": {"width": 8},
    "pix2pix": {"width": 8, "discriminator_width": 8},
    "conditional-pixelcnn": {"hidden": 16, "layers": 3, "output_hidden": 32, "condition_features": 8, "condition_width": 8},
}


def build(name, data_format=SUPERRES, **options):
    torch.manual_seed(0)
    return build_model_from_format(name, data_format, {**TINY_OPTIONS[name], **options})


def blobs(batch=4):
    """Smooth 8x8 gray images on the 8-bit grid: one bright Gaussian blob each, at different places."""
    grid = torch.arange(8.0)
    centres = torch.tensor([[2.0, 2.0], [5.0, 3.0], [3.0, 6.0], [6.0, 6.0]])[:batch]
    rows = (grid[None, :, None] - centres[:, 0, None, None]) ** 2
    cols = (grid[None, None, :] - centres[:, 1, None, None]) ** 2
    images = torch.exp(-(rows + cols) / 4.0)[:, None]  # (B, 1, 8, 8)
    return (images * 255).round() / 255


def train(model, x, steps, lr=3e-3):
    optimizers = {phase.name: torch.optim.Adam(model.phase_parameters(phase.name), lr=lr) for phase in model.training_phases()}
    for _ in range(steps):
        for phase in model.training_phases():
            optimizers[phase.name].zero_grad()
            model.loss(x, phase=phase.name)["loss"].mean().backward()
            optimizers[phase.name].step()


@pytest.mark.parametrize("name", ["regress", "pix2pix", "conditional-pixelcnn"])
def test_each_model_overfits_one_batch(name):
    """regress: its L1 loss; pix2pix: the L1 error of G (its adversarial part has no floor); conditional-pixelcnn: the nll."""
    model = build(name, test_dropout=False) if name == "pix2pix" else build(name)
    x = blobs()

    def error():
        with torch.no_grad():
            return model.evaluate(x)["l1" if name == "pix2pix" else "loss"].mean().item()

    initial = error()
    train(model, x, steps=100)
    assert error() < (0.5 if name == "conditional-pixelcnn" else 0.25) * initial, name


def test_pix2pix_players_get_no_gradient_in_each_others_phase():
    model = build("pix2pix")
    x = blobs()
    generator_parameters = list(model.phase_parameters("generator"))
    discriminator_parameters = list(model.phase_parameters("discriminator"))
    assert {id(p) for p in generator_parameters}.isdisjoint(id(p) for p in discriminator_parameters)
    assert len(generator_parameters) + len(discriminator_parameters) == len(list(model.parameters()))
    model.loss(x, phase="discriminator")["loss"].mean().backward()
    assert all(p.grad is None for p in generator_parameters), "the discriminator phase reached G"
    assert all(p.grad is not None for p in discriminator_parameters) and any(p.grad.any() for p in discriminator_parameters)
    model.zero_grad(set_to_none=True)
    out = model.loss(x, phase="generator")
    out["loss"].mean().backward()
    assert all(p.grad is None for p in discriminator_parameters), "the generator phase reached D"
    assert all(p.grad is not None for p in generator_parameters)
    torch.testing.assert_close(out["loss"], out["g_loss"] + 100.0 * out["l1"])  # eq. (4), lambda = 100
    phases = model.training_phases()
    assert [p.name for p in phases] == ["discriminator", "generator"] and phases[0].lr == 2e-4 and phases[0].betas == (0.5, 0.999)
    with pytest.raises(ValueError, match="choose one of discriminator, generator"):
        model.loss(x, phase="model")


def test_pix2pix_test_dropout_is_the_noise_and_follows_the_generator():
    model = build("pix2pix").eval()
    condition, _ = model.split(blobs())
    state = torch.get_rng_state()
    first = model.translate(condition, generator=torch.Generator().manual_seed(1))
    again = model.translate(condition, generator=torch.Generator().manual_seed(1))
    other = model.translate(condition, generator=torch.Generator().manual_seed(2))
    assert torch.equal(torch.get_rng_state(), state)  # the global random state is left as it was
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert model.stochastic and not model.training and not any(m.training for m in model.modules())
    deterministic = build("pix2pix", test_dropout=False)
    assert not deterministic.stochastic
    outputs = [deterministic.translate(condition, generator=torch.Generator().manual_seed(seed)) for seed in (1, 2)]
    assert torch.equal(outputs[0], outputs[1])


def test_regress_translates_deterministically_in_the_value_range():
    data_format = DataFormat(image_shape=(1, 8, 8), levels=256, value_range=(-1.0, 1.0), task="superres:2")
    model = build("regress", data_format, dropout=0.3)  # dropout while training only
    condition, _ = model.split(blobs() * 2 - 1)
    outputs = [model.translate(condition, generator=torch.Generator().manual_seed(seed)) for seed in (1, 2)]
    assert torch.equal(outputs[0], outputs[1]) and torch.equal(outputs[0], model.translate(condition))
    assert outputs[0].shape == (4, 1, 8, 8) and outputs[0].min() >= -1 and outputs[0].max() <= 1
    assert not model.stochastic and model.training  # translate leaves the training mode as it was


@pytest.mark.parametrize("name", ["regress", "pix2pix", "conditional-pixelcnn"])
def test_a_wrongly_shaped_condition_is_a_one_line_error(name):
    model = build(name)
    with pytest.raises(ValueError, match=r"for task superres:2 takes inputs of shape \(B, 1, 4, 4\), got \(2, 1, 8, 8\)") as error:
        model.translate(torch.zeros(2, 1, 8, 8))
    assert "\n" not in str(error.value)
    with pytest.raises(NotImplementedError, match="translates inputs"):
        model.sample(2)


@pytest.mark.parametrize("name", ["regress", "pix2pix", "conditional-pixelcnn"])
def test_default_models_fit_fashion_mnist_sized_pairs(name):
    """Default configs on 28x28 (superres:4: 7x7 inputs) and 32x32 RGB colorization: outputs at the target's shape."""
    for shape, task in (((1, 28, 28), "superres:4"), ((3, 32, 32), "colorize")):
        torch.manual_seed(0)
        model = build_model_from_format(name, DataFormat(image_shape=shape, levels=256, task=task), {})
        x = torch.randint(0, 256, (2, *shape)).float() / 255
        assert torch.isfinite(model.loss(x, phase=model.training_phases()[-1].name)["loss"]).all()
        if name != "conditional-pixelcnn":  # its sampler is covered on tiny images
            assert model.translate(model.split(x)[0]).shape == (2, *shape)


def test_patchgan_keeps_a_patch_map_of_at_least_two_pixels():
    assert [stride2_layers(side, side, 3) for side in (8, 16, 28, 32, 64)] == [1, 2, 2, 3, 3]
    assert stride2_layers(28, 28, 1) == 1
    with pytest.raises(ValueError, match="too small for a PatchGAN"):
        stride2_layers(6, 6, 2)
