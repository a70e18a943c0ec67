"""What every section of an evaluation shares: measured (its figures) or not (available=False and the reason)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class MeasuredSection:
    """Mixin of a frozen dataclass with `available` and `reason` fields: the JSON of either kind, and reading it back.

    Subclasses write and read the figures of a measured section: `_measured_dict()` and `_from_measured(values)`.
    """

    available: bool
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        return self._measured_dict() if self.available else {"available": False, "reason": self.reason}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None):
        """The section of an evaluation.json (None when it has none)."""
        if not values:
            return None
        if not values.get("available"):
            return cls(False, reason=values.get("reason"))
        return cls._from_measured(values)

    def _measured_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def _from_measured(cls, values: Mapping[str, Any]):
        raise NotImplementedError
