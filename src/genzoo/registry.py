"""Name -> class registries filled by a decorator: one for models, one for datasets.

    MODEL_REGISTRY = Registry("model")
    @MODEL_REGISTRY.register("pixelcnn")
    class PixelCNN(...): ...
    MODEL_REGISTRY.lookup("pixelcnn")   # the class; a one-line ConfigError naming the choices otherwise

A registry is a dict (name -> class), so it can be listed, tested for a name and iterated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from genzoo.errors import unknown_choice

ClassT = TypeVar("ClassT", bound=type)


class Registry(dict[str, Any]):
    """Classes by name; `register(name)` is the class decorator, which also sets `cls.name`."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def register(self, name: str) -> Callable[[ClassT], ClassT]:
        def decorate(cls: ClassT) -> ClassT:
            if name in self and self[name] is not cls:
                raise ValueError(f"{self.kind} name {name!r} registered twice")
            cls.name = name
            self[name] = cls
            return cls

        return decorate

    def lookup(self, name: str) -> Any:
        """The class registered as `name`, or a ConfigError listing every registered name."""
        if name not in self:
            raise unknown_choice(self.kind, name, self)
        return self[name]

    def names(self) -> list[str]:
        return sorted(self)
