"""genzoo: the classic deep generative models of images, trained, measured and explored.

Public entry points:
    genzoo.build_model(name, image_shape, **options)   a registered model
    genzoo.list_models()
    genzoo.data.load_dataset(name, split)              uint8 images held in memory
"""

from genzoo.models import build_model, list_models  # noqa: F401  (registers built-in models)

__version__ = "0.1.0"
__all__ = ["__version__", "build_model", "list_models"]
