"""Encoder transfer: how useful are a generative model's codes for classification with few labels?

A classifier = the model's encoder (`encode(x)`: a VAE's posterior mean, an ae's code)
followed by a linear or one-hidden-layer head, trained with cross-entropy on K labelled
images per class (a balanced, seeded subset of the training split) and scored on the test
split. The control is the same classifier with the encoder re-initialised at random, trained
with the same budget (steps, batch size, learning rate, minibatch order): with a frozen
encoder that compares learned codes with random features; with `finetune` it compares
pretraining with training from scratch (the semi-supervised setting of Kingma et al. 2014,
here as a simple fine-tuning baseline, not their M1+M2 model).

This is a classifier evaluation, not generative training: it has its own small loop and
never touches the trainer. The caller's model is copied, never modified. Inputs are
preprocessed float images in the model's data format (what the model was trained on).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.metrics.classifier_fit import fit_classifier
from genzoo.models.base import GenerativeModel


@dataclass(frozen=True)
class TransferSettings:
    head: Literal["linear", "mlp"] = "linear"
    hidden: int = 128  # head=mlp: width of the hidden layer
    finetune: bool = False  # train the encoder too (else: frozen features)
    steps: int = 300  # optimisation steps per classifier, the same for both initialisations
    batch_size: int = 64
    lr: float = 1e-3  # Adam
    seed: int = 0  # subset, head initialisation, random encoder and minibatch order
    eval_batch_size: int = 256

    def __post_init__(self) -> None:
        if self.head not in ("linear", "mlp"):
            raise ValueError(f"bad head {self.head!r}: choose one of linear, mlp")
        for name in ("hidden", "steps", "batch_size", "eval_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")


def balanced_subset(labels: torch.Tensor, per_class: int, num_classes: int, seed: int = 0) -> torch.Tensor:
    """Indices (per_class * num_classes,) of `per_class` images of every class, chosen by a seeded permutation."""
    generator = torch.Generator().manual_seed(seed)
    labels = labels.cpu()
    chosen = []
    for label in range(num_classes):
        members = torch.nonzero(labels == label).flatten()
        if len(members) < per_class:
            raise ValueError(f"class {label} has {len(members)} training images, fewer than the {per_class} asked for")
        chosen.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    return torch.cat(chosen)


def randomly_initialised(model: GenerativeModel, seed: int) -> GenerativeModel:
    """A copy of `model` with every layer's parameters re-drawn by its own `reset_parameters`."""
    clone = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for module in clone.modules():
            if module is not clone and hasattr(module, "reset_parameters"):
                module.reset_parameters()
    return clone


class EncoderClassifier(nn.Module):
    """logits = head(encode(x)): (B, C, H, W) -> (B, num_classes)."""

    def __init__(self, model: GenerativeModel, code_dim: int, num_classes: int, settings: TransferSettings) -> None:
        super().__init__()
        self.model = model
        if settings.head == "linear":
            self.head: nn.Module = nn.Linear(code_dim, num_classes)
        else:
            self.head = nn.Sequential(nn.Linear(code_dim, settings.hidden), nn.ReLU(), nn.Linear(settings.hidden, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.model.encode(x).flatten(1))


@torch.no_grad()
def accuracy(classifier: EncoderClassifier, x: torch.Tensor, y: torch.Tensor, batch_size: int = 256) -> float:
    """Fraction of images whose arg-max class equals the label."""
    classifier.eval()
    device = next(classifier.parameters()).device
    correct = 0
    for start in range(0, len(x), batch_size):
        logits = classifier(x[start : start + batch_size].to(device))  # (b, K)
        correct += (logits.argmax(1).cpu() == y[start : start + batch_size].cpu()).sum().item()
    return correct / max(len(x), 1)


class _Epochs:
    """Batch indices of a shuffled order, reshuffled when the next batch would not fit (a new epoch)."""

    def __init__(self, count: int, batch_size: int, generator: torch.Generator) -> None:
        self.count, self.batch_size, self.generator = count, batch_size, generator
        self.order, self.position = torch.randperm(count, generator=generator), 0

    def next_batch(self) -> torch.Tensor:
        if self.position + self.batch_size > len(self.order) and self.position > 0:
            self.order, self.position = torch.randperm(self.count, generator=self.generator), 0
        batch = self.order[self.position : self.position + self.batch_size]
        self.position += len(batch)
        return batch


def train_classifier(
    model: GenerativeModel,
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    num_classes: int,
    settings: TransferSettings,
    on_step: Callable[[float], None] | None = None,
) -> EncoderClassifier:
    """Cross-entropy training of head(encode(x)) on (train_x, train_y) for settings.steps Adam steps.

    on_step, if given, receives each step's loss (a progress bar's update).
    """
    if not model.capabilities.encoder:
        raise ValueError(f"model {model.name!r} has no encoder to transfer")
    device = model.device
    model = copy.deepcopy(model)
    model.eval()
    with torch.no_grad():
        code_dim = model.encode(train_x[:1].to(device)).flatten(1).shape[1]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        classifier = EncoderClassifier(model, code_dim, num_classes, settings).to(device)
    for parameter in model.parameters():
        parameter.requires_grad_(settings.finetune)
    generator = torch.Generator().manual_seed(settings.seed)
    epochs = _Epochs(len(train_x), settings.batch_size, generator)

    def batch_loss(step: int) -> torch.Tensor:
        batch = epochs.next_batch()
        logits = classifier(train_x[batch].to(device))  # (b, K)
        return F.cross_entropy(logits, train_y[batch].to(device).long())

    classifier.head.train()
    fit_classifier(classifier.parameters(), batch_loss, steps=settings.steps, lr=settings.lr, schedule="constant",
                   after_step=None if on_step is None else lambda step, loss: on_step(loss.item()))
    return classifier


def transfer_table(
    model: GenerativeModel,
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    *,
    shots: Sequence[int] = (10, 100, 1000),
    num_classes: int | None = None,
    settings: TransferSettings = TransferSettings(),
    progress: bool = False,
) -> list[dict[str, Any]]:
    """Test accuracy of pretrained vs randomly initialised encoder + head, for each K in `shots`.

    train_x/test_x: preprocessed images (N, C, H, W); train_y/test_y: labels (N,).
    One row per K: {"per_class", "train_images", "test_images", "pretrained_accuracy",
    "random_init_accuracy", "chance", "head", "finetune", "steps"}.
    """
    num_classes = num_classes or int(max(train_y.max().item(), test_y.max().item())) + 1
    random_model = randomly_initialised(model, settings.seed + 1)
    rows = []
    bar = _progress_bar(2 * len(shots) * settings.steps, progress)
    for per_class in shots:
        subset = balanced_subset(train_y, per_class, num_classes, settings.seed)
        x, y = train_x[subset], train_y[subset]
        scores = {}
        for name, encoder in (("pretrained", model), ("random_init", random_model)):
            bar.set_description(f"K={per_class}/class, {name.replace('_', ' ')}")
            classifier = train_classifier(encoder, x, y, num_classes, settings, on_step=lambda loss: bar.set_postfix(loss=f"{loss:.3f}", refresh=False) or bar.update(1))
            scores[name] = accuracy(classifier, test_x, test_y, settings.eval_batch_size)
        rows.append({
            "per_class": per_class,
            "train_images": len(subset),
            "test_images": len(test_x),
            "pretrained_accuracy": scores["pretrained"],
            "random_init_accuracy": scores["random_init"],
            "chance": 1.0 / num_classes,
            "head": settings.head,
            "finetune": settings.finetune,
            "steps": settings.steps,
        })
    bar.close()
    return rows


def _progress_bar(total: int, enabled: bool) -> Any:
    """A bar over every classifier step of the table (disabled: the same object, silent)."""
    from genzoo.progress import progress_bar

    return progress_bar(total=total, desc="classifiers", enabled=enabled, leave=False)
