"""Adversarial losses (genzoo.nn.adversarial) against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from genzoo.nn.adversarial import (
    discriminator_loss,
    generator_loss,
    minimax_generator_loss,
    non_saturating_generator_loss,
)


def softplus(v: float) -> float:
    return math.log1p(math.exp(v))


def test_discriminator_loss_matches_hand_values():
    real = torch.tensor([0.0, 2.0, -3.0])
    fake = torch.tensor([0.0, -1.0, 4.0])
    # -log sigmoid(r) - log(1 - sigmoid(f)) = softplus(-r) + softplus(f)
    expected = [2 * math.log(2), softplus(-2) + softplus(-1), softplus(3) + softplus(4)]
    assert discriminator_loss(real, fake).tolist() == pytest.approx(expected, rel=1e-6)
    assert discriminator_loss(real, fake).tolist()[0] == pytest.approx(1.3862944, rel=1e-6)


def test_generator_losses_match_hand_values():
    fake = torch.tensor([0.0, -1.0, 3.0])
    # minimax: log(1 - sigmoid(f)) = -softplus(f); non-saturating: -log sigmoid(f) = softplus(-f)
    assert minimax_generator_loss(fake).tolist() == pytest.approx([-math.log(2), -softplus(-1), -softplus(3)], rel=1e-6)
    assert non_saturating_generator_loss(fake).tolist() == pytest.approx([math.log(2), softplus(1), softplus(-3)], rel=1e-6)
    assert generator_loss(fake, "minimax").tolist() == minimax_generator_loss(fake).tolist()
    assert generator_loss(fake, "non-saturating").tolist() == non_saturating_generator_loss(fake).tolist()
    # D(G(z)) = sigmoid(-1) = 0.2689...: log(1 - 0.2689) = -0.3133, -log(0.2689) = 1.3133
    assert minimax_generator_loss(torch.tensor([-1.0])).item() == pytest.approx(-0.3132617, rel=1e-6)
    assert non_saturating_generator_loss(torch.tensor([-1.0])).item() == pytest.approx(1.3132617, rel=1e-6)


def test_minimax_saturates_where_non_saturating_does_not():
    """Goodfellow et al. 2014, Sec. 3: when D rejects G(z) confidently, log(1 - D) gives no gradient."""
    fake = torch.tensor([-10.0], requires_grad=True)
    (minimax_grad,) = torch.autograd.grad(minimax_generator_loss(fake).sum(), fake)
    (non_saturating_grad,) = torch.autograd.grad(non_saturating_generator_loss(fake).sum(), fake)
    sigmoid = 1 / (1 + math.exp(10))
    assert minimax_grad.item() == pytest.approx(-sigmoid, rel=1e-4)  # -4.54e-5
    assert non_saturating_grad.item() == pytest.approx(-(1 - sigmoid), rel=1e-6)  # about -1


def test_losses_are_exact_for_extreme_logits():
    """On logits, no clamping: Sigmoid + BCELoss would cap -log(0) at 100 and lose the gradient."""
    fake = torch.tensor([-200.0, 200.0], requires_grad=True)
    loss = non_saturating_generator_loss(fake)
    assert loss.tolist() == pytest.approx([200.0, 0.0], abs=1e-6)
    (grad,) = torch.autograd.grad(loss.sum(), fake)
    assert grad.tolist() == pytest.approx([-1.0, 0.0], abs=1e-6)
    assert torch.isfinite(discriminator_loss(torch.tensor([-300.0]), torch.tensor([300.0]))).all()
    assert discriminator_loss(torch.tensor([-300.0]), torch.tensor([300.0])).item() == pytest.approx(600.0)


def test_losses_are_per_example_and_accept_column_logits():
    real, fake = torch.randn(5, 1), torch.randn(5, 1)
    assert discriminator_loss(real, fake).shape == (5,)
    assert generator_loss(fake).shape == (5,)
    with pytest.raises(ValueError, match="one logit per example"):
        generator_loss(torch.zeros(5, 2))


def test_unknown_generator_loss_lists_the_choices():
    with pytest.raises(ValueError, match="minimax, non-saturating"):
        generator_loss(torch.zeros(2), "wasserstein")
