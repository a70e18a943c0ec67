"""The two-player game as training phases, shared by every adversarial model (GAN, DCGAN, pix2pix).

Goodfellow et al. 2014, Alg. 1: each training step runs k = `config.d_steps` discriminator
updates, then one generator update; each player has its own optimizer over its own
parameters (`discriminator_net`, `generator_net`), with the config's lr / betas when set.
"""

from __future__ import annotations

from collections.abc import Iterator

from torch import nn

from genzoo.models.base import TrainingPhase
from genzoo.nn.adversarial import GENERATOR_LOSSES

PHASES: tuple[str, ...] = ("discriminator", "generator")


def check_game_options(config: object) -> None:
    """Validate what every two-player config shares: g_loss, d_steps, lr, betas (ValueError naming the choices)."""
    if config.g_loss not in GENERATOR_LOSSES:
        raise ValueError(f"unknown g_loss {config.g_loss!r}: choose one of {', '.join(GENERATOR_LOSSES)}")
    if config.d_steps < 1:
        raise ValueError(f"d_steps must be >= 1, got {config.d_steps}")
    if config.lr is not None and config.lr <= 0:
        raise ValueError(f"lr must be > 0, got {config.lr}")
    if config.betas is not None and not all(0.0 <= b < 1.0 for b in config.betas):
        raise ValueError(f"betas must be in [0, 1), got {config.betas}")


class TwoPlayerGame:
    """Mixin of a GenerativeModel with `generator_net` and `discriminator_net`: the game's phases and players."""

    generator_net: nn.Module
    discriminator_net: nn.Module

    def training_phases(self) -> list[TrainingPhase]:
        """k = d_steps discriminator steps, then one generator step (Alg. 1)."""
        settings = dict(lr=self.config.lr, betas=None if self.config.betas is None else tuple(self.config.betas))
        return [TrainingPhase("discriminator", repeats=self.config.d_steps, **settings), TrainingPhase("generator", **settings)]

    def phase_parameters(self, phase: str) -> Iterator[nn.Parameter]:
        return self._player(phase).parameters()

    def _player(self, phase: str) -> nn.Module:
        if phase == "discriminator":
            return self.discriminator_net
        if phase == "generator":
            return self.generator_net
        raise ValueError(f"unknown phase {phase!r} for {self.name}: choose one of {', '.join(PHASES)}")
