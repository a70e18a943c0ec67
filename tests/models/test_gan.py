"""GAN and DCGAN: Algorithm 1's schedule, isolation of the two players, eval-mode sampling, DCGAN layout."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genzoo.data.format import DataFormat
from genzoo.errors import ConfigError
from genzoo.models import build_model, build_model_from_format, model_class
from genzoo.models.base import TrainingPhase

SYMMETRIC_8 = DataFormat(image_shape=(1, 8, 8), value_range=(-1.0, 1.0))
TINY_GAN = {"latent_dim": 4, "generator_hidden": [16], "discriminator_hidden": [16], "maxout_pieces": 2}
TINY_DCGAN = {"latent_dim": 4, "generator_channels": 4, "discriminator_channels": 4}


def tiny(name: str, data_format: DataFormat = SYMMETRIC_8, **options):
    torch.manual_seed(0)
    base = TINY_GAN if name == "gan" else TINY_DCGAN
    return build_model_from_format(name, data_format, {**base, **options})


def batch(data_format: DataFormat = SYMMETRIC_8, n: int = 6) -> torch.Tensor:
    return torch.rand(n, *data_format.image_shape, generator=torch.Generator().manual_seed(1)) * 2 - 1


# ---- Algorithm 1: k discriminator steps per generator step ---------------------------------------
def test_training_phases_are_k_discriminator_steps_then_one_generator_step():
    model = tiny("gan", d_steps=3)
    assert model.training_phases() == [
        TrainingPhase("discriminator", repeats=3, lr=2e-4, betas=(0.5, 0.999)),
        TrainingPhase("generator", repeats=1, lr=2e-4, betas=(0.5, 0.999)),
    ]
    unset = tiny("dcgan", lr=None, betas=None).training_phases()
    assert [(p.name, p.repeats, p.lr, p.betas) for p in unset] == [("discriminator", 1, None, None), ("generator", 1, None, None)]


def test_dcgan_phases_carry_the_papers_adam_settings():
    phases = tiny("dcgan").training_phases()
    assert {(p.lr, p.betas) for p in phases} == {(2e-4, (0.5, 0.999))}


def test_trainer_takes_k_discriminator_steps_per_generator_step(tmp_path, monkeypatch):
    """A real run: optimizer steps in the order D, D, D, G per training step, each on its own player."""
    from genzoo.train import train
    from genzoo.runs.config import DataConfig, RunConfig, TrainConfig

    options = {**TINY_GAN, "d_steps": 3}
    model = build_model("gan", (1, 28, 28), **options)
    player_of = {}
    for player, net in (("discriminator", model.discriminator_net), ("generator", model.generator_net)):
        player_of[tuple(tuple(p.shape) for p in net.parameters())] = player
    steps: list[str] = []
    original = torch.optim.Adam.step

    def counting_step(self, *args, **kwargs):
        steps.append(player_of[tuple(tuple(p.shape) for p in self.param_groups[0]["params"])])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", counting_step)
    config = RunConfig(
        model="gan", model_options=options,
        data=DataConfig(name="shapes", options={"n_train": 64, "n_test": 16, "channels": 1, "size": 28}),
        train=TrainConfig(steps=2, batch_size=8, progress=False, log_every=1, eval_every=0, sample_every=0,
                          checkpoint_every=0, sample_count=4),
    )
    result = train(config, tmp_path / "run")
    assert result.status == "finished"
    assert steps == ["discriminator"] * 3 + ["generator"] + ["discriminator"] * 3 + ["generator"]
    import json

    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    train_record = next(r for r in records if r.get("split") == "train")
    for key in ("discriminator/d_real", "discriminator/d_fake", "discriminator/d_loss", "discriminator/g_loss", "generator/d_fake", "generator/g_loss"):
        assert key in train_record, f"training log lacks {key}"
    assert 0.0 < train_record["discriminator/d_real"] < 1.0


# ---- the players never update each other ---------------------------------------------------------------
PLAYERS = [pytest.param("gan", {}, id="gan"), pytest.param("dcgan", {}, id="dcgan"), pytest.param("gan", {"g_loss": "minimax"}, id="gan-minimax"),
           pytest.param("dcgan", {"instance_noise": 0.1}, id="dcgan-instance-noise")]


@pytest.mark.parametrize("name, options", PLAYERS)
def test_discriminator_phase_leaves_the_generator_alone(name, options):
    model = tiny(name, **options).train()
    generator_before = {k: v.clone() for k, v in model.generator_net.state_dict().items() if "running" not in k and "num_batches" not in k}
    optimizer = torch.optim.Adam(model.phase_parameters("discriminator"), lr=1e-2)
    optimizer.zero_grad()
    model(batch(), phase="discriminator")["loss"].mean().backward()
    assert all(p.grad is None for p in model.generator_net.parameters()), "D's loss sent gradients into G"
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.discriminator_net.parameters())
    optimizer.step()
    for key, value in generator_before.items():
        assert torch.equal(value, model.generator_net.state_dict()[key]), f"D phase changed G's {key}"


@pytest.mark.parametrize("name, options", PLAYERS)
def test_generator_phase_leaves_the_discriminator_and_its_gradients_alone(name, options):
    model = tiny(name, **options).train()
    sentinel = {n: torch.full_like(p, 7.0) for n, p in model.discriminator_net.named_parameters()}
    for n, p in model.discriminator_net.named_parameters():
        p.grad = sentinel[n].clone()  # gradients a D step would use: the G phase must not add to them
    discriminator_before = {n: p.detach().clone() for n, p in model.discriminator_net.named_parameters()}
    optimizer = torch.optim.Adam(model.phase_parameters("generator"), lr=1e-2)
    optimizer.zero_grad()
    model(batch(), phase="generator")["loss"].mean().backward()
    for n, p in model.discriminator_net.named_parameters():
        assert torch.equal(p.grad, sentinel[n]), f"G's loss leaked a gradient into D's {n}"
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.generator_net.parameters())
    optimizer.step()
    for n, p in model.discriminator_net.named_parameters():
        assert torch.equal(p.detach(), discriminator_before[n]), f"G phase changed D's {n}"


# ---- instance noise (Sonderby et al. 2016) ----------------------------------------------------------------
@pytest.mark.parametrize("name", ["gan", "dcgan"])
def test_instance_noise_anneals_linearly_and_only_perturbs_training_inputs(name):
    model = tiny(name, instance_noise=0.2, instance_noise_steps=100)
    expected = {0: 0.2, 50: 0.1, 100: 0.0, 250: 0.0}
    for step, sigma in expected.items():
        model.on_train_step(step)
        assert float(model.instance_noise_std) == pytest.approx(sigma)
    model.on_train_step(50)
    x = batch()
    model.train()
    torch.manual_seed(3)
    noisy = model._discriminate(x, None)
    torch.manual_seed(3)  # the same draw the model made
    by_hand = model.discriminator_net(x + 0.1 * torch.randn(x.shape), None)
    assert torch.allclose(noisy, by_hand, atol=1e-6)
    model.on_train_step(100)  # sigma 0: D sees x itself
    assert torch.allclose(model._discriminate(x, None), model.discriminator_net(x, None))
    model.on_train_step(0)
    model.eval()  # evaluation never adds noise
    assert torch.equal(model._discriminate(x, None), model.discriminator_net(x, None))
    constant = tiny(name, instance_noise=0.3)
    constant.on_train_step(10**6)
    assert float(constant.instance_noise_std) == pytest.approx(0.3)


def test_phase_parameters_split_the_model():
    model = tiny("dcgan")
    d = {id(p) for p in model.phase_parameters("discriminator")}
    g = {id(p) for p in model.phase_parameters("generator")}
    assert d and g and not d & g and d | g == {id(p) for p in model.parameters()}
    with pytest.raises(ValueError, match="discriminator, generator"):
        list(model.phase_parameters("critic"))
    with pytest.raises(ValueError, match="discriminator, generator"):
        model.loss(batch(), phase="model")


def test_loss_parts_are_training_health_numbers():
    model = tiny("gan")
    d_out = model(batch(), phase="discriminator")
    assert set(d_out) == {"loss", "d_loss", "g_loss", "d_real", "d_fake"}
    assert torch.equal(d_out["loss"].detach(), d_out["d_loss"])
    assert ((d_out["d_real"] > 0) & (d_out["d_real"] < 1)).all()
    # d_loss = -log d_real - log(1 - d_fake), from the reported probabilities
    assert torch.allclose(d_out["d_loss"], -(d_out["d_real"].log() + (1 - d_out["d_fake"]).log()), atol=1e-5)
    g_out = model(batch(), phase="generator")
    assert torch.allclose(g_out["g_loss"], -g_out["d_fake"].log(), atol=1e-5)  # non-saturating: -log D(G(z))
    evaluated = model.evaluate(batch())
    assert set(evaluated) >= {"loss", "d_loss", "g_loss", "d_real", "d_fake"} and model.selection_metric is None


def test_the_discriminator_sees_fakes_in_the_datas_value_range():
    """G's tanh is mapped onto [0, 1] data in training too, not only when sampling."""
    model = tiny("dcgan", DataFormat(image_shape=(1, 8, 8)), latent_dim=4)
    seen = []
    model.discriminator_net.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].detach()))
    model(batch().add(1).div(2), phase="discriminator")
    model(batch().add(1).div(2), phase="generator")
    fakes = torch.cat([seen[1], seen[2]])
    assert fakes.min() >= 0 and fakes.max() <= 1 and fakes.std() > 0


# ---- sampling in eval mode -------------------------------------------------------------------------
def test_sampling_never_updates_batchnorm_statistics_even_in_train_mode():
    model = tiny("dcgan").train()
    model(batch(), phase="discriminator")  # running statistics away from their initial values
    buffers = {k: v.clone() for k, v in model.state_dict().items() if "running" in k or "num_batches" in k}
    assert buffers
    first = model.sample(5, generator=torch.Generator().manual_seed(3))
    model.decode(model.sample_latent(4))
    model.evaluate(batch())
    for key, value in buffers.items():
        assert torch.equal(value, model.state_dict()[key]), f"sampling/decoding changed {key}"
    assert model.training and model.generator_net.training, "sampling must restore train mode"
    model.eval()
    again = model.sample(5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(first, again), "sample() must use G in eval mode whatever the model's mode"
    # whereas a forward in train mode does move them (the check above can fail)
    model.train()
    model(batch(), phase="generator")
    assert any(not torch.equal(v, model.state_dict()[k]) for k, v in buffers.items())


def test_latent_and_decode_are_reproducible_and_in_range():
    for prior in ("normal", "uniform"):
        model = tiny("gan", prior=prior)
        z = model.sample_latent(1000, generator=torch.Generator().manual_seed(0))
        assert z.shape == (1000, 4)
        assert torch.equal(z, model.sample_latent(1000, generator=torch.Generator().manual_seed(0)))
        if prior == "uniform":
            assert z.min() >= -1 and z.max() <= 1 and z.std() == pytest.approx(1 / 3**0.5, rel=0.1)
        else:
            assert z.std() == pytest.approx(1.0, rel=0.1)
    unit_range = tiny("gan", DataFormat(image_shape=(1, 8, 8)))  # data in [0, 1]: tanh mapped onto it
    images = unit_range.sample(50, temperature=3.0)
    assert images.min() >= 0 and images.max() <= 1 and images.min() < 0.5 < images.max()
    linear = tiny("gan", output="linear")
    assert linear.sample(50, temperature=5.0).abs().max() <= 1.0  # linear output clamped when decoding


# ---- class conditioning ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["gan", "dcgan"])
def test_conditional_models_use_their_labels(name):
    labelled = DataFormat(image_shape=(1, 8, 8), value_range=(-1.0, 1.0), num_classes=3)
    model = tiny(name, labelled, conditional=True).eval()
    assert model.capabilities.label_conditional and not model_class(name).capabilities.label_conditional
    assert not tiny(name, labelled).capabilities.label_conditional
    z = model.sample_latent(4, generator=torch.Generator().manual_seed(0))
    zeros, twos = model.decode(z, torch.zeros(4, dtype=torch.long)), model.decode(z, torch.full((4,), 2))
    assert not torch.allclose(zeros, twos), "labels do not reach the generator"
    x = batch(labelled, 4)
    d_zero = model.evaluate(x, torch.zeros(4, dtype=torch.long))["d_real"]
    d_two = model.evaluate(x, torch.full((4,), 2))["d_real"]
    assert not torch.allclose(d_zero, d_two), "labels do not reach the discriminator"
    with pytest.raises(ValueError, match="pass class labels"):
        model.loss(x, None, "discriminator")
    with pytest.raises(ValueError, match="labels must lie in 0..2"):
        model.decode(z, torch.full((4,), 3))
    with pytest.raises(ConfigError, match="needs labelled data"):
        tiny(name, SYMMETRIC_8, conditional=True)


# ---- DCGAN layout (Radford et al. 2015) -------------------------------------------------------------------
@pytest.mark.parametrize("shape, stages, base", [((1, 28, 28), 2, 7), ((3, 32, 32), 3, 4), ((3, 64, 64), 4, 4), ((1, 64, 64), 4, 4)])
def test_dcgan_resolutions(shape, stages, base):
    model = build_model("dcgan", shape, value_range=(-1.0, 1.0), generator_channels=4, discriminator_channels=4, latent_dim=8)
    assert model.stages == stages
    first_map = model.generator_net.project[1].unflattened_size
    assert first_map == (4 * 2 ** (stages - 1), base, base)
    sides = [first_map[1]]
    h = model.generator_net.project(model.sample_latent(2))
    for layer in model.generator_net.body:
        h = layer(h)
        if isinstance(layer, nn.ConvTranspose2d):
            sides.append(h.shape[-1])
    assert sides == [base * 2**i for i in range(stages + 1)]  # e.g. 7 -> 14 -> 28
    assert h.shape == (2, *shape)
    assert model.discriminator_net(h).shape == (2,)


def test_dcgan_follows_the_architecture_guidelines():
    model = build_model("dcgan", (3, 64, 64), value_range=(-1.0, 1.0))  # paper defaults
    g_layers = list(model.generator_net.project) + list(model.generator_net.body)
    d_layers = list(model.discriminator_net.body)
    # Fig. 1: 4x4x1024 -> 8x8x512 -> 16x16x256 -> 32x32x128 -> 64x64x3
    assert [m.num_features for m in g_layers if isinstance(m, nn.BatchNorm2d)] == [1024, 512, 256, 128]
    assert [m.out_channels for m in g_layers if isinstance(m, nn.ConvTranspose2d)] == [512, 256, 128, 3]
    # no pooling; BN in both, but not on G's output layer nor D's input layer
    assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)) for m in model.modules())
    assert isinstance(g_layers[-1], nn.Tanh) and isinstance(g_layers[-2], nn.ConvTranspose2d)
    assert isinstance(d_layers[0], nn.Conv2d) and isinstance(d_layers[1], nn.LeakyReLU)
    assert all(isinstance(m, nn.ReLU) for m in g_layers if isinstance(m, (nn.ReLU, nn.LeakyReLU)))
    assert all(m.negative_slope == 0.2 for m in d_layers if isinstance(m, nn.LeakyReLU))
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d_layers) == 3
    convs = [m for m in d_layers if isinstance(m, nn.Conv2d)]
    assert all(m.stride == (2, 2) for m in convs)
    # weights ~ N(0, 0.02), BN scale ~ N(1, 0.02)
    big = g_layers[4].weight  # ConvTranspose 1024 -> 512
    assert big.mean().item() == pytest.approx(0.0, abs=1e-3) and big.std().item() == pytest.approx(0.02, rel=0.02)
    scales = torch.cat([m.weight for m in model.modules() if isinstance(m, nn.BatchNorm2d)])
    assert scales.mean().item() == pytest.approx(1.0, abs=0.005) and scales.std().item() == pytest.approx(0.02, rel=0.15)
    assert model.default_preprocess == ("scale-symmetric",)


def test_dcgan_rejects_sizes_it_cannot_build():
    with pytest.raises(ConfigError, match="divisible by 8"):
        build_model("dcgan", (1, 30, 30), generator_channels=4, discriminator_channels=4)


def test_bad_options_list_the_choices():
    with pytest.raises(ConfigError, match="minimax, non-saturating"):
        tiny("gan", g_loss="wasserstein")
    with pytest.raises(ConfigError, match="normal, uniform"):
        tiny("dcgan", prior="cauchy")
    with pytest.raises(ConfigError, match="d_steps must be >= 1"):
        tiny("gan", d_steps=0)
    with pytest.raises(ConfigError, match="instance_noise"):
        tiny("dcgan", instance_noise=-0.1)
