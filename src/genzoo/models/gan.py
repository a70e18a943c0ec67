"""Generative adversarial nets: the shared two-player machinery and the MLP GAN.

Goodfellow et al. 2014, "Generative Adversarial Nets". A generator G maps noise z ~ p(z) to
an image; a discriminator D outputs the logit of "x is real". Training is Algorithm 1:
each step takes k discriminator steps (`d_steps`) on
    -log D(x) - log(1 - D(G(z)))                          (ascending V of eq. (1))
then one generator step on either the minimax loss log(1 - D(G(z))) or the non-saturating
-log D(G(z)) the paper recommends in Sec. 3 (the default). Losses live in
`genzoo.nn.adversarial`, on logits.

`AdversarialModel` plugs the game into the one trainer through two `TrainingPhase`s,
"discriminator" (repeated k times) and "generator", each with its own optimizer over
`phase_parameters(phase)`. Neither phase sends gradients into the other player:
  - the discriminator phase draws G(z) under `no_grad`;
  - the generator phase evaluates D through `torch.func.functional_call` with D's
    parameters detached, so D's `.grad` stays untouched (None) however the caller zeroes.
Sampling and `decode` run G in eval() mode, so BatchNorm running statistics are never
updated by sampling. Class conditioning (`conditional`, Mirza & Osindero 2014) feeds a
one-hot label to both players.

Model selection: a GAN has no held-out likelihood, and neither loss measures sample
quality (a strong D makes G's loss high even when samples improve). `evaluate` reports
D(x), D(G(z)) and both losses on held-out data; `selection_metric` is None, so the trainer
keeps only the `last` checkpoint (rank GAN checkpoints by FID with `genzoo eval` instead).

The MLP GAN follows the paper's MNIST networks (ReLU generator of 1200-1200 units; maxout
discriminator of 240-240 units, 5 pieces, with dropout) with two differences: its generator
emits tanh (data in [-1, 1], the `scale-symmetric` preprocessing) where the paper used a
sigmoid, and Adam(2e-4, beta1 = 0.5) replaces SGD with momentum. `output="linear"` drops the
tanh for the toy 2-D mixtures (`genzoo.data.toy2d`, see `GAN`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from genzoo.data.format import DataFormat
from genzoo.models.base import Capabilities, GenerativeModel
from genzoo.models.registry import register_model
from genzoo.models.two_player import TwoPlayerGame, check_game_options
from genzoo.nn.adversarial import discriminator_loss, generator_loss
from genzoo.nn.dropout import ShardedDropout

Prior = Literal["normal", "uniform"]
PRIORS: tuple[str, ...] = ("normal", "uniform")


@contextmanager
def eval_mode(module: nn.Module) -> Iterator[None]:
    """Run a block with `module` in eval() mode (BatchNorm uses, never updates, its running stats)."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


def check_adversarial_options(config: object) -> None:
    """Validate the options every adversarial config shares (ValueError listing the choices)."""
    if config.latent_dim < 1:
        raise ValueError(f"latent_dim must be >= 1, got {config.latent_dim}")
    check_game_options(config)
    if config.prior not in PRIORS:
        raise ValueError(f"unknown prior {config.prior!r}: choose one of {', '.join(PRIORS)}")
    if config.instance_noise < 0 or config.instance_noise_steps < 0:
        raise ValueError(f"instance_noise and instance_noise_steps must be >= 0, got {config.instance_noise}, {config.instance_noise_steps}")


class AdversarialModel(TwoPlayerGame, GenerativeModel):
    """Two players, two phases (TwoPlayerGame). Subclasses set `generator_net` (z, one-hot y) -> tanh image and
    `discriminator_net` (x, one-hot y) -> logits (B,)."""

    capabilities = Capabilities(latent_decoder=True)
    default_preprocess = ("scale-symmetric",)  # data in [-1, 1], matching G's tanh
    selection_metric = None  # no held-out loss ranks GAN checkpoints: only `last` is kept
    generator_net: nn.Module
    discriminator_net: nn.Module

    def __init__(self, config: object, data_format: DataFormat) -> None:
        super().__init__(config, data_format)
        check_adversarial_options(config)
        if config.conditional and not data_format.num_classes:
            raise ValueError("conditional=true needs labelled data (num_classes), this data has none")
        # Capabilities depend on the config: an instance attribute shadows the class default.
        self.capabilities = Capabilities(latent_decoder=True, label_conditional=bool(config.conditional))
        self.num_classes = data_format.num_classes if config.conditional else 0
        # Current sigma, set by on_train_step; a tensor, so a compiled loss reads it instead of recompiling per value.
        self.register_buffer("instance_noise_std", torch.tensor(float(config.instance_noise)), persistent=False)

    def on_train_step(self, step: int) -> None:
        """Instance noise schedule: sigma decays linearly from `instance_noise` to 0 over
        `instance_noise_steps` steps (0: constant)."""
        sigma, steps = self.config.instance_noise, self.config.instance_noise_steps
        self.instance_noise_std.fill_(sigma * max(0.0, 1.0 - step / steps) if steps else sigma)

    def _discriminate(self, images: torch.Tensor, labels: torch.Tensor | None, parameters: dict | None = None) -> torch.Tensor:
        """D's logits (B,) on images plus instance noise N(0, sigma^2) while training (Sonderby et
        al. 2016; Arjovsky & Bottou 2017): real and fake distributions then overlap, so D cannot win
        on details G cannot match yet (e.g. an exactly black background)."""
        if self.training and self.config.instance_noise > 0:
            images = images + self.instance_noise_std * self.per_example_randn(images)  # (B, C, H, W)
        if parameters is None:
            return self.discriminator_net(images, labels)
        return functional_call(self.discriminator_net, parameters, (images, labels))

    # ---- training -----------------------------------------------------------------------
    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, phase: str = "discriminator") -> dict[str, torch.Tensor]:
        """Per-example loss of `phase`, with training-health parts (all (B,)).

        discriminator: loss = d_loss = -log D(x) - log(1 - D(G(z))), G(z) drawn without grad;
            also d_real = D(x), d_fake = D(G(z)) and g_loss on the same fakes (detached).
        generator: loss = g_loss (minimax log(1 - D(G(z))) or non-saturating -log D(G(z)))
            through a detached copy of D's parameters; also d_fake.
        Fakes use the batch's own labels when conditional, so D sees the same label mix.
        """
        self._player(phase)  # unknown phase -> ValueError
        self.check_input(x)
        labels = self._one_hot(y, x.shape[0])
        z = self.per_example_noise(x.shape[0], self.sample_latent)  # (B, latent_dim), this process's share under DDP
        if phase == "discriminator":
            with torch.no_grad():
                fake = self._generate(z, labels)  # (B, C, H, W), no graph into G
            real_logits = self._discriminate(x, labels)  # (B,)
            fake_logits = self._discriminate(fake, labels)  # (B,) separate batch: its own BN statistics
            d_loss = discriminator_loss(real_logits, fake_logits)
            return {
                "loss": d_loss,
                "d_loss": d_loss.detach(),
                "g_loss": generator_loss(fake_logits.detach(), self.config.g_loss),
                "d_real": torch.sigmoid(real_logits.detach()),
                "d_fake": torch.sigmoid(fake_logits.detach()),
            }
        fake = self._generate(z, labels)  # (B, C, H, W)
        frozen = {name: p.detach() for name, p in self.discriminator_net.named_parameters()}
        fake_logits = self._discriminate(fake, labels, frozen)  # (B,), gradient only into G
        g_loss = generator_loss(fake_logits, self.config.g_loss)
        return {"loss": g_loss, "g_loss": g_loss.detach(), "d_fake": torch.sigmoid(fake_logits.detach())}

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Held-out health in eval mode: d_real, d_fake, d_loss, g_loss (B,); loss = d_loss."""
        self.check_input(x)
        with eval_mode(self):
            labels = self._one_hot(y, x.shape[0])
            fake = self._generate(self.per_example_noise(x.shape[0], self.sample_latent), labels)
            real_logits = self.discriminator_net(x, labels)
            fake_logits = self.discriminator_net(fake, labels)
        d_loss = discriminator_loss(real_logits, fake_logits)
        return {
            "loss": d_loss,
            "d_loss": d_loss,
            "g_loss": generator_loss(fake_logits, self.config.g_loss),
            "d_real": torch.sigmoid(real_logits),
            "d_fake": torch.sigmoid(fake_logits),
        }

    # ---- latent space ---------------------------------------------------------------------
    def sample_latent(self, n: int, *, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """n draws from the prior p(z), scaled by temperature: (n, latent_dim), N(0, I) or U[-1, 1]^d."""
        shape = (n, self.config.latent_dim)
        if self.config.prior == "normal":
            return temperature * torch.randn(shape, generator=generator, device=self.device)
        return temperature * (torch.rand(shape, generator=generator, device=self.device) * 2 - 1)

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """G(z): z (B, latent_dim) -> images (B, C, H, W) in the data's value range, G in eval mode.

        Differentiable in z (generator inversion optimises through it); y (B,) labels when conditional.
        """
        labels = self._one_hot(y, z.shape[0])
        with eval_mode(self.generator_net):
            images = self._generate(z.to(self.device), labels)  # (B, C, H, W)
        low, high = self.data_format.value_range
        return images.clamp(low, high)  # a no-op after tanh; bounds a linear output

    def _generate(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """G's output in [-1, 1] (tanh) mapped affinely onto the data's value range: (B, C, H, W)."""
        unit = self.generator_net(z, labels)
        low, high = self.data_format.value_range
        return unit if (low, high) == (-1.0, 1.0) else low + (high - low) * (unit + 1) / 2

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        labels: torch.Tensor | None = None,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """G(temperature * z), z ~ p(z), in eval mode: (n, C, H, W). Conditional models draw
        uniformly random labels (from `generator`) unless `labels` (n,) are given."""
        z = self.sample_latent(n, temperature=temperature, generator=generator)  # (n, latent_dim)
        if self.num_classes and labels is None:
            labels = torch.randint(0, self.num_classes, (n,), generator=generator, device=self.device)
        return self.decode(z, labels if self.num_classes else None)

    def _one_hot(self, y: torch.Tensor | None, batch: int) -> torch.Tensor | None:
        """One-hot labels (B, K) for a conditional model, None otherwise (labels then ignored)."""
        if not self.num_classes:
            return None
        if y is None:
            raise ValueError(f"{self.name} was built with conditional=true: pass class labels y of shape ({batch},)")
        return F.one_hot(self.check_labels(y, batch, self.num_classes), self.num_classes).float()  # (B, K)


# ---- the MLP GAN of Goodfellow et al. 2014 -------------------------------------------------
@dataclass(frozen=True)
class GANConfig:
    latent_dim: int = 100
    prior: Prior = "normal"
    generator_hidden: tuple[int, ...] = (1200, 1200)  # ReLU layers (the paper's MNIST generator)
    discriminator_hidden: tuple[int, ...] = (240, 240)  # maxout units per layer (the paper's MNIST D)
    discriminator_activation: Literal["maxout", "leaky-relu"] = "maxout"
    maxout_pieces: int = 5
    dropout: float = 0.5  # before each discriminator layer after the first (the paper used dropout in D)
    g_loss: Literal["minimax", "non-saturating"] = "non-saturating"
    d_steps: int = 1  # k of Algorithm 1
    output: Literal["tanh", "linear"] = "tanh"  # G's last activation; linear suits toy 2-D data (see GAN)
    conditional: bool = False  # one-hot labels into both players (Mirza & Osindero 2014)
    lr: float | None = 2e-4  # both phases; None: the run's train.lr
    betas: tuple[float, float] | None = (0.5, 0.999)  # both phases; None: the run's train.betas
    instance_noise: float = 0.0  # std of Gaussian noise on D's inputs (data scale), 0: off
    instance_noise_steps: int = 0  # anneal it linearly to 0 over this many steps (0: constant)

    def __post_init__(self) -> None:
        if not self.generator_hidden or not self.discriminator_hidden:
            raise ValueError("generator_hidden and discriminator_hidden need at least one layer each")
        if min(self.generator_hidden) < 1 or min(self.discriminator_hidden) < 1:
            raise ValueError("hidden layer sizes must be >= 1")
        if self.discriminator_activation not in ("maxout", "leaky-relu"):
            raise ValueError(f"unknown discriminator_activation {self.discriminator_activation!r}: choose one of maxout, leaky-relu")
        if self.maxout_pieces < 1:
            raise ValueError(f"maxout_pieces must be >= 1, got {self.maxout_pieces}")
        if self.output not in ("tanh", "linear"):
            raise ValueError(f"unknown output {self.output!r}: choose one of tanh, linear")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


class Maxout(nn.Module):
    """Maxout layer (Goodfellow et al. 2013): the max over `pieces` linear maps, (B, in) -> (B, out)."""

    def __init__(self, in_features: int, out_features: int, pieces: int) -> None:
        super().__init__()
        self.pieces = pieces
        self.linear = nn.Linear(in_features, out_features * pieces)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.linear(h).unflatten(1, (-1, self.pieces)).amax(2)  # (B, out)


class MLPGenerator(nn.Module):
    """[z, one-hot y] -> ReLU MLP -> tanh (or linear) image (B, C, H, W)."""

    def __init__(self, config: GANConfig, image_shape: tuple[int, int, int], num_classes: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = config.latent_dim + num_classes
        for hidden in config.generator_hidden:
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        dims = image_shape[0] * image_shape[1] * image_shape[2]
        output = nn.Tanh() if config.output == "tanh" else nn.Identity()
        self.body = nn.Sequential(*layers, nn.Linear(width, dims), output, nn.Unflatten(1, image_shape))

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.body(z if labels is None else torch.cat([z, labels], 1))


class MLPDiscriminator(nn.Module):
    """[x flattened, one-hot y] -> maxout (or LeakyReLU 0.2) MLP with dropout -> logit (B,)."""

    def __init__(self, config: GANConfig, image_shape: tuple[int, int, int], num_classes: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = image_shape[0] * image_shape[1] * image_shape[2] + num_classes
        for index, hidden in enumerate(config.discriminator_hidden):
            if index > 0 and config.dropout > 0:
                layers.append(ShardedDropout(config.dropout))
            if config.discriminator_activation == "maxout":
                layers.append(Maxout(width, hidden, config.maxout_pieces))
            else:
                layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
            width = hidden
        self.body = nn.Sequential(*layers, nn.Linear(width, 1))

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = x.flatten(1)  # (B, C*H*W)
        return self.body(h if labels is None else torch.cat([h, labels], 1)).squeeze(1)  # (B,)


@register_model("gan")
class GAN(AdversarialModel):
    """MLP generator and discriminator trained by Algorithm 1 of Goodfellow et al. 2014.

    `output="linear"` drops G's tanh (samples from `sample`/`decode` are then clamped to
    the data's value range). On the toy 2-D mixtures (`genzoo.data.toy2d`) tanh's saturation pulls samples
    onto the coordinate extremes, so G finds the 4 axis modes of the ring long before the 4
    diagonal ones; a linear output treats all modes alike.
    """

    config_class = GANConfig

    def __init__(self, config: GANConfig, data_format: DataFormat) -> None:
        super().__init__(config, data_format)
        self.generator_net = MLPGenerator(config, data_format.image_shape, self.num_classes)
        self.discriminator_net = MLPDiscriminator(config, data_format.image_shape, self.num_classes)
