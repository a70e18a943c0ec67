"""An attribute classifier for datasets with exact generative factors (`shapes`).

A small CNN with one softmax head per attribute (shape, colour, size, x, y), trained for a
few epochs on the dataset's exact attribute labels. It scores generated images the way an
Inception network scores ImageNet samples, but for factors known by construction: the
DCGAN latent-arithmetic measurement (`genzoo.explore.arithmetic`) asks it whether
"red circle - red square + blue square" decodes to a blue circle.

Its input is display-space images, uint8 (B, C, H, W), so generated images (converted with
`genzoo.explore.sampling.to_display`) and dataset images are seen identically. Fitting is a
plain supervised loop over the dataset: a measuring instrument, like a feature extractor,
not a generative model of the trainer's.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn


class AttributeClassifier(nn.Module):
    """uint8 images (B, C, H, W) -> logits per attribute {name: (B, K_name)}."""

    def __init__(self, image_shape: tuple[int, int, int], attribute_values: Mapping[str, tuple[str, ...]], width: int = 32) -> None:
        super().__init__()
        if not attribute_values:
            raise ValueError("an attribute classifier needs a dataset with attributes (e.g. shapes)")
        self.image_shape = tuple(image_shape)
        self.attribute_values = {name: tuple(values) for name, values in attribute_values.items()}
        channels = image_shape[0]
        # Position attributes need where, not only what: pool to a 4x4 map, not to 1x1.
        # Small shapes differ in a few pixels: two full-resolution 3x3 convs before any pooling.
        self.trunk = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * width, 2 * width, 3, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(),
            nn.Linear(2 * width * 16, 128), nn.ReLU(),
        )
        self.heads = nn.ModuleDict({name: nn.Linear(128, len(values)) for name, values in self.attribute_values.items()})

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        if images.dtype != torch.uint8 or tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(f"the attribute classifier takes uint8 images (B, {', '.join(map(str, self.image_shape))}), got {images.dtype} {tuple(images.shape)}")
        features = self.trunk(images.float() / 255.0)  # (B, 128)
        return {name: head(features) for name, head in self.heads.items()}

    @torch.no_grad()
    def predict_proba(self, images: torch.Tensor, batch_size: int = 512) -> dict[str, torch.Tensor]:
        """Softmax probabilities {name: (B, K_name)} in eval mode, batched."""
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        chunks: dict[str, list[torch.Tensor]] = {name: [] for name in self.heads}
        for start in range(0, len(images), batch_size):
            logits = self(images[start : start + batch_size].to(device))
            for name, value in logits.items():
                chunks[name].append(value.softmax(1).cpu())
        self.train(was_training)
        return {name: torch.cat(parts) if parts else torch.empty(0, len(self.attribute_values[name])) for name, parts in chunks.items()}

    def predict(self, images: torch.Tensor, batch_size: int = 512) -> dict[str, torch.Tensor]:
        """Most likely value index per attribute {name: (B,) int64}."""
        return {name: p.argmax(1) for name, p in self.predict_proba(images, batch_size).items()}


def fit_attribute_classifier(
    dataset: object,
    *,
    steps: int = 1500,
    batch_size: int = 64,
    lr: float = 2e-3,
    width: int = 16,
    attributes: tuple[str, ...] | None = None,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> AttributeClassifier:
    """Train an AttributeClassifier on an in-memory dataset with `attributes` (summed cross-entropy of the heads).

    `steps` Adam steps on random batches (with replacement). Colour and position are learnt
    within ~100 steps; shape, the hardest factor at 28 px, needs ~750 (test accuracy 0.95 on
    shapes 3x28x28 at 750 steps of 64, width 16) -- check with `attribute_accuracy`.
    `attributes` restricts the heads (default: all of the dataset's).
    """
    if not getattr(dataset, "attributes", None):
        raise ValueError(f"dataset {dataset.info.name} has no attributes to classify: use shapes")
    values = dict(dataset.attribute_values)
    if attributes is not None:
        unknown = sorted(set(attributes) - set(values))
        if unknown:
            raise ValueError(f"unknown attribute {unknown[0]!r}: dataset {dataset.info.name} has {', '.join(values)}")
        values = {name: values[name] for name in attributes}
    torch.manual_seed(seed)
    classifier = AttributeClassifier(dataset.info.image_shape, values, width).to(device)
    optimizer = torch.optim.Adam(classifier.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    classifier.train()
    for _ in range(steps):
        index = torch.randint(0, len(dataset), (batch_size,), generator=generator)  # (B,)
        logits = classifier(dataset.images[index.to(dataset.images.device)].to(device))
        loss = sum(F.cross_entropy(logits[name], dataset.attributes[name][index.to(dataset.attributes[name].device)].to(device)) for name in logits)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return classifier.eval()


def attribute_accuracy(classifier: AttributeClassifier, dataset: object, *, batch_size: int = 512) -> dict[str, float]:
    """Share of images whose attribute is predicted right, per attribute, and "all" (every attribute right)."""
    predictions = classifier.predict(dataset.images, batch_size)
    correct = {name: predictions[name] == dataset.attributes[name].cpu() for name in predictions}
    accuracy = {name: float(hit.double().mean()) for name, hit in correct.items()}
    accuracy["all"] = float(torch.stack(list(correct.values())).all(0).double().mean())
    return accuracy
