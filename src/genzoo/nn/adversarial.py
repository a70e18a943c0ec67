"""Adversarial losses on discriminator logits (Goodfellow et al. 2014, "Generative Adversarial Nets").

The value function of the two-player game, eq. (1) of Goodfellow et al. 2014:

    min_G max_D V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))],

with D(x) = sigmoid(l(x)) for the discriminator's logit l. Every loss here takes logits and
is written with `binary_cross_entropy_with_logits` (a softplus in disguise:
-log sigmoid(l) = softplus(-l), -log(1 - sigmoid(l)) = softplus(l)), which is exact for
logits of any size, unlike Sigmoid followed by BCELoss. All are per example, shape (B,), in
nats; none reduces over the batch.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

GeneratorLoss = Literal["minimax", "non-saturating"]
GENERATOR_LOSSES: tuple[str, ...] = ("minimax", "non-saturating")


def _per_example(logits: torch.Tensor) -> torch.Tensor:
    """(B,) or (B, 1, ...) logits -> (B,): one logit per example."""
    if logits.dim() > 1:
        if logits[0].numel() != 1:
            raise ValueError(f"expected one logit per example, got shape {tuple(logits.shape)}")
        logits = logits.reshape(logits.shape[0])
    return logits


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(x) - log(1 - D(G(z))): the negated value V of eq. (1), which D maximises (Alg. 1).

    real_logits, fake_logits: (B,) logits of D on real and generated examples, paired by
    index. Returns (B,) nats.
    """
    real_logits, fake_logits = _per_example(real_logits), _per_example(fake_logits)
    real_term = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits), reduction="none")
    fake_term = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits), reduction="none")
    return real_term + fake_term  # (B,)


def minimax_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """log(1 - D(G(z))), the generator's term of eq. (1) that G minimises (Alg. 1). (B,) nats, <= 0.

    It saturates: when D rejects G(z) confidently, the gradient vanishes (Sec. 3 of the paper).
    """
    fake_logits = _per_example(fake_logits)
    return -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits), reduction="none")


def non_saturating_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(G(z)): "train G to maximize log D(G(z))" (Goodfellow et al. 2014, Sec. 3). (B,) nats, >= 0.

    Same fixed point as the minimax loss, but strong gradients early in learning, when D
    rejects the samples with high confidence.
    """
    fake_logits = _per_example(fake_logits)
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits), reduction="none")


def generator_loss(fake_logits: torch.Tensor, kind: GeneratorLoss = "non-saturating") -> torch.Tensor:
    """The generator loss named `kind` ("minimax" or "non-saturating") on D's logits of G(z): (B,)."""
    if kind == "minimax":
        return minimax_generator_loss(fake_logits)
    if kind == "non-saturating":
        return non_saturating_generator_loss(fake_logits)
    raise ValueError(f"unknown generator loss {kind!r}: choose one of {', '.join(GENERATOR_LOSSES)}")
