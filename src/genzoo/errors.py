"""User-facing errors.

Every problem a user can cause (unknown model, missing data file, bad option value,
corrupt checkpoint) raises a `GenzooError` subclass whose message is one line naming the
problem and the fix. The CLI prints that line and exits with status 2 instead of showing
a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable


class GenzooError(Exception):
    """A problem with the user's input, reported as one line by the CLI."""


class ConfigError(GenzooError, ValueError):
    """A bad configuration value, option name or override."""


class DataError(GenzooError):
    """A dataset that is missing, truncated, corrupt or inconsistent."""


class CheckpointError(GenzooError):
    """A checkpoint that is missing, corrupt, unsafe or incompatible."""


class TrainingDiverged(GenzooError):
    """The loss became NaN/inf or exploded; the last good checkpoint is kept."""


def unknown_choice(kind: str, value: object, choices: Iterable[str]) -> ConfigError:
    """`unknown model 'foo': choose one of ae, pixelcnn` as a ConfigError."""
    listed = ", ".join(sorted(choices)) or "(none registered)"
    return ConfigError(f"unknown {kind} {value!r}: choose one of {listed}")
