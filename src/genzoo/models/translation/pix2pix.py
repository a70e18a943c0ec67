"""pix2pix: a U-Net generator trained against a PatchGAN discriminator and an L1 loss.

Isola et al. 2017, "Image-to-Image Translation with Conditional Adversarial Networks":

    G* = arg min_G max_D L_cGAN(G, D) + lambda L_L1(G)                                 (eq. 4)
    L_cGAN = E[log D(c, t)] + E[log(1 - D(c, G(c, z)))],  L_L1 = E||t - G(c, z)||_1    (eqs. 1, 3)

- G: the U-Net of `genzoo.nn.unet` (regress's network), with dropout in its deepest decoder
  blocks as the only noise z, kept active at translate time (`test_dropout`, Sec. 3.1).
- D: a PatchGAN (Sec. 3.2.2): 4x4 convolutions, `discriminator_layers` of stride 2 then one
  of stride 1 and a 1-channel output, each logit judging one patch of the pair [c at the
  target's size, t]. Three stride-2 layers give the paper's 70x70 patches; the default two
  give 34x34 patches, sized for 28-32 px images. Fewer are used when the patch map would
  drop below 2x2 (8 px images: one).
- Losses (`genzoo.nn.adversarial`, on logits) are averaged over the patches of an image;
  D's loss is halved (Sec. 3.3), G's is the non-saturating -log D(c, G(c)) (or the minimax
  one) plus lambda = 100 times the L1 error on the [-1, 1] scale. Adam(2e-4, beta1 0.5).

Training is the two-player game of every adversarial model (genzoo.models.two_player): a step runs
`d_steps` discriminator phases then one generator phase, each with its own optimizer over
`phase_parameters`; G's output is drawn under no_grad in D's phase, and D is evaluated
through `functional_call` on detached parameters in G's phase, so neither player receives
gradients in the other's phase.

Noise at translate time: with test_dropout the masks are random; given a `generator`, one
64-bit seed is drawn from it and G runs under `torch.random.fork_rng` seeded with it, so the
same generator state gives the same output and the global random state is left as it was.
Differences from the paper: group instead of batch normalization in both players (see
genzoo.nn.unet), smaller widths (32 instead of 64), PyTorch's default init.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.func import functional_call

from genzoo.data.format import DataFormat
from genzoo.models.gan import eval_mode
from genzoo.models.registry import register_model
from genzoo.models.translation.regress import UNetTranslator, check_unet_options
from genzoo.models.two_player import TwoPlayerGame, check_game_options
from genzoo.nn.adversarial import discriminator_loss, generator_loss
from genzoo.nn.dropout import ShardedDropout
from genzoo.nn.unet import LEAK, at_size, group_norm

MIN_PATCH_MAP = 2  # the discriminator's logit map is at least 2x2


@dataclass(frozen=True)
class Pix2PixConfig:
    width: int = 32  # G's U-Net base width (pix2pix: 64)
    max_depth: int = 4  # G's stride-2 levels at most; fewer when H, W stop halving exactly (28 px: 2)
    dropout: float = 0.5  # in G's deepest (at most 3) decoder blocks: the noise z (Sec. 3.1)
    test_dropout: bool = True  # keep G's dropout on in translate (the paper's test-time noise)
    discriminator_width: int = 32  # D's first layer (pix2pix: 64), doubled per stride-2 layer
    discriminator_layers: int = 2  # stride-2 convs of D; 3: the paper's 70x70 patches
    l1_weight: float = 100.0  # lambda of eq. (4)
    g_loss: Literal["minimax", "non-saturating"] = "non-saturating"
    d_steps: int = 1  # discriminator phases per generator phase
    lr: float | None = 2e-4  # both phases (Sec. 3.3); None: the run's train.lr
    betas: tuple[float, float] | None = (0.5, 0.999)  # both phases; None: the run's train.betas

    def __post_init__(self) -> None:
        check_unet_options(self)
        if self.discriminator_width < 1 or self.discriminator_layers < 1:
            raise ValueError(f"discriminator_width and discriminator_layers must be >= 1, got {self.discriminator_width}, {self.discriminator_layers}")
        if self.l1_weight < 0:
            raise ValueError(f"l1_weight must be >= 0, got {self.l1_weight}")
        check_game_options(self)


def stride2_layers(height: int, width: int, wanted: int) -> int:
    """Stride-2 layers of the PatchGAN, at most `wanted`, leaving a logit map of at least 2x2.

    A 4x4 stride-2 conv (padding 1) maps a side s to floor(s / 2); the two stride-1 convs after
    it take one pixel each.
    """
    layers, side = 0, min(height, width)
    while layers < wanted and side // 2 - 2 >= MIN_PATCH_MAP:
        layers, side = layers + 1, side // 2
    if layers == 0:
        raise ValueError(f"images of {height}x{width} are too small for a PatchGAN discriminator: use at least 8x8")
    return layers


class PatchDiscriminator(nn.Module):
    """(image (B, C, H, W), condition at the image's size (B, Cc, H, W)) -> patch logits (B, 1, h, w).

    C64-C128-...: 4x4 convs, stride 2 then 1, LeakyReLU 0.2, no normalization in the first
    (Isola et al. 2017, appendix 6.1.2); the last conv maps to one logit per patch.
    """

    def __init__(self, in_channels: int, width: int, layers: int) -> None:
        super().__init__()
        widths = [min(width * 2**index, 8 * width) for index in range(layers + 1)]
        blocks: list[nn.Module] = [nn.Conv2d(in_channels, widths[0], 4, stride=2, padding=1), nn.LeakyReLU(LEAK)]
        for index in range(1, layers + 1):
            stride = 2 if index < layers else 1
            blocks += [nn.Conv2d(widths[index - 1], widths[index], 4, stride=stride, padding=1), group_norm(widths[index]), nn.LeakyReLU(LEAK)]
        blocks.append(nn.Conv2d(widths[-1], 1, 4, stride=1, padding=1))
        self.body = nn.Sequential(*blocks)

    def forward(self, image: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        return self.body(torch.cat([condition, image], 1))  # (B, 1, h, w)


def mean_over_patches(loss: Callable[..., torch.Tensor], *logits: torch.Tensor) -> torch.Tensor:
    """A loss of one logit per example applied to every patch (B, 1, h, w), averaged per image: (B,)."""
    batch = logits[0].shape[0]
    return loss(*(patch.reshape(-1) for patch in logits)).view(batch, -1).mean(1)


def patch_probability(logits: torch.Tensor) -> torch.Tensor:
    """D's mean probability of "real" over the patches of each image: (B, 1, h, w) logits -> (B,), detached."""
    return torch.sigmoid(logits.detach()).flatten(1).mean(1)


@contextmanager
def dropout_kept_on(module: nn.Module, enabled: bool = True) -> Iterator[None]:
    """Run a block with the ShardedDropout layers of `module` in training mode (the rest as it is)."""
    layers = [layer for layer in module.modules() if isinstance(layer, ShardedDropout)] if enabled else []
    modes = [layer.training for layer in layers]
    for layer in layers:
        layer.train()
    try:
        yield
    finally:
        for layer, mode in zip(layers, modes):
            layer.train(mode)


@contextmanager
def random_state_from(generator: torch.Generator | None, device: torch.device) -> Iterator[None]:
    """Run a block on a global random state seeded from `generator` (one 64-bit draw), restored after.

    Layers that draw with the global state (dropout) then follow the generator; without one
    the block uses (and advances) the global state as usual.
    """
    if generator is None:
        yield
        return
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield


@register_model("pix2pix")
class Pix2Pix(TwoPlayerGame, UNetTranslator):
    """Conditional GAN of Isola et al. 2017: U-Net generator, PatchGAN discriminator, L1 + adversarial loss."""

    config_class = Pix2PixConfig
    selection_metric = None  # no held-out loss ranks GAN checkpoints: only `last` is kept

    def __init__(self, config: Pix2PixConfig, data_format: DataFormat) -> None:
        super().__init__(config, data_format)
        self.stochastic = bool(config.test_dropout and config.dropout > 0)  # shadows the class default
        channels, height, width = self.target_shape
        layers = stride2_layers(height, width, config.discriminator_layers)
        self.discriminator_net = PatchDiscriminator(channels + self.condition_shape[0], config.discriminator_width, layers)

    def _shown(self, condition: torch.Tensor) -> torch.Tensor:
        """The condition as D sees it: [-1, 1] scale, at the target's size (B, Cc, H, W)."""
        return at_size(self.to_scaled(condition.to(self.device, self._dtype())), self.target_shape[1:])

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, phase: str = "discriminator") -> dict[str, torch.Tensor]:
        """Per-image loss of `phase` (B,), with training-health parts.

        discriminator: (-log D(c, t) - log(1 - D(c, G(c)))) / 2, averaged over patches, G(c)
            drawn without grad; also d_real, d_fake (mean patch probabilities).
        generator: -log D(c, G(c)) (g_loss) + l1_weight * |G(c) - t| (l1), through a detached
            copy of D's parameters; also d_fake.
        """
        self._player(phase)  # unknown phase -> ValueError
        condition, target = self.split(x)
        shown, real = self._shown(condition), self.to_scaled(target)
        if phase == "discriminator":
            with torch.no_grad():
                fake = self.generate(condition)  # (B, C, H, W), no graph into G
            real_logits = self.discriminator_net(real, shown)  # (B, 1, h, w)
            fake_logits = self.discriminator_net(fake, shown)
            d_loss = self._discriminator_loss(real_logits, fake_logits)
            return {"loss": d_loss, "d_loss": d_loss.detach(), "d_real": patch_probability(real_logits), "d_fake": patch_probability(fake_logits)}
        fake = self.generate(condition)
        frozen = {name: p.detach() for name, p in self.discriminator_net.named_parameters()}
        fake_logits = functional_call(self.discriminator_net, frozen, (fake, shown))  # gradient only into G
        g_loss = self._generator_loss(fake_logits)
        l1 = self.errors(fake, real)["l1"]
        return {
            "loss": g_loss + self.config.l1_weight * l1,
            "g_loss": g_loss.detach(),
            "l1": l1.detach(),
            "d_fake": patch_probability(fake_logits),
        }

    @staticmethod
    def _discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """D's loss per image (B,), halved as in Sec. 3.3, from patch logits (B, 1, h, w)."""
        return 0.5 * mean_over_patches(discriminator_loss, real_logits, fake_logits)

    def _generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        """G's adversarial loss per image (B,) (non-saturating or minimax) from patch logits (B, 1, h, w)."""
        return mean_over_patches(lambda logits: generator_loss(logits, self.config.g_loss), fake_logits)

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Held-out health, G as translate runs it: l1, l2 of G(c) against t, d_loss, g_loss, d_real,
        d_fake (B,) each; loss = d_loss."""
        condition, target = self.split(x)
        with eval_mode(self), dropout_kept_on(self.generator_net, self.config.test_dropout):
            shown, real = self._shown(condition), self.to_scaled(target)
            fake = self.generate(condition)
            real_logits = self.discriminator_net(real, shown)
            fake_logits = self.discriminator_net(fake, shown)
        d_loss = self._discriminator_loss(real_logits, fake_logits)
        return {
            "loss": d_loss,
            "d_loss": d_loss,
            "g_loss": self._generator_loss(fake_logits),
            **self.errors(fake, real),
            "d_real": patch_probability(real_logits),
            "d_fake": patch_probability(fake_logits),
        }

    @torch.no_grad()
    def translate(
        self, condition: torch.Tensor, *, temperature: float = 1.0, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """G(c) in eval mode, dropout on when test_dropout (masks from `generator`, see module
        docstring): (B, C, H, W) in the data's value space. temperature is unused."""
        self.check_condition(condition)
        with eval_mode(self), dropout_kept_on(self.generator_net, self.config.test_dropout):
            with random_state_from(generator, self.device):
                return self.from_scaled(self.generate(condition))
