"""Tests every registered model gets, parametrized over the registry (STYLE.md).

A new model must add a tiny configuration to TINY below; the first test fails until it does.
"""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file, save_file

from genzoo.data.format import DataFormat
from genzoo.models import MODEL_REGISTRY, build_model_from_format

GRAY_8 = DataFormat(image_shape=(1, 8, 8), levels=256)
RGB_8 = DataFormat(image_shape=(3, 8, 8), levels=256)
BINARY_8 = DataFormat(image_shape=(1, 8, 8), levels=2)
LABELLED_BINARY_8 = DataFormat(image_shape=(1, 8, 8), levels=2, num_classes=3)
CONTINUOUS_8 = DataFormat(image_shape=(1, 8, 8), levels=None)
GRAY4_8 = DataFormat(image_shape=(1, 8, 8), levels=4)  # few levels: tiny autoregressive nets must halve their loss
RGB4_8 = DataFormat(image_shape=(3, 8, 8), levels=4)

# model name -> list of (case id, options, data format): small enough for a CPU test.
TINY: dict[str, list[tuple[str, dict, DataFormat]]] = {
    "ae": [
        ("conv-gray", {"latent_dim": 4, "channels": 8}, GRAY_8),
        ("mlp-rgb", {"architecture": "mlp", "latent_dim": 4, "hidden": 32}, RGB_8),
        ("conv-bce-binary", {"latent_dim": 4, "channels": 8, "reconstruction": "bce"}, BINARY_8),
    ],
    "vae": [
        ("conv-bernoulli-binary", {"latent_dim": 4, "channels": 8, "iwae_samples": 4}, BINARY_8),
        ("mlp-logistic-rgb", {"architecture": "mlp", "latent_dim": 8, "hidden": 32, "iwae_samples": 4}, RGB_8),
        ("mlp-gaussian-fixed", {"architecture": "mlp", "latent_dim": 4, "hidden": 32, "gaussian_variance": "fixed"}, CONTINUOUS_8),
        ("mlp-conditional-warmup", {"architecture": "mlp", "latent_dim": 4, "hidden": 32, "conditional": True, "kl_warmup_steps": 10},
         LABELLED_BINARY_8),
    ],
    "pixelcnn": [
        ("binary-bernoulli", {"hidden": 8, "residual_blocks": 2, "output_hidden": 8}, BINARY_8),
        ("rgb-mixture", {"hidden": 12, "residual_blocks": 1, "output_hidden": 12, "output": "logistic_mixture", "mixture_components": 2}, RGB4_8),
    ],
    "gated-pixelcnn": [
        ("gray-categorical", {"hidden": 8, "layers": 2, "output_hidden": 8}, GRAY4_8),
        ("conditional-binary", {"hidden": 8, "layers": 2, "output_hidden": 8, "conditional": True}, LABELLED_BINARY_8),
    ],
    "pixelrnn-row": [
        ("rgb-categorical", {"hidden": 12, "layers": 1, "output_hidden": 12}, RGB4_8),
    ],
    "pixelrnn-diag": [
        ("binary", {"hidden": 8, "layers": 1, "output_hidden": 8}, BINARY_8),
    ],
    "gan": [
        ("maxout-rgb", {"latent_dim": 4, "generator_hidden": [16], "discriminator_hidden": [16, 8], "maxout_pieces": 2}, RGB_8),
        ("conditional-minimax", {"latent_dim": 4, "generator_hidden": [16, 16], "discriminator_hidden": [16],
                                 "discriminator_activation": "leaky-relu", "conditional": True, "g_loss": "minimax",
                                 "prior": "uniform", "d_steps": 2},
         DataFormat(image_shape=(1, 8, 8), value_range=(-1.0, 1.0), num_classes=3)),
    ],
    "dcgan": [
        ("gray-8px", {"latent_dim": 4, "generator_channels": 4, "discriminator_channels": 4}, GRAY_8),
        ("conditional-rgb-16px", {"latent_dim": 4, "generator_channels": 4, "discriminator_channels": 4, "conditional": True},
         DataFormat(image_shape=(3, 16, 16), value_range=(-1.0, 1.0), num_classes=4)),
    ],
}

CASES = [pytest.param(name, options, fmt, id=f"{name}-{case}") for name, cases in TINY.items() for case, options, fmt in cases]


def make_batch(data_format: DataFormat, batch: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Random images on the format's level grid (B, C, H, W) and labels (B,) when the format has classes."""
    generator = torch.Generator().manual_seed(seed)
    levels = data_format.levels or 256
    low, high = data_format.value_range
    integers = torch.randint(0, levels, (batch, *data_format.image_shape), generator=generator)
    x = low + (high - low) * integers.float() / (levels - 1)
    y = torch.randint(0, data_format.num_classes, (batch,), generator=generator) if data_format.num_classes else None
    return x, y


def build(name: str, options: dict, data_format: DataFormat):
    torch.manual_seed(0)
    return build_model_from_format(name, data_format, options)


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_every_registered_model_has_a_tiny_case():
    missing = sorted(set(MODEL_REGISTRY) - set(TINY))
    assert not missing, f"add tiny test configurations for: {missing}"


@pytest.mark.parametrize("name, options, data_format", CASES)
def test_loss_is_per_example_and_finite(name, options, data_format):
    model = build(name, options, data_format)
    x, y = make_batch(data_format, 5)
    for phase in model.training_phases():
        out = model.loss(x, y, phase.name)
        assert out["loss"].shape == (5,), "loss must be per example, shape (B,)"
        for key, value in out.items():
            assert value.shape[0] == 5, f"{key} is not per example"
            assert torch.isfinite(value).all(), f"{key} not finite"


@pytest.mark.parametrize("name, options, data_format", CASES)
def test_samples_have_the_declared_shape_and_values(name, options, data_format):
    model = build(name, options, data_format).eval()
    samples = model.sample(6, generator=torch.Generator().manual_seed(1))
    assert samples.shape == (6, *data_format.image_shape)
    low, high = data_format.value_range
    assert samples.min() >= low - 1e-6 and samples.max() <= high + 1e-6
    assert torch.isfinite(samples).all()


@pytest.mark.parametrize("name, options, data_format", CASES)
def test_train_step_changes_weights_and_eval_step_does_not(name, options, data_format):
    model = build(name, options, data_format)
    x, y = make_batch(data_format, 8)
    before = snapshot(model)
    model.eval()
    with torch.no_grad():
        model.evaluate(x, y)
        model.sample(2, generator=torch.Generator().manual_seed(0))
    after_eval = snapshot(model)
    for key in before:
        assert torch.equal(before[key], after_eval[key]), f"eval/sampling changed {key}"
    model.train()
    for phase in model.training_phases():
        optimizer = torch.optim.Adam(model.phase_parameters(phase.name), lr=1e-2)
        optimizer.zero_grad()
        model(x, y, phase=phase.name)["loss"].mean().backward()
        optimizer.step()
    after_train = snapshot(model)
    changed = [k for k in before if not torch.equal(before[k], after_train[k])]
    parameters = {k for k, _ in model.named_parameters()}
    assert parameters <= set(changed) | {k for k, p in model.named_parameters() if not p.requires_grad}, (
        f"parameters not updated by a training step: {sorted(parameters - set(changed))[:5]}"
    )


@pytest.mark.parametrize("name, options, data_format", CASES)
def test_save_load_sample_reproduces_images(name, options, data_format, tmp_path):
    model = build(name, options, data_format)
    x, y = make_batch(data_format, 8)
    model(x, y, phase=model.training_phases()[0].name)  # moves running statistics away from their initial values
    model.eval()
    path = tmp_path / "weights.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    torch.manual_seed(123)  # a different init: only the loaded weights may matter
    clone = build_model_from_format(name, data_format, options)
    clone.load_state_dict(load_file(str(path)))
    clone.eval()
    first = model.sample(4, generator=torch.Generator().manual_seed(7))
    second = clone.sample(4, generator=torch.Generator().manual_seed(7))
    assert torch.equal(first, second)


@pytest.mark.parametrize("name, options, data_format", CASES)
def test_overfits_a_small_batch(name, options, data_format):
    model = build(name, options, data_format)
    if len(model.training_phases()) > 1:
        pytest.skip("adversarial models have no single loss to overfit")
    x, y = make_batch(data_format, 4, seed=3)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    initial = model.loss(x, y)["loss"].mean().item()
    for _ in range(150):
        optimizer.zero_grad()
        model.loss(x, y)["loss"].mean().backward()
        optimizer.step()
    final = model.loss(x, y)["loss"].mean().item()
    assert final < 0.5 * initial, f"loss fell only from {initial:.4g} to {final:.4g}"


@pytest.mark.parametrize("name, options, data_format", CASES)
def test_wrong_image_shape_is_a_clear_error(name, options, data_format):
    model = build(name, options, data_format)
    c, h, w = data_format.image_shape
    with pytest.raises(ValueError, match="built for images of shape"):
        model.loss(torch.zeros(2, c, h + 4, w))


@pytest.mark.parametrize("name, options, data_format", CASES)
def test_declared_capabilities_work(name, options, data_format):
    model = build(name, options, data_format).eval()
    x, y = make_batch(data_format, 3)
    caps = model.capabilities
    if caps.exact_likelihood or caps.likelihood_bound:
        log_prob = model.log_prob(x, y)
        assert log_prob.shape == (3,) and torch.isfinite(log_prob).all()
    else:
        with pytest.raises(NotImplementedError):
            model.log_prob(x, y)
    if caps.encoder:
        z = model.encode(x)
        assert z.shape[0] == 3
        if caps.latent_decoder:
            assert model.decode(z).shape == x.shape



CONDITIONAL_CASES = [
    pytest.param(name, options, fmt, id=f"{name}-{case}")
    for name, cases in TINY.items() for case, options, fmt in cases if options.get("conditional")
]


@pytest.mark.parametrize("name, options, data_format", CONDITIONAL_CASES)
def test_class_labels_are_checked_with_one_line_errors(name, options, data_format):
    """Integer class indices, one per example, within 0..K-1, in training too on the CPU (only
    accelerator tensors in training skip the range check: see GenerativeModel.check_labels)."""
    model = build(name, options, data_format)
    x, y = make_batch(data_format, 2)
    phase = model.training_phases()[0].name
    top = data_format.num_classes - 1
    for mode in (model.eval, model.train):
        mode()
        with pytest.raises(ValueError, match=r"labels must be integers, got torch.float32"):
            model.loss(x, y.float(), phase)
        with pytest.raises(ValueError, match="got 3 labels for 2 examples"):
            model.loss(x, torch.zeros(3, dtype=torch.long), phase)
        with pytest.raises(ValueError, match=rf"labels must lie in 0\.\.{top}, got values in 0\.\.{top + 1}"):
            model.loss(x, torch.tensor([0, top + 1]), phase)
    assert torch.isfinite(model.loss(x, torch.tensor([0, top]), phase)["loss"]).all()
