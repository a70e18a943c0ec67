"""Tiny models for the trainer tests; `register()` adds them to the model registry.

test-probe       one phase, a small MLP autoencoder; can turn its loss NaN or huge from a
                 given training call on, sleep per call, and script its evaluation metric.
test-conditional the probe, declared label-conditional.
test-two-phase   a critic (2 repeats) and a maker (1 repeat, its own lr) whose losses reach
                 each other's parameters; records every training call.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn

from genzoo.data.format import DataFormat
from genzoo.models.base import Capabilities, GenerativeModel, TrainingPhase
from genzoo.models.registry import MODEL_REGISTRY, register_model


@dataclass(frozen=True)
class ProbeConfig:
    hidden: int = 8
    nan_from_call: int = 0  # training loss() call (1-based) from which the loss is NaN; 0: never
    explode_from_call: int = 0  # ... from which the loss is multiplied by 1e9; 0: never
    sleep_s: float = 0.0  # per training call, to make runs slow enough to interrupt
    scores: tuple[float, ...] = ()  # evaluate() "score" of the 1st, 2nd, ... evaluation batch


class Probe(GenerativeModel):
    config_class = ProbeConfig
    selection_metric = "score"

    def __init__(self, config: ProbeConfig, data_format: DataFormat) -> None:
        super().__init__(config, data_format)
        self.encoder = nn.Linear(data_format.dims, config.hidden)
        self.decoder = nn.Linear(config.hidden, data_format.dims)
        self.training_calls = 0
        self.evaluation_calls = 0
        self.labels_seen: list[torch.Tensor | None] = []  # y of every training call
        self.sample_labels: torch.Tensor | None = None

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, phase: str = "model") -> dict[str, torch.Tensor]:
        self.check_input(x)
        recon = self.decoder(torch.tanh(self.encoder(x.flatten(1))))  # (B, C*H*W)
        loss = (recon - x.flatten(1)).pow(2).sum(1)  # (B,)
        if self.training:
            self.training_calls += 1
            self.labels_seen.append(y)
            if self.config.sleep_s:
                time.sleep(self.config.sleep_s)
            if self.config.nan_from_call and self.training_calls >= self.config.nan_from_call:
                loss = loss * float("nan")
            if self.config.explode_from_call and self.training_calls >= self.config.explode_from_call:
                loss = loss * 1e9
        return {"loss": loss, "mse": loss.detach() / self.data_format.dims}

    def evaluate(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        metrics = self.loss(x, y)
        scores = self.config.scores
        score = scores[min(self.evaluation_calls, len(scores) - 1)] if scores else 0.0
        self.evaluation_calls += 1
        metrics["score"] = torch.full_like(metrics["loss"], score)
        return metrics

    @torch.no_grad()
    def sample(self, n, *, labels=None, temperature=1.0, generator=None):  # noqa: ANN001
        self.sample_labels = labels
        z = torch.randn(n, self.config.hidden, generator=generator, device=self.device) * temperature
        return torch.sigmoid(self.decoder(z)).view(n, *self.data_format.image_shape)


class ConditionalProbe(Probe):
    capabilities = Capabilities(label_conditional=True)


@dataclass(frozen=True)
class TwoPhaseConfig:
    critic_repeats: int = 2
    maker_lr: float = 0.05


class TwoPhase(GenerativeModel):
    config_class = TwoPhaseConfig
    selection_metric = "loss"

    def __init__(self, config: TwoPhaseConfig, data_format: DataFormat) -> None:
        super().__init__(config, data_format)
        self.critic = nn.Linear(data_format.dims, 1)
        self.maker = nn.Parameter(torch.zeros(data_format.dims))
        self.trace: list[tuple[str, float, torch.Tensor, torch.Tensor]] = []

    def training_phases(self) -> list[TrainingPhase]:
        return [TrainingPhase("critic", repeats=self.config.critic_repeats), TrainingPhase("maker", lr=self.config.maker_lr)]

    def phase_parameters(self, phase: str):  # noqa: ANN201
        return iter([self.maker]) if phase == "maker" else self.critic.parameters()

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, phase: str = "model") -> dict[str, torch.Tensor]:
        if self.training:
            flat_critic = torch.cat([p.detach().flatten() for p in self.critic.parameters()]).clone()
            self.trace.append((phase, float(x.double().sum()), flat_critic, self.maker.detach().clone()))
        real = self.critic(x.flatten(1)).squeeze(1)  # (B,)
        fake = self.critic(self.maker.unsqueeze(0)).squeeze(1).expand_as(real)  # (B,), through both parameter sets
        if phase == "critic":
            loss = (real - 1).pow(2) + (fake + 1).pow(2)
        else:
            loss = (fake - 1).pow(2) + 0.0 * real
        return {"loss": loss}


TEST_MODELS = {"test-probe": Probe, "test-conditional": ConditionalProbe, "test-two-phase": TwoPhase}


def register() -> None:
    """Add the test models to the registry (the conftest does it per test, then unregisters)."""
    for name, cls in TEST_MODELS.items():
        if name not in MODEL_REGISTRY:
            register_model(name)(cls)


def unregister() -> None:
    """Remove them again, so registry-wide tests elsewhere (tests/models) never see them."""
    for name in TEST_MODELS:
        MODEL_REGISTRY.pop(name, None)
