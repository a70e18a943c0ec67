"""Tests every registered model gets, parametrized over the registry (STYLE.md).

A new model must add a tiny configuration to TINY (tests/genzoo_testing/tiny_models.py); the first test fails until it does.
Image-to-image models (capability image_to_image) generate through translate(condition) instead of sample(n).
"""

from __future__ import annotations

import pytest
import torch
from genzoo_testing.tiny_models import TINY, make_batch
from safetensors.torch import load_file, save_file

from genzoo.data.format import DataFormat
from genzoo.models import MODEL_REGISTRY, build_model_from_format

CASES = [pytest.param(name, options, fmt, id=f"{name}-{case}") for name, cases in TINY.items() for case, options, fmt in cases]


def build(name: str, options: dict, data_format: DataFormat):
    torch.manual_seed(0)
    return build_model_from_format(name, data_format, options)


def generate(model, data_format: DataFormat, n: int, seed: int) -> torch.Tensor:
    """n images from a generator seeded with `seed`: samples, or translations of n random inputs (image-to-image)."""
    generator = torch.Generator().manual_seed(seed)
    if model.capabilities.image_to_image:
        condition, _ = model.split(make_batch(data_format, n, seed=seed)[0])
        return model.translate(condition, generator=generator)
    return model.sample(n, generator=generator)


def output_shape(model, data_format: DataFormat) -> tuple[int, int, int]:
    return model.target_shape if model.capabilities.image_to_image else data_format.image_shape


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
    samples = generate(model, data_format, 6, seed=1)
    assert samples.shape == (6, *output_shape(model, data_format))
    low, high = data_format.value_range
    assert samples.min() >= low - 1e-6 and samples.max() <= high + 1e-6
    assert torch.isfinite(samples).all()
    if model.capabilities.image_to_image:  # an output needs an input
        with pytest.raises(NotImplementedError, match="translates inputs"):
            model.sample(2)


@pytest.mark.parametrize("name, options, data_format", CASES)
def test_train_step_changes_weights_and_eval_step_does_not(name, options, data_format):
    model = build(name, options, data_format)
    x, y = make_batch(data_format, 8)
    before = snapshot(model)
    model.eval()
    with torch.no_grad():
        model.evaluate(x, y)
        generate(model, data_format, 2, seed=0)
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
    first = generate(model, data_format, 4, seed=7)
    second = generate(clone, data_format, 4, seed=7)
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
