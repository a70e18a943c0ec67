"""The GAN game, live: a small GAN trained on toy 2-D data in the server, one frame at a time.

The two-player game of Goodfellow et al. 2014 (Algorithm 1: k discriminator steps, then one
generator step) on the 8-Gaussian ring or the 25-Gaussian grid (genzoo.data.toy2d), with
the model options of the `gan-toy2d` preset (genzoo's MLP `gan`, linear output) and Adam per
phase as the trainer would set it up. Between frames the page may switch k and the generator
loss: the minimax log(1 - D(G(z))) saturates when D rejects the fakes (its gradient vanishes:
the arrows shrink), the non-saturating -log D(G(z)) does not; with many D steps and the
minimax loss the fakes tend to pile onto few modes (mode collapse).

A frame: the generated points of a fixed set of z (so motion is G's, not resampling), D's
probability of "real" over a grid (the heat map), the direction each shown fake would move
along -grad_x of the generator loss (arrows; length is the gradient's size), per-step losses
and gradient norms, and the modes covered (genzoo.metrics.modes).
"""

from __future__ import annotations

import base64
import secrets
import threading
from collections import OrderedDict
from dataclasses import replace
from typing import Any

import torch

from genzoo.data.toy2d import MIXTURES, mixture_extent, mixture_modes, sample_mixture, to_points
from genzoo.explore.server.validation import RequestError, choice, integer
from genzoo.metrics.modes import mode_statistics
from genzoo.models.registry import build_model
from genzoo.nn.adversarial import GENERATOR_LOSSES, generator_loss
from genzoo.presets import resolve_preset

PRESET = "gan-toy2d"
SURFACE_SIDE = 48  # heat-map cells per side
SHOWN_POINTS = 512
ARROWS = 96
DATA_POINTS = 20_000
BATCH_SIZE = 256  # the preset's batch
MAX_ITERATIONS = 50  # generator steps per frame
MAX_D_STEPS = 10
MAX_GAMES = 8


def preset_model_options() -> dict[str, Any]:
    """The gan-toy2d preset's model section (its architecture and Adam settings), without the name."""
    preset, _ = resolve_preset(PRESET, None, None)
    return {key: value for key, value in preset["model"].items() if key != "name"}


class GanGame:
    """One game: the model, its two optimizers, the data, and the fixed z whose images are shown."""

    def __init__(self, mixture: str = "ring", g_loss: str = "non-saturating", d_steps: int = 1, seed: int = 0) -> None:
        self.mixture, self.seed = mixture, seed
        options = {**preset_model_options(), "g_loss": g_loss, "d_steps": d_steps}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.model = build_model("gan", (1, 1, 2), levels=None, value_range=(-1.0, 1.0), **options)
        self.extent = mixture_extent(mixture)
        points, _ = sample_mixture(mixture, DATA_POINTS, seed)  # (N, 2)
        self.data = (points / self.extent).view(-1, 1, 1, 2)  # model space: dequantize + scale-symmetric gives p / E
        self.shown_real = points[:SHOWN_POINTS]
        self.optimizers = {
            phase.name: torch.optim.Adam(self.model.phase_parameters(phase.name), lr=phase.lr or 2e-3, betas=phase.betas or (0.5, 0.999))
            for phase in self.model.training_phases()
        }
        self.batches = torch.Generator().manual_seed(seed)
        self.fixed_z = self.model.sample_latent(SHOWN_POINTS, generator=torch.Generator().manual_seed(seed + 1))  # (S, D)
        side = torch.linspace(-self.extent, self.extent, SURFACE_SIDE)
        rows, columns = torch.meshgrid(side.flip(0), side, indexing="ij")  # row 0 at the top: largest y
        self.surface_points = torch.stack([columns, rows], -1).reshape(-1, 2)  # (G*G, 2) point space
        self.step = 0
        self.lock = threading.Lock()

    # ---- training -------------------------------------------------------------------------------
    def play(self, iterations: int, d_steps: int, g_loss: str) -> list[dict[str, float]]:
        """`iterations` rounds of Algorithm 1 with k = d_steps and the chosen generator loss; one record per round."""
        self.model.config = replace(self.model.config, g_loss=g_loss, d_steps=d_steps)  # loss() reads both from the config
        self.model.train()
        history = []
        try:  # the server's quick pool runs without gradients; training needs them
            with torch.enable_grad():
                for _ in range(iterations):
                    for _ in range(d_steps):
                        discriminator = self._optimise("discriminator", self._batch())
                    generator = self._optimise("generator", self._batch())
                    self.step += 1
                    history.append({"step": self.step, "d_loss": discriminator["d_loss"], "g_loss": generator["g_loss"],
                                    "d_real": discriminator["d_real"], "d_fake": generator["d_fake"], "g_grad": generator["grad_norm"]})
        finally:
            self.model.eval()
        return history

    def _batch(self) -> torch.Tensor:
        index = torch.randint(len(self.data), (BATCH_SIZE,), generator=self.batches)
        return self.data[index]  # (B, 1, 1, 2)

    def _optimise(self, phase: str, x: torch.Tensor) -> dict[str, float]:
        optimizer = self.optimizers[phase]
        optimizer.zero_grad(set_to_none=True)
        parts = self.model.loss(x, phase=phase)
        parts["loss"].mean().backward()
        squared = sum(float(p.grad.pow(2).sum()) for p in self.model.phase_parameters(phase) if p.grad is not None)
        optimizer.step()
        return {**{name: float(value.mean()) for name, value in parts.items() if name != "loss"}, "grad_norm": squared**0.5}

    # ---- what the page draws --------------------------------------------------------------------
    def frame(self, history: list[dict[str, float]]) -> dict[str, Any]:
        model = self.model
        with torch.no_grad():
            fake = model.generator_net(self.fixed_z)  # (S, 1, 1, 2): G's own output (decode would clamp it to the data's range)
            logits = model.discriminator_net(self.surface_points.view(-1, 1, 1, 2) / self.extent)  # (G*G,)
        surface = (torch.sigmoid(logits) * 255).round().to(torch.uint8)
        fake_points = to_points(fake, self.extent)  # (S, 2)
        centres, std = mixture_modes(self.mixture)
        modes = mode_statistics(fake_points, centres, std)
        return {
            "step": self.step,
            "fake": _rounded(fake_points),
            "surface": base64.b64encode(surface.numpy().tobytes()).decode("ascii"),
            "arrows": self._arrows(fake[:ARROWS]),
            "history": history,
            "outside": int((fake_points.abs() > self.extent).any(1).sum()),  # generated points beyond the drawn square
            "modes_covered": modes.modes_covered,
            "num_modes": modes.num_modes,
            "high_quality": round(modes.high_quality_fraction, 3),
        }

    def _arrows(self, fake: torch.Tensor) -> list[list[float]]:
        """[x, y, dx, dy] per shown fake: its point and -grad of the generator loss w.r.t. it (point units)."""
        x = fake.detach().clone().requires_grad_(True)  # (A, 1, 1, 2)
        with torch.enable_grad():
            loss = generator_loss(self.model.discriminator_net(x), self.model.config.g_loss).sum()
            (gradient,) = torch.autograd.grad(loss, x)
        points = to_points(x.detach(), self.extent)  # (A, 2)
        move = -gradient.view(-1, 2) / self.extent  # d loss / d p = (d loss / d x) / E
        return [[float(f"{float(a):.5g}") for a in (*p, *m)] for p, m in zip(points, move)]  # 5 significant digits: a vanishing push stays > 0

    def opening(self) -> dict[str, Any]:
        """The first message of a game: its settings, the real points, the true modes, the extent."""
        centres, std = mixture_modes(self.mixture)
        config = self.model.config
        return {"mixture": self.mixture, "extent": self.extent, "surface_side": SURFACE_SIDE, "real": _rounded(self.shown_real),
                "modes": _rounded(centres), "mode_std": std, "g_loss": config.g_loss, "d_steps": config.d_steps, "seed": self.seed,
                "architecture": f"G {list(config.generator_hidden)}, D {list(config.discriminator_hidden)} ({config.discriminator_activation}), "
                                f"z {config.latent_dim}-d, batch {BATCH_SIZE}, Adam lr {config.lr:g}"}


def _rounded(points: torch.Tensor) -> list[list[float]]:
    return [[round(float(a), 3), round(float(b), 3)] for a, b in points]


class GameStore:
    """Games by random id; the least recently used are dropped past MAX_GAMES."""

    def __init__(self, limit: int = MAX_GAMES) -> None:
        self.limit = limit
        self.games: OrderedDict[str, GanGame] = OrderedDict()
        self.lock = threading.Lock()

    def new(self, body: dict[str, Any]) -> tuple[str, GanGame]:
        game = GanGame(choice(body, "mixture", MIXTURES, "ring"), choice(body, "g_loss", GENERATOR_LOSSES, "non-saturating"),
                       integer(body, "d_steps", 1, low=1, high=MAX_D_STEPS), integer(body, "seed", 0, low=0, high=2**31 - 1))
        key = secrets.token_hex(8)
        with self.lock:
            self.games[key] = game
            while len(self.games) > self.limit:
                self.games.popitem(last=False)
        return key, game

    def get(self, key: str) -> GanGame:
        with self.lock:
            game = self.games.get(key)
            if game is not None:
                self.games.move_to_end(key)
        if game is None:
            raise RequestError(f"no game {key!r} (the server keeps the latest {self.limit}): start a new one", 404)
        return game


def step_game(game: GanGame, body: dict[str, Any]) -> dict[str, Any]:
    """{"iterations", "d_steps", "g_loss"} -> train that many rounds, then the frame (runs in the quick pool)."""
    iterations = integer(body, "iterations", 1, low=0, high=MAX_ITERATIONS)
    d_steps = integer(body, "d_steps", game.model.config.d_steps, low=1, high=MAX_D_STEPS)
    g_loss = choice(body, "g_loss", GENERATOR_LOSSES, game.model.config.g_loss)
    with game.lock:
        history = game.play(iterations, d_steps, g_loss)
        return game.frame(history)
