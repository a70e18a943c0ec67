"""Feature extractors for sample-quality metrics: a compact classifier trained per dataset.

FID (Heusel et al. 2017), KID (Binkowski et al. 2018) and improved precision/recall
(Kynkaanniemi et al. 2019) compare images in the feature space of a classifier. Those papers
use Inception-v3 pool3 features (ImageNet weights). genzoo cannot download weights, so it
trains a small CNN on the labelled training split of the dataset being evaluated and uses
its penultimate layer (default 128 dims) as the feature space, and its softmax as p(y|x) for
the classifier score. Numbers computed this way are NOT comparable with published FIDs: they
compare models evaluated with the same extractor only. That is why every FID genzoo reports
names the extractor (`FeatureExtractor.identifier`, a hash of its weights) and N.

Architecture (`FeatureNetConfig`): blocks of 3x3 conv + BatchNorm + ReLU (widths 16, 32, 64,
2x2 max-pooling between blocks), adaptive average pooling to a 4x4 map (not a global
average: on Fashion-MNIST global pooling lost ~2 points of accuracy in our runs), a linear
feature layer + ReLU (the features), optional dropout, a linear classifier. Trained with
Adam, a cosine learning-rate decay, synthetic outliers and, optionally, random shifts (zero
padding). The outliers (uniform noise, binary noise, images with shuffled pixels) are a class
of their own, "no image of the dataset", in the spirit of outlier exposure (Hendrycks et al.
2019, who train outliers towards a uniform p(y|x) instead): without it the classifier named
91% of uniform-noise images with p >= 0.9; trained towards a uniform p(y|x), the noise
features collapsed onto one point inside the real images' k-NN balls (precision 1.0). With the
extra class, noise is neither recognised nor near real images in feature space.

The default recipe (`FeatureTraining`) is sized to train in about a minute on one CPU thread
(Fashion-MNIST: 1.5 epochs over 50k images, 89.1% test accuracy; docs/benchmarks.md);
`genzoo features train --epochs 6` gives a stronger one. It keeps `holdout_images` training
images (a seeded subset) out of training: real images the classifier has never seen, which
`genzoo.metrics.reference` compares with the test split to show the real-vs-real floor of
FID/KID/P&R.

Which extractor an evaluation uses (`choose_feature_extractor`): the default-recipe one cached
for the dataset, its options and image shape; else the most accurate one cached, whatever
recipe trained it; else the default recipe, trained on the spot and announced in one line first.

Input: uint8 display images (N, C, H, W), mapped to [-1, 1] by `normalise`; real and
generated images go through the same mapping, so nothing depends on a model's preprocessing.

Cache: `$XDG_CACHE_HOME/genzoo/features/<dataset>-<C>x<H>x<W>-<recipe hash>.safetensors`
(weights; metadata in the safetensors header) plus the same metadata as a `.json` file
beside it (test accuracy, epochs, seed, the training data's name, options and shape, the
extractor id). The recipe hash covers everything that defines the training (dataset and its
options, architecture, epochs, seed, optimiser settings), so another recipe never overwrites
or shadows a cached extractor. Files are read with safetensors only, never unpickled.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from genzoo.atomic_file import atomic_output, atomic_write
from genzoo.errors import ConfigError, DataError, GenzooError
from genzoo.file_kinds import unsafe_file_kind
from genzoo.metrics.classifier_fit import fit_classifier
from genzoo.progress import progress_bar, progress_iter

FORMAT_NAME = "genzoo-feature-extractor"
FORMAT_VERSION = 1
METADATA_KEY = "genzoo"


class FeatureExtractorError(GenzooError):
    """A feature extractor that is missing, corrupt, or built for other images."""


# ---- the network ---------------------------------------------------------------------------
@dataclass(frozen=True)
class FeatureNetConfig:
    """Architecture of the feature classifier (defaults: the extractor genzoo reports with)."""

    image_shape: tuple[int, int, int]
    num_classes: int
    widths: tuple[int, ...] = (16, 32, 64)  # channels of each conv block; 2x2 max-pool between blocks
    convs_per_block: int = 1
    pooled_size: int = 4  # adaptive average pooling to a pooled_size^2 map before the feature layer (1: global pooling)
    feature_dim: int = 128  # width of the penultimate (feature) layer
    dropout: float = 0.0  # before the classifier; 0.3 slowed the short default training (89.3% vs 89.6%, one run each)
    outlier_class: bool = True  # one more output, "no image of the dataset", trained on synthetic noise (see FeatureTraining)

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_shape", tuple(int(s) for s in self.image_shape))
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if len(self.image_shape) != 3 or min(self.image_shape) < 1:
            raise ConfigError(f"image_shape must be (C, H, W), got {self.image_shape}")
        if self.num_classes < 2:
            raise ConfigError(f"a feature classifier needs at least 2 classes, got {self.num_classes}")
        if not self.widths or min(self.widths) < 1 or min(self.feature_dim, self.convs_per_block, self.pooled_size) < 1:
            raise ConfigError("widths, convs_per_block, pooled_size and feature_dim of a feature classifier must be positive")


def normalise(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, C, H, W) -> float32 in [-1, 1]: the one input mapping, for real and generated images alike."""
    return images.float() * (2.0 / 255.0) - 1.0


class FeatureNet(nn.Module):
    """uint8 images (B, C, H, W) -> (features (B, F), class logits (B, K + 1)); the last logit is the outlier class (if any)."""

    def __init__(self, config: FeatureNetConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        channels = config.image_shape[0]
        for index, width in enumerate(config.widths):
            if index > 0:
                layers.append(nn.MaxPool2d(2))
            for _ in range(config.convs_per_block):
                layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
                channels = width
        # A small pooled map, not a global average: where a part is (a collar, a heel) tells classes apart.
        layers += [nn.AdaptiveAvgPool2d(config.pooled_size), nn.Flatten()]
        self.trunk = nn.Sequential(*layers)
        self.feature = nn.Sequential(nn.Linear(channels * config.pooled_size**2, config.feature_dim), nn.ReLU(inplace=True))
        outputs = config.num_classes + int(config.outlier_class)
        self.classifier = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(config.feature_dim, outputs))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.feature(self.trunk(normalise(images)))  # (B, F)
        return features, self.classifier(features)  # (B, F), (B, K + 1 with the outlier class, else K)


# ---- the extractor -------------------------------------------------------------------------
@dataclass
class FeatureExtractor:
    """A trained FeatureNet plus what it was trained on; maps uint8 images to features and p(y|x).

    `identifier` ("genzoo-<dataset>-<12 hex digits of the weights' SHA-256>") names it next
    to every FID; reference statistics are cached under it.
    """

    net: FeatureNet
    dataset: str
    metadata: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None  # the file it was saved to or loaded from

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.net.config.image_shape

    @property
    def feature_dim(self) -> int:
        return self.net.config.feature_dim

    @property
    def num_classes(self) -> int:
        return self.net.config.num_classes

    @property
    def weights_hash(self) -> str:
        return weights_hash(self.net)

    @property
    def identifier(self) -> str:
        return f"genzoo-{self.dataset}-{self.weights_hash[:12]}"

    def describe(self) -> dict[str, Any]:
        """What to print next to a FID: id, training data, accuracy, feature width."""
        return {
            "name": "genzoo-classifier",
            "id": self.identifier,
            "dataset": self.dataset,
            "dataset_options": self.metadata.get("dataset_options", {}),
            "image_shape": list(self.image_shape),
            "feature_dim": self.feature_dim,
            "num_classes": self.num_classes,
            "outlier_class": self.net.config.outlier_class,
            "test_accuracy": self.metadata.get("test_accuracy"),
            "note": "penultimate layer of a classifier trained by genzoo on this dataset; not comparable with Inception-v3 FIDs",
        }

    def training_summary(self) -> str:
        """One line for `genzoo features train`: id, test accuracy, epochs, time, cache file."""
        meta = self.metadata
        accuracy = meta.get("test_accuracy")
        accuracy_text = f"test accuracy {accuracy:.4f}" if accuracy is not None else "no test split"
        seconds = meta.get("train_seconds")
        epochs = meta.get("epochs")
        return (
            f"feature extractor {self.identifier} ({self.dataset} {_shape_text(self.image_shape)}): {accuracy_text}, "
            f"{f'{epochs:g}' if isinstance(epochs, (int, float)) else '?'} epochs on {meta.get('train_images', '?')} images"
            + (f" ({meta['holdout']['count']} more held out as a real reference)" if (meta.get("holdout") or {}).get("count") else "")
            + f", seed {meta.get('seed', '?')}"
            + (f", {seconds:.0f} s" if seconds is not None else "")
            + (f"; saved to {self.path}" if self.path is not None else "; not cached")
        )

    def check_images(self, images: torch.Tensor) -> None:
        if images.dtype != torch.uint8 or images.dim() != 4 or tuple(images.shape[1:]) != self.image_shape:
            expected = ", ".join(map(str, self.image_shape))
            raise FeatureExtractorError(
                f"feature extractor {self.identifier} takes uint8 images (N, {expected}), got {images.dtype} {tuple(images.shape)}: "
                f"use an extractor trained for this shape (`genzoo features train --data ...`)"
            )

    @torch.no_grad()
    def extract(self, images: torch.Tensor, *, batch_size: int = 500, progress: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 (N, C, H, W) -> (features (N, F), p(y|x) (N, K + 1) over the K classes and the outlier class
        (N, K without one)), float32 on the CPU, in eval mode."""
        self.check_images(images)
        net = self.net
        was_training = net.training
        net.eval()
        device = next(net.parameters()).device
        features, probs = [], []
        starts = progress_iter(range(0, len(images), batch_size), total=math.ceil(len(images) / batch_size), desc="features", enabled=progress)
        try:
            for start in starts:
                batch = images[start : start + batch_size].to(device)
                feature, logits = net(batch)
                features.append(feature.float().cpu())
                probs.append(torch.softmax(logits.float(), dim=1).cpu())
        finally:
            net.train(was_training)
        if not features:
            return torch.zeros(0, self.feature_dim), torch.zeros(0, self.num_classes + int(self.net.config.outlier_class))
        return torch.cat(features), torch.cat(probs)

    def features(self, images: torch.Tensor, *, batch_size: int = 500) -> torch.Tensor:
        """Penultimate features (N, F) of uint8 images."""
        return self.extract(images, batch_size=batch_size)[0]

    def class_probs(self, images: torch.Tensor, *, batch_size: int = 500) -> torch.Tensor:
        """p(y|x) (N, K + 1) of uint8 images (the last column: the outlier class; (N, K) without one)."""
        return self.extract(images, batch_size=batch_size)[1]

    def accuracy(self, images: torch.Tensor, labels: torch.Tensor, *, batch_size: int = 500) -> float:
        """Top-1 accuracy on uint8 images and int64 labels (an image put in the outlier class counts as wrong)."""
        probs = self.class_probs(images, batch_size=batch_size)
        return float((probs.argmax(1) == labels.cpu()).float().mean())

    # ---- files ----
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Weights as safetensors (metadata in its header) + the metadata as JSON beside it."""
        path = Path(path)
        metadata = {
            **self.metadata,
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "dataset": self.dataset,
            "architecture": _config_dict(self.net.config),
            "id": self.identifier,
            "weights_sha256": self.weights_hash,
        }
        state = {name: tensor.detach().cpu().contiguous().clone() for name, tensor in self.net.state_dict().items()}
        with atomic_output(path) as temporary:
            save_file(state, str(temporary), metadata={METADATA_KEY: json.dumps(metadata)})
        atomic_write(path.with_suffix(".json"), json.dumps(metadata, indent=2) + "\n")
        self.metadata = metadata
        self.path = path
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, device: str | torch.device = "cpu") -> "FeatureExtractor":
        """Read a file written by `save` (safetensors only; a pickle is refused, never opened)."""
        path = Path(path)
        if not path.is_file():
            raise FeatureExtractorError(f"feature extractor {path} not found: train one with `genzoo features train --data NAME`")
        kind = unsafe_file_kind(path)
        if kind is not None:
            raise FeatureExtractorError(f"{path} is {kind}: genzoo reads feature extractors from safetensors only, never unpickles")
        try:
            with safe_open(str(path), framework="pt", device="cpu") as handle:
                header = handle.metadata() or {}
                state = {key: handle.get_tensor(key) for key in handle.keys()}
        except (SafetensorError, OSError, ValueError, RuntimeError) as error:
            raise FeatureExtractorError(f"{path} is not a readable feature extractor ({error}): delete it and train again") from None
        try:
            metadata = json.loads(header[METADATA_KEY])
            if metadata.get("format") != FORMAT_NAME or metadata.get("format_version") != FORMAT_VERSION:
                raise ValueError("unknown format")
            architecture = {"outlier_class": False, **dict(metadata["architecture"])}  # files written before the outlier class
            config = FeatureNetConfig(**{**architecture, "image_shape": tuple(architecture["image_shape"]), "widths": tuple(architecture["widths"])})
        except (KeyError, TypeError, ValueError) as error:
            raise FeatureExtractorError(f"{path} is not a genzoo feature extractor ({error}): delete it and train again") from None
        net = FeatureNet(config)
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as error:
            first = str(error).splitlines()[0]
            raise FeatureExtractorError(f"{path} does not match its architecture ({first}): delete it and train again") from None
        extractor = cls(net=net.to(device).eval(), dataset=str(metadata["dataset"]), metadata=metadata, path=path)
        if extractor.weights_hash != metadata.get("weights_sha256"):
            raise FeatureExtractorError(f"{path} is corrupt (its weights do not match the recorded hash): delete it and train again")
        return extractor


def _config_dict(config: FeatureNetConfig) -> dict[str, Any]:
    values = asdict(config)
    values["image_shape"] = list(config.image_shape)
    values["widths"] = list(config.widths)
    return values


def weights_hash(module: nn.Module) -> str:
    """SHA-256 over the names, shapes, dtypes and bytes of every tensor of the state_dict."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype};".encode())
        flat = tensor.detach().cpu().contiguous().reshape(-1)  # 0-d tensors cannot be viewed as bytes
        digest.update(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
    return digest.hexdigest()


# ---- training ------------------------------------------------------------------------------
@dataclass(frozen=True)
class FeatureTraining:
    """The training recipe of a feature classifier.

    Defaults: about a minute of one CPU core for Fashion-MNIST, 89.1% test accuracy (docs/benchmarks.md);
    the former default (6 epochs, batch size 128, lr 2e-3, widths 32-64-128, no outliers) gave 92.5% in 7 minutes.
    """

    epochs: float = 1.5
    batch_size: int = 64
    lr: float = 3e-3  # Adam, cosine-decayed to 0
    weight_decay: float = 1e-4
    max_shift: int = 0  # random translations of up to this many pixels (0: none; 1 cost 0.7 points at 5 epochs)
    seed: int = 0
    max_train_images: int | None = None  # use a seeded subset of the training split (tests, quick runs)
    holdout_images: int = 10_000  # training images never trained on (at most a fifth of the split): the real-vs-real reference
    outlier_fraction: float = 0.25  # synthetic outliers added to each batch, as a share of batch_size (nets with an outlier class)

    def __post_init__(self) -> None:
        if self.epochs <= 0 or self.batch_size < 1 or self.lr <= 0 or self.max_shift < 0 or self.holdout_images < 0:
            raise ConfigError("feature training needs epochs > 0, batch_size >= 1, lr > 0, max_shift >= 0 and holdout_images >= 0")
        if self.outlier_fraction < 0:
            raise ConfigError(f"feature training needs outlier_fraction >= 0, got {self.outlier_fraction}")

    def holdout_count(self, num_train_images: int) -> int:
        """How many of `num_train_images` are kept out of training: holdout_images, at most a fifth of them."""
        return min(self.holdout_images, num_train_images // 5)


def holdout_indices(num_images: int, count: int, seed: int) -> torch.Tensor:
    """Sorted indices (count,) of the training images a classifier trained with `seed` never saw."""
    order = torch.randperm(num_images, generator=torch.Generator().manual_seed(seed))
    return order[:count].sort().values


def training_indices(num_images: int, count: int, seed: int) -> torch.Tensor:
    """Sorted indices of the other num_images - count training images: those it trains on."""
    order = torch.randperm(num_images, generator=torch.Generator().manual_seed(seed))
    return order[count:].sort().values


def random_shift(images: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image of (B, C, H, W) by its own (dy, dx) in [-max_shift, max_shift], zero fill."""
    if max_shift == 0:
        return images
    batch, _, height, width = images.shape
    padded = F.pad(images, (max_shift,) * 4)  # (B, C, H + 2s, W + 2s)
    offsets = torch.randint(0, 2 * max_shift + 1, (2, batch), generator=generator).to(images.device)  # (2, B)
    rows = offsets[0][:, None] + torch.arange(height, device=images.device)  # (B, H)
    cols = offsets[1][:, None] + torch.arange(width, device=images.device)  # (B, W)
    index = torch.arange(batch, device=images.device)[:, None, None]
    shifted = padded.permute(0, 2, 3, 1)[index, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
    return shifted.permute(0, 3, 1, 2).contiguous()


def synthetic_outliers(images: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """`count` uint8 images (count, C, H, W) that show nothing, the kinds in turn: uniform noise, binary
    noise of a random density in [0.05, 0.95], and images of `images` (N, C, H, W) with their values
    shuffled (the data's intensities without any shape)."""
    _, channels, height, width = images.shape
    shape = (count, channels, height, width)
    kind = (torch.arange(count) % 3).view(count, 1, 1, 1)
    uniform = torch.randint(0, 256, shape, generator=generator, dtype=torch.uint8)
    density = torch.rand(count, 1, 1, 1, generator=generator) * 0.9 + 0.05
    binary = (torch.rand(shape, generator=generator) < density).to(torch.uint8) * 255
    source = images[torch.randint(0, len(images), (count,), generator=generator)].reshape(count, -1).cpu()  # (count, C*H*W)
    shuffled = source.gather(1, torch.rand(source.shape, generator=generator).argsort(dim=1)).reshape(shape)
    return torch.where(kind == 0, uniform, torch.where(kind == 1, binary, shuffled))


def recipe_hash(recipe: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def _shape_text(image_shape: Sequence[int]) -> str:
    return "x".join(str(int(s)) for s in image_shape)


def features_cache_dir() -> Path:
    from genzoo.data.locate import cache_dir

    return cache_dir() / "features"


def extractor_path(recipe: Mapping[str, Any], *, cache_root: str | os.PathLike[str] | None = None) -> Path:
    root = Path(cache_root) if cache_root is not None else features_cache_dir()
    return root / f"{recipe['dataset']}-{_shape_text(recipe['image_shape'])}-{recipe_hash(recipe)}.safetensors"


def _load_split(dataset_name: str, split: str, data_dir: str | None, dataset_options: Mapping[str, Any], download: bool, progress: bool) -> Any:
    from genzoo.data import load_dataset

    dataset = load_dataset(dataset_name, split, data_dir=data_dir, download=download, progress=progress, **dict(dataset_options))
    if dataset.labels is None or not dataset.info.num_classes:
        raise DataError(f"dataset {dataset_name} has no class labels: a feature classifier needs a labelled dataset")
    try:
        images = dataset.images
    except DataError:
        raise DataError(f"dataset {dataset_name} ({split}) is streamed from disk: feature training needs it in memory (raise max_in_memory)") from None
    return dataset.info, images, dataset.labels


def make_recipe(
    dataset_name: str,
    image_shape: Sequence[int],
    num_classes: int,
    dataset_options: Mapping[str, Any],
    architecture: Mapping[str, Any],
    training: FeatureTraining,
) -> dict[str, Any]:
    """Everything that defines a trained extractor, as JSON (its hash names the cache file)."""
    config = FeatureNetConfig(image_shape=tuple(image_shape), num_classes=num_classes, **dict(architecture))
    return {
        "dataset": dataset_name,
        "dataset_options": dict(sorted(dataset_options.items())),
        "image_shape": list(config.image_shape),
        "architecture": _config_dict(config),
        "training": asdict(training),
        "format_version": FORMAT_VERSION,
    }


class _FeatureBatches:
    """The feature classifier's batches: epochs of shuffled, randomly shifted training images, plus
    synthetic outliers labelled K ("no image of the dataset"), in one pass so BatchNorm sees the mixture."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, config: FeatureNetConfig, training: FeatureTraining,
                 generator: torch.Generator, device: torch.device, steps_per_epoch: int) -> None:
        self.images, self.config, self.training, self.generator = images, config, training, generator
        self.images_on_device, self.labels_on_device = images.to(device), labels.to(device)
        self.device, self.steps_per_epoch = device, steps_per_epoch
        self.order = torch.empty(0, dtype=torch.int64)
        self.index = self.order
        self.logits = torch.empty(0)  # of the last batch's real images (B, K + 1)

    def loss(self, net: FeatureNet, step: int) -> torch.Tensor:
        batch_size = self.training.batch_size
        position = (step % self.steps_per_epoch) * batch_size
        if position == 0:
            self.order = torch.randperm(len(self.images), generator=self.generator)
        self.index = self.order[position : position + batch_size].to(self.device)
        batch = random_shift(self.images_on_device[self.index], self.training.max_shift, self.generator)
        count = round(self.training.outlier_fraction * len(batch)) if self.config.outlier_class else 0
        outliers = synthetic_outliers(self.images, count, self.generator).to(self.device)  # (O, C, H, W)
        targets = torch.cat([self.labels_on_device[self.index], torch.full((count,), self.config.num_classes, device=self.device)])
        _, all_logits = net(torch.cat([batch, outliers]))
        self.logits = all_logits[: len(batch)].detach()
        return F.cross_entropy(all_logits, targets)

    def reporter(self, bar: Any, progress: bool, total_steps: int) -> Callable[[int, torch.Tensor], None]:
        """after_step for fit_classifier: moving averages of loss and accuracy on the bar."""
        running: dict[str, float] = {}

        def report(step: int, loss: torch.Tensor) -> None:
            if progress:
                batch_accuracy = (self.logits.argmax(1) == self.labels_on_device[self.index]).float().mean().item()
                for name, value in (("loss", loss.item()), ("accuracy", batch_accuracy)):
                    running[name] = value if name not in running else 0.95 * running[name] + 0.05 * value
                if step % 20 == 0 or step == total_steps - 1:
                    bar.set_postfix(loss=f"{running['loss']:.3f}", accuracy=f"{running['accuracy']:.3f}")
            bar.update(1)

        return report


def train_feature_classifier(
    dataset_name: str,
    *,
    data_dir: str | None = None,
    dataset_options: Mapping[str, Any] | None = None,
    epochs: float = FeatureTraining.epochs,
    seed: int = 0,
    device: str | torch.device = "cpu",
    architecture: Mapping[str, Any] | None = None,
    training: FeatureTraining | None = None,
    cache: bool = True,
    cache_root: str | os.PathLike[str] | None = None,
    download: bool = True,
    progress: bool = True,
) -> FeatureExtractor:
    """Train the feature classifier of `dataset_name` on its train split, measure test accuracy, cache it.

    `architecture`: FeatureNetConfig fields other than image_shape / num_classes (e.g.
    widths=(8, 16), feature_dim=16 for tests). `training` overrides epochs and seed when given.
    The global RNG streams are left untouched (training runs on forked streams).
    """
    from genzoo.runs.device import resolve_device

    dataset_options = dict(dataset_options or {})
    training = training or FeatureTraining(epochs=epochs, seed=seed)
    target = resolve_device(device) if isinstance(device, str) else device
    info, images, labels = _load_split(dataset_name, "train", data_dir, dataset_options, download, progress)
    recipe = make_recipe(dataset_name, info.image_shape, int(info.num_classes), dataset_options, architecture or {}, training)
    config = FeatureNetConfig(**{**recipe["architecture"], "image_shape": tuple(info.image_shape), "widths": tuple(recipe["architecture"]["widths"])})

    split_size = len(images)
    held_out = training.holdout_count(split_size)
    if held_out:
        keep = training_indices(split_size, held_out, training.seed)
        images, labels = images[keep], labels[keep]
    generator = torch.Generator().manual_seed(training.seed)
    if training.max_train_images is not None and training.max_train_images < len(images):
        keep = torch.randperm(len(images), generator=generator)[: training.max_train_images]
        images, labels = images[keep], labels[keep]
    started = time.perf_counter()
    with torch.random.fork_rng(devices=[target] if target.type == "cuda" else []):
        torch.manual_seed(training.seed)
        net = FeatureNet(config).to(target)
        steps_per_epoch = max(1, len(images) // training.batch_size)
        total_steps = max(1, math.ceil(training.epochs * steps_per_epoch))
        batches = _FeatureBatches(images, labels, config, training, generator, target, steps_per_epoch)
        bar = progress_bar(total=total_steps, desc=f"feature classifier ({dataset_name})", enabled=progress)
        net.train()
        try:
            fit_classifier(net.parameters(), lambda step: batches.loss(net, step), steps=total_steps, lr=training.lr,
                           schedule="cosine", weight_decay=training.weight_decay, after_step=batches.reporter(bar, progress, total_steps))
        finally:
            bar.close()
    train_seconds = time.perf_counter() - started
    net.eval()
    extractor = FeatureExtractor(net=net, dataset=dataset_name)
    test_accuracy = None
    if "test" in info.splits:
        _, test_images, test_labels = _load_split(dataset_name, "test", data_dir, dataset_options, download, progress)
        test_accuracy = extractor.accuracy(test_images, test_labels)
    extractor.metadata = {
        "recipe": recipe,
        "recipe_hash": recipe_hash(recipe),
        "dataset_options": recipe["dataset_options"],
        "image_shape": list(info.image_shape),
        "class_names": list(info.class_names or []),
        "train_images": len(images),
        "holdout": {"split": "train", "count": held_out, "of": split_size, "seed": training.seed},
        "epochs": training.epochs,
        "seed": training.seed,
        "test_accuracy": test_accuracy,
        "train_seconds": round(train_seconds, 2),
        "device": str(target),
        "torch": torch.__version__,
    }
    if cache:
        extractor.save(extractor_path(recipe, cache_root=cache_root))
    return extractor


def labelled_dataset_info(dataset_name: str, image_shape: Sequence[int] | None, dataset_options: Mapping[str, Any]) -> Any:
    """The dataset's info, checked to have class labels and (when given) images of `image_shape`."""
    from genzoo.data import dataset_info

    info = dataset_info(dataset_name, **dataset_options)
    if image_shape is not None and tuple(int(s) for s in image_shape) != tuple(info.image_shape):
        raise FeatureExtractorError(
            f"images of shape {tuple(image_shape)} cannot be scored by a feature extractor of {dataset_name}, "
            f"whose images are {tuple(info.image_shape)}: evaluate on the dataset the model was trained on"
        )
    if not info.num_classes:
        raise FeatureExtractorError(f"dataset {dataset_name} has no class labels: genzoo cannot train a feature classifier for it")
    return info


def load_feature_extractor(
    dataset_name: str,
    image_shape: Sequence[int] | None = None,
    *,
    data_dir: str | None = None,
    dataset_options: Mapping[str, Any] | None = None,
    train_if_missing: bool = True,
    architecture: Mapping[str, Any] | None = None,
    training: FeatureTraining | None = None,
    cache_root: str | os.PathLike[str] | None = None,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> FeatureExtractor:
    """The cached extractor of this dataset (+ options) and recipe; trained and cached when missing.

    The recipe is the default one unless `architecture` / `training` are given. `image_shape`,
    when given, must be the dataset's image shape (a one-line error otherwise).
    """
    from genzoo.runs.device import resolve_device

    device = resolve_device(device) if isinstance(device, str) else device
    dataset_options = dict(dataset_options or {})
    info = labelled_dataset_info(dataset_name, image_shape, dataset_options)
    training = training or FeatureTraining()
    recipe = make_recipe(dataset_name, info.image_shape, int(info.num_classes), dataset_options, architecture or {}, training)
    path = extractor_path(recipe, cache_root=cache_root)
    if path.is_file():
        extractor = FeatureExtractor.load(path, device=device)
        if json.dumps(extractor.metadata.get("recipe"), sort_keys=True) != json.dumps(recipe, sort_keys=True):
            raise FeatureExtractorError(f"{path} holds an extractor of another recipe: delete it and train again")
        return extractor
    if not train_if_missing:
        raise FeatureExtractorError(
            f"no feature extractor cached for {dataset_name} {_shape_text(info.image_shape)} (looked for {path}): "
            f"run `genzoo features train --data {dataset_name}`"
        )
    return train_feature_classifier(
        dataset_name, data_dir=data_dir, dataset_options=dataset_options, device=device, architecture=architecture,
        training=training, cache_root=cache_root, progress=progress,
    )


# ---- which extractor an evaluation uses ----------------------------------------------------
@dataclass
class ExtractorChoice:
    """The extractor an evaluation uses and one line saying which one and why."""

    extractor: FeatureExtractor
    note: str
    trained_now: bool


def _json_normalised(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True))


def cached_extractors(
    dataset_name: str,
    image_shape: Sequence[int],
    dataset_options: Mapping[str, Any] | None = None,
    *,
    cache_root: str | os.PathLike[str] | None = None,
) -> list[tuple[Path, dict[str, Any]]]:
    """(weights file, metadata) of every cached extractor of this dataset, its options and image shape, any recipe.

    Read from the JSON sidecars; the default recipe first (every evaluation then uses the same
    extractor, so their FIDs compare), then the most accurate, then by file name.
    """
    root = Path(cache_root) if cache_root is not None else features_cache_dir()
    wanted_options = _json_normalised(dict(sorted((dataset_options or {}).items())))
    shape = [int(s) for s in image_shape]
    found = []
    for sidecar in sorted(root.glob(f"{dataset_name}-{_shape_text(shape)}-*.json")):
        weights = sidecar.with_suffix(".safetensors")
        try:
            metadata = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not weights.is_file() or not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
            continue
        if metadata.get("dataset") != dataset_name or metadata.get("image_shape") != shape:
            continue
        if _json_normalised(metadata.get("dataset_options", {})) != wanted_options:
            continue
        found.append((weights, metadata))

    def rank(item: tuple[Path, dict[str, Any]]) -> tuple[bool, float, str]:
        weights, metadata = item
        accuracy = metadata.get("test_accuracy")
        return (not is_default_recipe(metadata), -(accuracy if isinstance(accuracy, (int, float)) else -1.0), weights.name)

    return sorted(found, key=rank)


def is_default_recipe(metadata: Mapping[str, Any]) -> bool:
    """Whether an extractor's recorded recipe is today's default (architecture and training)."""
    recipe = metadata.get("recipe") or {}
    architecture = dict(recipe.get("architecture") or {})
    shape, classes = architecture.pop("image_shape", None), architecture.pop("num_classes", None)
    if shape is None or classes is None:
        return False
    default = _config_dict(FeatureNetConfig(image_shape=tuple(shape), num_classes=int(classes)))
    default.pop("image_shape"), default.pop("num_classes")
    return architecture == default and recipe.get("training") == asdict(FeatureTraining())


def describe_recipe(metadata: Mapping[str, Any]) -> str:
    """One line on an extractor's recipe, e.g. `default recipe: 1.5 epochs, test accuracy 0.891`."""
    epochs = metadata.get("epochs")
    accuracy = metadata.get("test_accuracy")
    widths = (metadata.get("architecture") or (metadata.get("recipe") or {}).get("architecture") or {}).get("widths")
    parts = [f"{epochs:g} epochs" if isinstance(epochs, (int, float)) else "epochs unknown"]
    if widths and not is_default_recipe(metadata):
        parts.append("widths " + "-".join(str(w) for w in widths))
    parts.append(f"test accuracy {accuracy:.3f}" if isinstance(accuracy, (int, float)) else "no test accuracy")
    return ("default recipe: " if is_default_recipe(metadata) else "trained with other options: ") + ", ".join(parts)


def choose_feature_extractor(
    dataset_name: str,
    image_shape: Sequence[int] | None = None,
    *,
    data_dir: str | None = None,
    dataset_options: Mapping[str, Any] | None = None,
    cache_root: str | os.PathLike[str] | None = None,
    device: str | torch.device = "cpu",
    progress: bool = True,
    say: Callable[[str], None] | None = None,
) -> ExtractorChoice:
    """The extractor to evaluate models of `dataset_name` with, and a one-line note saying which and why.

    The default-recipe extractor cached for this dataset, its options and image shape; else the
    most accurate one cached, whatever recipe trained it (`genzoo features train --epochs 0.1`
    counts); when none is cached (or none is readable), the default recipe is trained now and
    cached. `say(line)` is called with the note before any training starts, so a wait never
    comes unannounced.
    """
    from genzoo.runs.device import resolve_device

    device = resolve_device(device) if isinstance(device, str) else device
    dataset_options = dict(dataset_options or {})
    info = labelled_dataset_info(dataset_name, image_shape, dataset_options)
    candidates = cached_extractors(dataset_name, info.image_shape, dataset_options, cache_root=cache_root)
    unreadable = []
    for path, _ in candidates:
        try:
            extractor = FeatureExtractor.load(path, device=device)
        except FeatureExtractorError:
            unreadable.append(path.name)
            continue
        others = ""
        if not is_default_recipe(extractor.metadata):
            others = f"; no default-recipe one cached, the most accurate of {len(candidates)}" if len(candidates) > 1 else "; no default-recipe one cached"
        note = f"feature classifier: cached {extractor.identifier} ({describe_recipe(extractor.metadata)}{others}), {path}"
        if say is not None:
            say(note)
        return ExtractorChoice(extractor, note, trained_now=False)
    default = FeatureTraining()
    where = extractor_path(make_recipe(dataset_name, info.image_shape, int(info.num_classes), dataset_options, {}, default), cache_root=cache_root)
    reason = f"{len(unreadable)} cached file(s) unreadable ({', '.join(unreadable)})" if unreadable else f"none cached in {where.parent}"
    note = (
        f"feature classifier: {reason} for {dataset_name} {_shape_text(info.image_shape)}; training the default one now "
        f"({default.epochs:g} epochs, about a minute for Fashion-MNIST on one CPU core), cached for later runs"
    )
    if say is not None:
        say(note)
    extractor = train_feature_classifier(
        dataset_name, data_dir=data_dir, dataset_options=dataset_options, device=device, training=default,
        cache_root=cache_root, progress=progress,
    )
    return ExtractorChoice(extractor, note + f": {extractor.identifier} ({describe_recipe(extractor.metadata)})", trained_now=True)
