"""Frozen dataclass configs: building them from dicts, YAML and `key=value` overrides.

Each model has a frozen `@dataclass` config (nanoGPT's `GPTConfig` pattern). This module
turns user input into those dataclasses with one-line errors for unknown fields and bad
values, so no model needs its own parsing. `Literal[...]` fields are checked against their
choices, numeric fields are coerced from strings, tuples from lists.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

import yaml

from genzoo.errors import ConfigError

T = TypeVar("T")


def parse_value(text: str) -> Any:
    """Parse the right-hand side of `key=value` as YAML (numbers, lists, bools, null)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):  # YAML 1.1 reads "3e-4" (no dot) as a string
        try:
            return float(value)
        except ValueError:
            return value
    return value


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """`["train.lr=1e-3", "model.hidden=64"]` -> nested dict {"train": {"lr": 0.001}, ...}."""
    nested: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"bad override {pair!r}: write it as key=value, e.g. train.lr=1e-3")
        *parents, leaf = key.strip().split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"bad override {pair!r}: {part!r} is set both as a value and a section")
        node[leaf] = parse_value(raw)
    return nested


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Recursively merge `update` into a copy of `base` (update wins)."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_yaml(path: str) -> dict[str, Any]:
    """Read a YAML config file into a dict, with one-line errors."""
    try:
        with open(path, encoding="utf-8") as handle:
            content = yaml.safe_load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path!r} not found: check the path") from None
    except yaml.YAMLError as error:
        first = str(error).splitlines()[0] if str(error) else "syntax error"
        raise ConfigError(f"config file {path!r} is not valid YAML ({first}): fix the syntax") from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise ConfigError(f"config file {path!r} must hold a mapping of sections, not {type(content).__name__}")
    return content


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    """Coerce `value` to the field type `annotation`, raising ConfigError when impossible."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any:
        return value
    if origin is typing.Literal:
        if isinstance(value, bool) and ("yes" if value else "no") in args:
            value = "yes" if value else "no"  # YAML 1.1 reads an unquoted yes / no as a bool
        if value not in args:
            choices = ", ".join(map(str, args))
            raise ConfigError(f"bad value {value!r} for {where}: choose one of {choices}")
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in args:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, where)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0] if errors else f"bad value {value!r} for {where}")
    if origin in (tuple, list):
        if isinstance(value, str):
            value = parse_value(value)
        if not isinstance(value, (list, tuple)):
            value = [value]
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"bad value {value!r} for {where}: expected {len(args)} items")
            items = [_coerce(v, a, where) for v, a in zip(value, args)]
        else:
            item_type = args[0] if args else Any
            items = [_coerce(v, item_type, where) for v in value]
        return tuple(items) if origin is tuple else list(items)
    if origin is dict or annotation is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"bad value {value!r} for {where}: expected a mapping")
        return dict(value)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ConfigError(f"bad value {value!r} for {where}: expected true or false")
    if annotation is int:
        if isinstance(value, bool):
            raise ConfigError(f"bad value {value!r} for {where}: expected an integer")
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                number = None
            if number is not None and number.is_integer():
                return int(number)
        raise ConfigError(f"bad value {value!r} for {where}: expected an integer")
    if annotation is float:
        if isinstance(value, bool):
            raise ConfigError(f"bad value {value!r} for {where}: expected a number")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"bad value {value!r} for {where}: expected a number") from None
    if annotation is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"bad value {value!r} for {where}: expected a string")
        return str(value)
    return value


def coerce_fields(cls: type, values: Mapping[str, Any] | None, *, section: str = "") -> dict[str, Any]:
    """`values` coerced to the types of dataclass `cls`'s fields, without building it.

    A ConfigError names the first unknown field or bad value. Checks a layer of settings
    (a preset, the overrides) on its own, so a bad value is refused even when a later layer
    replaces it.
    """
    values = dict(values or {})
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        label = f"option {unknown[0]!r} for {section}" if section else f"option {unknown[0]!r}"
        raise ConfigError(f"unknown {label}: choose one of {', '.join(sorted(fields))}")
    coerced = {}
    for name, value in values.items():
        where = f"{section}.{name}" if section else name
        coerced[name] = _coerce(value, hints[name], where)
    return coerced


def build_dataclass(cls: type[T], values: Mapping[str, Any] | None, *, section: str = "") -> T:
    """Instantiate dataclass `cls` from `values`, rejecting unknown keys and bad types.

    Errors are one line and list the valid field names, e.g.
    `unknown option 'hiden' for model: choose one of channels, hidden, latent_dim`.
    """
    kwargs = coerce_fields(cls, values, section=section)
    try:
        instance = cls(**kwargs)
    except (TypeError, ValueError) as error:
        if isinstance(error, ConfigError):
            raise
        raise ConfigError(f"bad {section or cls.__name__} config: {error}") from None
    return instance


def to_dict(instance: Any) -> dict[str, Any]:
    """Dataclass -> plain dict of JSON/YAML-friendly values (tuples become lists)."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(instance)
