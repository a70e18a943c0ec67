"""Fast paths (channels-last, torch.compile, CPU bf16 / fp16 autocast) give the fp32 eager losses up to rounding.

The compile tests use the `aot_eager` backend (tracing and autograd capture without inductor's
C++ build, which takes ~40 s per tiny model on a 2-core machine); the inductor default was
checked by hand (see benchmarks/throughput.py --compile).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pytest
import torch
from genzoo_testing.tiny_models import TINY, make_batch  # the registry's tiny cases
from genzoo_testing.training import make_config

from genzoo.config import parse_overrides
from genzoo.errors import ConfigError
from genzoo.models import build_model_from_format
from genzoo.train import resolve_run_config, train
from genzoo.train import fast_paths
from genzoo.runs.checkpoint import read_checkpoint
from genzoo.train.logging import read_metrics
from genzoo.train.device import autocast_dtype
from genzoo.train.trainer import Trainer


CONV_CASES = [
    pytest.param(name, options, data_format, id=f"{name}-{case}")
    for name, cases in TINY.items()
    for case, options, data_format in cases
    if fast_paths.has_2d_convolutions(build_model_from_format(name, data_format, options))
]
TINY_RUNS = {  # trainer runs on 1x28x28 `shapes`
    "pixelcnn": {"hidden": 8, "residual_blocks": 1, "output_hidden": 8},
    "dcgan": {"latent_dim": 4, "generator_channels": 4, "discriminator_channels": 4},  # two phases, noise in the loss
}
RELATIVE = 1e-5


@pytest.fixture(autouse=True)
def fresh_dynamo(monkeypatch):
    """aot_eager instead of inductor, and no compiled frames or recompile counts carried between tests."""
    monkeypatch.setattr(fast_paths, "COMPILE_BACKEND", "aot_eager")
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def _losses_and_grads(forward, model, x, y, phase):
    """Per-example losses of forward(x, y, phase) and the gradients of their mean on model's parameters."""
    model.zero_grad(set_to_none=True)
    torch.manual_seed(1)  # the same noise (VAE z, GAN z) on every path
    loss = forward(x, y, phase=phase)["loss"]  # (B,)
    loss.mean().backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return loss.detach(), grads


def _assert_close(actual, expected, rtol, what, floor=1e-12):
    """Relative to the tensor's own largest value, or to `floor` when that is smaller (a gradient that is
    zero by construction, e.g. a bias a one-channel-per-group GroupNorm cancels, holds only rounding noise)."""
    scale = expected.abs().max().clamp_min(floor)
    error = ((actual - expected).abs().max() / scale).item()
    assert error <= rtol, f"{what}: relative error {error:.2e} > {rtol:g}"


def _generate(model, x: torch.Tensor) -> torch.Tensor:
    """3 samples, or the outputs of an image-to-image model for the conditions of 3 images of x, seeded."""
    generator = torch.Generator().manual_seed(2)
    if model.capabilities.image_to_image:
        return model.translate(model.split(x[:3])[0], generator=generator)
    return model.sample(3, generator=generator)


@pytest.mark.parametrize("name, options, data_format", CONV_CASES)
def test_channels_last_gives_the_contiguous_losses_gradients_and_samples(name, options, data_format):
    torch.manual_seed(0)
    model = build_model_from_format(name, data_format, options)
    x, y = make_batch(data_format, 6)  # (B, C, H, W)
    reference = {phase.name: _losses_and_grads(model, model, x, y, phase.name) for phase in model.training_phases()}
    model.eval()
    reference_samples = _generate(model, x)

    model = model.to(memory_format=torch.channels_last)
    samples = _generate(model, x)  # before training updates BatchNorm statistics
    assert torch.allclose(samples, reference_samples, atol=1e-5), "sampling differs under channels_last"
    model.train()
    x_nhwc = fast_paths.to_channels_last(x)
    assert x_nhwc.is_contiguous(memory_format=torch.channels_last) and torch.equal(x_nhwc, x)
    for phase, (expected_loss, expected_grads) in reference.items():
        loss, grads = _losses_and_grads(model, model, x_nhwc, y, phase)
        _assert_close(loss, expected_loss, RELATIVE, f"{phase} loss")
        assert grads.keys() == expected_grads.keys()
        largest = max(float(g.abs().max()) for g in expected_grads.values())
        for key in grads:
            _assert_close(grads[key], expected_grads[key], RELATIVE, f"{phase} gradient of {key}", floor=largest)


@pytest.mark.parametrize("name", ["pixelcnn", "vae", "dcgan"])
def test_compiled_forward_gives_the_eager_losses_and_gradients(name):
    _, options, data_format = TINY[name][0]
    torch.manual_seed(0)
    model = build_model_from_format(name, data_format, options)
    x, y = make_batch(data_format, 6)
    forward = fast_paths.compile_forward(model, True)
    for phase in model.training_phases():
        expected_loss, expected_grads = _losses_and_grads(model, model, x, y, phase.name)
        loss, grads = _losses_and_grads(forward, model, x, y, phase.name)
        assert forward.active, "the compiled forward fell back to eager"
        _assert_close(loss, expected_loss, RELATIVE, f"{phase.name} loss")
        for key in expected_grads:
            _assert_close(grads[key], expected_grads[key], RELATIVE, f"{phase.name} gradient of {key}")


def _train_losses(run_dir: Path) -> list[dict[str, float]]:
    return [{k: v for k, v in m.items() if k.endswith("loss")} for m in read_metrics(run_dir / "metrics.jsonl") if m["split"] == "train"]


def _assert_same_losses(actual, expected):
    assert len(actual) == len(expected) and actual
    for got, want in zip(actual, expected):
        assert got.keys() == want.keys()
        for key in want:
            assert got[key] == pytest.approx(want[key], rel=RELATIVE), key


@pytest.mark.parametrize("model", sorted(TINY_RUNS))
def test_compiled_channels_last_run_matches_plain_and_resumes_without_them(tmp_path, model):
    options = TINY_RUNS[model]
    plain = train(make_config(model, options, steps=6, ema_decay=0.9), tmp_path / "plain")
    trainer = Trainer(make_config(model, options, steps=4, ema_decay=0.9, compile=True, channels_last="yes"), tmp_path / "fast", resume=False)
    try:
        kernels = [p for p in trainer.module.parameters() if p.dim() == 4]  # (out, in, kh, kw)
        assert kernels and all(p.is_contiguous(memory_format=torch.channels_last) for p in kernels)
        fast = trainer.fit()
        assert trainer.train_forward.active, "the compiled forward fell back to eager"
    finally:
        trainer.close()
    assert plain.status == fast.status == "finished"
    _assert_same_losses(_train_losses(tmp_path / "fast"), _train_losses(tmp_path / "plain")[:2])

    tensors = read_checkpoint(fast.last_checkpoint).tensors
    assert not [key for key in tensors if "_orig_mod" in key]
    assert all(value.is_contiguous() for value in tensors.values())

    resumed = train(make_config(model, options, steps=6, ema_decay=0.9), tmp_path / "fast", resume=True)
    assert resumed.status == "finished" and resumed.step == 6
    _assert_same_losses(_train_losses(tmp_path / "fast"), _train_losses(tmp_path / "plain"))
    for key, value in resumed.final_metrics.items():
        assert value == pytest.approx(plain.final_metrics[key], rel=1e-4), key  # evaluated with the EMA weights


def _raise(*args, **kwargs):
    raise RuntimeError("no C++ compiler\nsecond line of a long compiler log")


def _backward_compiler_failing_backend():
    """aot_eager whose backward compiler raises: AOTAutograd would meet it inside loss.backward()."""
    from torch._dynamo.backends.common import aot_autograd

    return aot_autograd(fw_compiler=lambda graph, inputs: graph, bw_compiler=_raise)


@pytest.mark.parametrize("where", ["at wrapping", "at the first call", "compiling the backward"])
def test_a_failing_compile_warns_once_and_trains_eagerly(tmp_path, monkeypatch, caplog, where):
    if where == "at wrapping":
        monkeypatch.setattr(torch, "compile", _raise)
    elif where == "at the first call":
        monkeypatch.setattr(torch, "compile", lambda model, **kwargs: _raise)
    else:
        monkeypatch.setattr(fast_paths, "COMPILE_BACKEND", _backward_compiler_failing_backend())
    options = TINY_RUNS["pixelcnn"]
    train(make_config("pixelcnn", options), tmp_path / "plain")
    with caplog.at_level(logging.WARNING, logger="genzoo.train"):
        result = train(make_config("pixelcnn", options, compile=True), tmp_path / "fallback")
    assert result.status == "finished" and result.step == 4
    warnings = [r.getMessage() for r in caplog.records if "train.compile" in r.getMessage()]
    assert len(warnings) == 1 and "no C++ compiler" in warnings[0] and "second line" not in warnings[0]
    _assert_same_losses(_train_losses(tmp_path / "fallback"), _train_losses(tmp_path / "plain"))


@pytest.mark.parametrize("name", ["pixelcnn", "ae"])
def test_cpu_bf16_autocast_stays_within_bfloat16_rounding_of_fp32(name):
    _, options, data_format = TINY[name][0]
    torch.manual_seed(0)
    model = build_model_from_format(name, data_format, options)
    x, y = make_batch(data_format, 6)
    expected = model(x, y)["loss"]  # (B,)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = model(x, y)["loss"].float()  # (B,)
    _assert_close(loss, expected, 3e-2, "bf16 loss")  # bf16 keeps 8 mantissa bits: ~0.4% per rounding


@pytest.mark.parametrize("model", sorted(TINY_RUNS))
def test_fp16_runs_with_loss_scaling_and_resumes_exactly(tmp_path, model):
    """float16 autocast on the CPU exercises the GradScaler path of pre-Ampere GPUs: losses stay
    within float16 rounding of fp32, each phase's scale is saved, and a resumed run is the same run."""
    options = TINY_RUNS[model]
    train(make_config(model, options, steps=6), tmp_path / "fp32")
    whole = train(make_config(model, options, steps=6, precision="fp16"), tmp_path / "whole")
    train(make_config(model, options, steps=4, precision="fp16"), tmp_path / "split")
    resumed = train(make_config(model, options, steps=6, precision="fp16"), tmp_path / "split", resume=True)
    assert whole.status == resumed.status == "finished"

    first_fp16, first_fp32 = _train_losses(tmp_path / "whole")[0], _train_losses(tmp_path / "fp32")[0]
    for key, value in first_fp32.items():
        assert first_fp16[key] == pytest.approx(value, rel=2e-2), key  # float16 keeps 11 mantissa bits
    assert _train_losses(tmp_path / "split") == _train_losses(tmp_path / "whole")
    scalers = read_checkpoint(whole.last_checkpoint).metadata["grad_scalers"]
    assert set(scalers) == {phase.name for phase in build_model_from_format(model, _shapes_format(), options).training_phases()}
    assert all(state["scale"] > 0 and "_growth_tracker" in state for state in scalers.values())
    assert read_checkpoint(resumed.last_checkpoint).metadata["grad_scalers"] == scalers
    fp32_scalers = read_checkpoint(tmp_path / "fp32" / "checkpoints" / "last.safetensors").metadata["grad_scalers"]
    assert all(state == {} for state in fp32_scalers.values())


def test_fp16_overflow_skips_the_step_and_lowers_the_scale(tmp_path, monkeypatch):
    """An initial scale so large that every float16 gradient overflows: the first steps leave the
    weights alone and halve the scale until it fits; the run then trains normally."""
    monkeypatch.setattr(torch.amp.GradScaler, "__init__", _scaler_starting_at(2.0**60))
    result = train(make_config("pixelcnn", TINY_RUNS["pixelcnn"], steps=24, precision="fp16", log_every=1), tmp_path / "run")
    assert result.status == "finished"
    scale = read_checkpoint(result.last_checkpoint).metadata["grad_scalers"]["model"]["scale"]
    assert scale <= 2.0**60 / 2**10  # halved at least once per overflowing step
    losses = [m["loss"] for m in _train_losses(tmp_path / "run")]
    assert all(map(math.isfinite, losses)) and min(losses[-4:]) < losses[0]


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_evaluation_is_fp32_whatever_the_training_precision(tmp_path, precision):
    """Held-out NLL in metrics.jsonl (and the best-checkpoint choice) must not carry autocast
    rounding: a low-precision run evaluates its weights exactly as an fp32 run does."""
    options = TINY_RUNS["pixelcnn"]
    trainers = [Trainer(make_config("pixelcnn", options, steps=1, precision=p), tmp_path / p, resume=False) for p in ("fp32", precision)]
    try:
        exact, low = (trainer.evaluate(2) for trainer in trainers)
    finally:
        for trainer in trainers:
            trainer.close()
    assert exact and low.keys() == exact.keys()
    for key, value in exact.items():
        assert low[key] == pytest.approx(value, rel=1e-6, abs=1e-7), key


def _scaler_starting_at(init_scale: float):
    original = torch.amp.GradScaler.__init__

    def init(self, device="cuda", init_scale_=None, *args, **kwargs):  # noqa: ANN001
        kwargs["init_scale"] = init_scale
        original(self, device, *args, **kwargs)

    return init


def _shapes_format():
    from genzoo.data.format import DataFormat

    return DataFormat(image_shape=(1, 28, 28), levels=256)


@pytest.mark.parametrize("capability, expected", [((7, 5), torch.float16), ((8, 0), torch.bfloat16), ((9, 0), torch.bfloat16)])
def test_auto_precision_is_bf16_where_native_and_fp16_on_older_gpus(monkeypatch, capability, expected):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    cuda, cpu = torch.device("cuda", 0), torch.device("cpu")
    assert autocast_dtype(cuda, "auto") == expected  # T4 / V100 emulate bf16 slowly: fp16 + loss scaling
    assert autocast_dtype(cuda, "bf16") == torch.bfloat16 and autocast_dtype(cuda, "fp32") is None
    assert autocast_dtype(cpu, "auto") is None and autocast_dtype(cpu, "fp16") == torch.float16


def test_channels_last_auto_is_on_only_for_cuda_conv_models():
    _, conv_options, conv_format = TINY["dcgan"][0]
    _, mlp_options, mlp_format = TINY["gan"][0]
    conv = build_model_from_format("dcgan", conv_format, conv_options)
    mlp = build_model_from_format("gan", mlp_format, mlp_options)
    cuda, cpu = torch.device("cuda", 0), torch.device("cpu")
    assert fast_paths.use_channels_last("auto", cuda, conv) and not fast_paths.use_channels_last("auto", cuda, mlp)
    assert not fast_paths.use_channels_last("auto", cpu, conv)
    assert fast_paths.use_channels_last("yes", cpu, mlp) and not fast_paths.use_channels_last("no", cuda, conv)


def test_fast_path_options_parse_from_overrides_and_reject_bad_values():
    config = resolve_run_config(preset={"model": "ae", "data": "shapes"},
                                overrides=parse_overrides(["train.compile=true", "train.channels_last=yes"]))
    assert config.train.compile is True and config.train.channels_last == "yes"
    with pytest.raises(ConfigError, match=r"^bad value 'maybe' for train.compile: expected true or false$"):
        resolve_run_config(preset={"model": "ae"}, overrides=parse_overrides(["train.compile=maybe"]))
    with pytest.raises(ConfigError, match=r"^bad value 'nhwc' for train.channels_last: choose one of auto, yes, no$"):
        resolve_run_config(preset={"model": "ae"}, overrides=parse_overrides(["train.channels_last=nhwc"]))
