"""Model families; importing this package registers every built-in model."""

from genzoo.models.base import Capabilities, GenerativeModel, TrainingPhase
from genzoo.models.registry import (
    MODEL_REGISTRY,
    build_model,
    build_model_from_format,
    list_models,
    model_class,
    register_model,
)
from genzoo.models import autoencoder  # noqa: F401  (registers "ae")
from genzoo.models import vae  # noqa: F401  (registers "vae")
from genzoo.models import pixelcnn  # noqa: F401  (registers "pixelcnn")
from genzoo.models import gated_pixelcnn  # noqa: F401  (registers "gated-pixelcnn")
from genzoo.models import pixelrnn  # noqa: F401  (registers "pixelrnn-row", "pixelrnn-diag")
from genzoo.models import gan  # noqa: F401  (registers "gan")
from genzoo.models import dcgan  # noqa: F401  (registers "dcgan")
from genzoo.models import translation  # noqa: F401  (registers "regress", "pix2pix", "conditional-pixelcnn")

__all__ = [
    "Capabilities",
    "GenerativeModel",
    "MODEL_REGISTRY",
    "TrainingPhase",
    "build_model",
    "build_model_from_format",
    "list_models",
    "model_class",
    "register_model",
]
