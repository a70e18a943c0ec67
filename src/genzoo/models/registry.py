"""The one model registry: feeds `build_model`, the CLI, checkpoint loading and the tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from genzoo.config import build_dataclass
from genzoo.data.format import DataFormat
from genzoo.errors import ConfigError
from genzoo.models.base import GenerativeModel
from genzoo.registry import Registry

MODEL_REGISTRY = Registry("model")
register_model = MODEL_REGISTRY.register  # class decorator: `@register_model("pixelcnn")` makes the model buildable by name


def model_class(name: str) -> type[GenerativeModel]:
    return MODEL_REGISTRY.lookup(name)


def list_models() -> list[str]:
    return MODEL_REGISTRY.names()


def build_model_from_format(name: str, data_format: DataFormat, options: Mapping[str, Any] | None = None) -> GenerativeModel:
    """Build model `name` for batches described by `data_format`, options checked against its config."""
    cls = model_class(name)
    config = build_dataclass(cls.config_class, options, section=f"model {name}")
    try:
        return cls(config, data_format)
    except ConfigError:
        raise
    except ValueError as error:  # a config that does not fit this data (e.g. image size)
        raise ConfigError(f"cannot build model {name!r} for images {data_format.image_shape}: {error}") from None


def build_model(
    name: str,
    image_shape: tuple[int, int, int],
    *,
    levels: int | None = 256,
    value_range: tuple[float, float] = (0.0, 1.0),
    num_classes: int | None = None,
    **options: Any,
) -> GenerativeModel:
    """`genzoo.build_model("ae", (1, 28, 28), latent_dim=16)`: a model ready to train."""
    data_format = DataFormat(image_shape=image_shape, levels=levels, value_range=value_range, num_classes=num_classes)
    return build_model_from_format(name, data_format, options)
