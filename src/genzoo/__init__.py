"""genzoo: the classic deep generative models of images, trained, measured and explored.

Public entry points:
    genzoo.build_model(name, image_shape, **options)   a registered model
    genzoo.list_models()
    genzoo.data.load_dataset(name, split)              uint8 images held in memory

Importing `genzoo` is cheap: torch and the models load on first use of these names, so
`genzoo --help` answers without importing torch.
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "build_model", "list_models"]


def __getattr__(name: str) -> Any:
    if name in ("build_model", "list_models"):
        from genzoo import models  # registers the built-in models

        return getattr(models, name)
    raise AttributeError(f"module 'genzoo' has no attribute {name!r}")
