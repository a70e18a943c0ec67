"""The FID Inception-v3 network, for users who supply pytorch-fid's weights file themselves.

Published FIDs use the pool3 features (2048 dims) of the TensorFlow Inception-v3 graph of
2015-12-05 (Heusel et al. 2017; ported to PyTorch by pytorch-fid as
`pt_inception-2015-12-05-6726825d.pth`). genzoo downloads nothing, so this network is only
available when the user passes that file (`load_inception_extractor(path)`, CLI
`--inception-weights PATH`); otherwise genzoo's own per-dataset classifier is used
(`genzoo.metrics.features`).

The architecture is Inception-v3 (Szegedy et al. 2016) written out here (no torchvision),
with the module names of torchvision's `Inception3` so that the state dict loads as is, and
the differences of the TF graph that pytorch-fid reproduces:
  - average pools in the A, C and first E blocks exclude the zero padding
    (count_include_pad=False);
  - the last E block (Mixed_7c) pools its branch with a 3x3 max pool instead of an average;
  - 1008 output classes (fc), no auxiliary classifier.
Input handling follows pytorch-fid: uint8 -> [0, 1] -> bilinear resize to 299x299
(align_corners=False) -> [-1, 1]; grayscale images are repeated to 3 channels.

Weights are read with `torch.load(path, weights_only=True)` (the restricted unpickler, which
refuses arbitrary objects) or from a safetensors file; nothing else is ever unpickled.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.metrics.features import FeatureExtractorError
from genzoo.runs.checkpoint import state_mismatch
from genzoo.progress import progress_iter

WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
NUM_CLASSES = 1008
FEATURE_DIM = 2048
INPUT_SIZE = 299


class BasicConv2d(nn.Module):
    """conv (no bias) -> BatchNorm (eps 1e-3) -> ReLU."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs: Any) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


def _tf_average_pool(x: torch.Tensor) -> torch.Tensor:
    """TF's 3x3 average pool: padded zeros are not counted."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    def __init__(self, in_channels: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch5x5 = self.branch5x5_2(self.branch5x5_1(x))
        branch3x3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), branch5x5, branch3x3dbl, self.branch_pool(_tf_average_pool(x))], 1)


class InceptionB(nn.Module):
    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch3x3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), branch3x3dbl, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionC(nn.Module):
    def __init__(self, in_channels: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch7x7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        branch7x7dbl = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            branch7x7dbl = layer(branch7x7dbl)
        return torch.cat([self.branch1x1(x), branch7x7, branch7x7dbl, self.branch_pool(_tf_average_pool(x))], 1)


class InceptionD(nn.Module):
    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch3x3 = self.branch3x3_2(self.branch3x3_1(x))
        branch7x7x3 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([branch3x3, branch7x7x3, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionE(nn.Module):
    """`max_pool=True` for the last block of the FID graph (Mixed_7c), else TF's average pool."""

    def __init__(self, in_channels: int, *, max_pool: bool) -> None:
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(in_channels, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch3x3 = self.branch3x3_1(x)
        branch3x3 = torch.cat([self.branch3x3_2a(branch3x3), self.branch3x3_2b(branch3x3)], 1)
        branch3x3dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        branch3x3dbl = torch.cat([self.branch3x3dbl_3a(branch3x3dbl), self.branch3x3dbl_3b(branch3x3dbl)], 1)
        pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1) if self.max_pool else _tf_average_pool(x)
        return torch.cat([self.branch1x1(x), branch3x3, branch3x3dbl, self.branch_pool(pooled)], 1)


class FIDInceptionV3(nn.Module):
    """float images (B, 3, H, W) in [0, 1] -> (pool3 features (B, 2048), logits (B, 1008))."""

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, max_pool=False)
        self.Mixed_7c = InceptionE(2048, max_pool=True)
        self.fc = nn.Linear(FEATURE_DIM, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)  # (B, 3, 299, 299)
        x = 2 * x - 1
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))  # (B, 64, 147, 147)
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # (B, 64, 73, 73)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))  # (B, 192, 71, 71)
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # (B, 192, 35, 35)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)  # ends at (B, 2048, 8, 8)
        features = x.mean(dim=(2, 3))  # (B, 2048) pool3
        return features, self.fc(features)


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Tensors of a .pth (torch.load with weights_only=True, the restricted unpickler) or .safetensors file."""
    path = Path(path)
    if not path.is_file():
        raise FeatureExtractorError(
            f"Inception weights {path} not found: pass the pytorch-fid file {WEIGHTS_FILE} with --inception-weights PATH "
            "(genzoo downloads nothing)"
        )
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError, RuntimeError) as error:
            raise FeatureExtractorError(f"{path} is not a readable safetensors file ({error})") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001  (the restricted unpickler raises several types)
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise FeatureExtractorError(f"{path} is not a plain weights file (refused by torch.load(weights_only=True): {first})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise FeatureExtractorError(f"{path} does not hold a state dict of tensors: pass pytorch-fid's {WEIGHTS_FILE}")
    return state


class InceptionExtractor:
    """FID Inception-v3 with the feature-extractor interface of `genzoo.metrics.features.FeatureExtractor`."""

    def __init__(self, net: FIDInceptionV3, *, weights_sha256: str, source: str) -> None:
        self.net = net.eval()
        self.weights_sha256 = weights_sha256
        self.source = source
        self.feature_dim = FEATURE_DIM
        self.num_classes = NUM_CLASSES
        self.metadata: dict[str, Any] = {"trained_on": "ImageNet"}  # no images of the evaluated dataset held out: it saw none

    @property
    def identifier(self) -> str:
        return f"inception-v3-fid-{self.weights_sha256[:12]}"

    def describe(self) -> dict[str, Any]:
        return {
            "name": "inception-v3-fid",
            "id": self.identifier,
            "weights": self.source,
            "feature_dim": FEATURE_DIM,
            "num_classes": NUM_CLASSES,
            "test_accuracy": None,
            "note": "pool3 of the TF Inception-v3 (2015-12-05) as in pytorch-fid: bilinear resize to 299x299; "
            "comparable with pytorch-fid only for the same N and image preprocessing",
        }

    def check_images(self, images: torch.Tensor) -> None:
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] not in (1, 3):
            raise FeatureExtractorError(f"the Inception extractor takes uint8 images (N, 1 or 3, H, W), got {images.dtype} {tuple(images.shape)}")

    @torch.no_grad()
    def extract(self, images: torch.Tensor, *, batch_size: int = 50, progress: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 (N, C, H, W) -> (pool3 features (N, 2048), softmax over the 1008 logits (N, 1008)), float32 on the CPU."""
        self.check_images(images)
        device = next(self.net.parameters()).device
        features, probs = [], []
        starts = progress_iter(range(0, len(images), batch_size), total=-(-len(images) // batch_size), desc="inception features", enabled=progress)
        for start in starts:
            batch = images[start : start + batch_size].to(device).float() / 255.0  # (B, C, H, W) in [0, 1]
            if batch.shape[1] == 1:
                batch = batch.expand(-1, 3, -1, -1)
            feature, logits = self.net(batch)
            features.append(feature.float().cpu())
            probs.append(torch.softmax(logits.float(), dim=1).cpu())
        if not features:
            return torch.zeros(0, FEATURE_DIM), torch.zeros(0, NUM_CLASSES)
        return torch.cat(features), torch.cat(probs)

    def features(self, images: torch.Tensor, *, batch_size: int = 50) -> torch.Tensor:
        return self.extract(images, batch_size=batch_size)[0]

    def class_probs(self, images: torch.Tensor, *, batch_size: int = 50) -> torch.Tensor:
        return self.extract(images, batch_size=batch_size)[1]


def state_dict_hash(state: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(state.items()):
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype};".encode())
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
    return digest.hexdigest()


def load_inception_extractor(path: str | os.PathLike[str] | None, *, device: str | torch.device = "cpu") -> InceptionExtractor:
    """The FID Inception-v3 with the user's weights file (pytorch-fid's .pth, or the same tensors as safetensors)."""
    if path is None:
        raise FeatureExtractorError(
            f"FID with Inception-v3 needs pytorch-fid's weights file {WEIGHTS_FILE}: pass --inception-weights PATH "
            "(genzoo downloads nothing; without it genzoo's own dataset classifier is used)"
        )
    state = read_state_dict(path)
    net = FIDInceptionV3()
    expected = net.state_dict()
    for name in expected:  # files written before BatchNorm counted its batches lack these (unused in eval)
        if name.endswith("num_batches_tracked") and name not in state:
            state[name] = torch.zeros((), dtype=torch.long)
    problem = state_mismatch(expected, state)
    if problem is not None:
        raise FeatureExtractorError(f"{path} is not the FID Inception-v3 weights ({problem}): pass pytorch-fid's {WEIGHTS_FILE}")
    net.load_state_dict(state, strict=True)
    return InceptionExtractor(net.to(device), weights_sha256=state_dict_hash(state), source=str(path))
