"""Images to explore with: test-split images of a run's dataset, or the user's own files.

Both come back as the model sees them: preprocessed floats (B, C, H, W) in the run's data
format, with labels where the dataset has them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import UnidentifiedImageError

from genzoo.errors import ConfigError, DataError


def test_images(info, indices: Sequence[int], *, data_dir: str | None = None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Test-split images `indices` of the run's dataset, preprocessed: ((B, C, H, W), labels (B,) or None)."""
    from genzoo.runs.test_split import load_test_split

    name = info.run_config.data.name
    dataset = load_test_split(info.run_config.data, data_dir=data_dir, download=False)  # its classes only, as in training
    bad = [i for i in indices if not 0 <= i < len(dataset)]
    if bad:
        raise ConfigError(f"test image index {bad[0]} out of range: {name} has {len(dataset)} test images (0..{len(dataset) - 1})")
    index = torch.as_tensor(list(indices), dtype=torch.long)
    images = dataset.images[index]  # uint8 (B, C, H, W)
    labels = dataset.labels[index] if dataset.labels is not None else None
    x = info.make_preprocessor()(images, generator=torch.Generator().manual_seed(seed))
    return x, labels


def image_files(info, paths: Sequence[str | Path], *, seed: int = 0) -> torch.Tensor:
    """The user's image files resized/center-cropped to the run's image shape, preprocessed: (B, C, H, W)."""
    from genzoo.data.folder import read_image

    channels, height, width = info.data_format.image_shape
    if height != width:
        raise ConfigError(f"image files can only be fitted to square models; this run uses {height}x{width}: use --from-test")
    arrays = []
    for path in paths:
        if not Path(path).is_file():
            raise ConfigError(f"image file {str(path)!r} not found: check the path")
        try:
            arrays.append(torch.from_numpy(read_image(path, height, channels)))
        except (UnidentifiedImageError, OSError) as error:
            raise DataError(f"cannot read image {str(path)!r} ({error.__class__.__name__}): give a PNG or JPEG file") from None
    images = torch.stack(arrays)  # uint8 (B, C, H, W)
    return info.make_preprocessor()(images, generator=torch.Generator().manual_seed(seed))
