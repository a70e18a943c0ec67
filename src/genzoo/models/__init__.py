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
