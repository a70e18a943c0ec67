"""Where dataset files are looked for, in order.

1. `$GENZOO_DATA` (one or more directories separated by `os.pathsep`),
2. the user cache, `$XDG_CACHE_HOME/genzoo` or `~/.cache/genzoo` (downloads land here),
3. known system places (`SYSTEM_PLACES`, e.g. Debian's `dataset-fashion-mnist` package).

An explicit `data_dir` (`--data-dir`) replaces that list: it must be an existing directory,
the files are looked for there alone and downloads land there, so a wrong path is an
error instead of silently another copy of the data.

In each root both `<root>/<dataset-name>/<files>` and `<root>/<files>` are accepted.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from genzoo.errors import DataError

SYSTEM_PLACES: dict[str, tuple[str, ...]] = {
    "fashion-mnist": ("/usr/share/datasets/fashion-mnist",),
    "mnist": ("/usr/share/datasets/mnist",),
}


@dataclass(frozen=True)
class DatasetLocation:
    """Where a dataset was found (`path`), or why not: every directory `searched`, and a `detail` line."""

    found: bool
    path: str | None
    searched: tuple[str, ...]
    detail: str


def cache_dir() -> Path:
    """The user cache root: `$XDG_CACHE_HOME/genzoo`, else `~/.cache/genzoo`."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "genzoo"


def download_dir(name: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where downloaded files of dataset `name` are stored: the explicit `data_dir`, else the cache."""
    explicit = explicit_data_dir(data_dir)
    return explicit if explicit is not None else cache_dir() / name


def explicit_data_dir(data_dir: str | os.PathLike[str] | None) -> Path | None:
    """`data_dir` as a Path (None when not given); DataError when it is missing or not a directory."""
    if not data_dir:
        return None
    path = Path(data_dir).expanduser()
    if not path.exists():
        raise DataError(f"--data-dir {path} does not exist: check the path, or drop --data-dir to search $GENZOO_DATA, the cache and system places")
    if not path.is_dir():
        raise DataError(f"--data-dir {path} is a file, not a directory: pass the directory holding the dataset files")
    return path


def search_roots(name: str, data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """The roots searched for dataset `name`, in order, without duplicates (only `data_dir` when given)."""
    explicit = explicit_data_dir(data_dir)
    if explicit is not None:
        return [explicit]
    roots: list[str] = []
    roots += [part for part in os.environ.get("GENZOO_DATA", "").split(os.pathsep) if part]
    roots.append(os.fspath(cache_dir()))
    roots += SYSTEM_PLACES.get(name, ())
    unique: list[Path] = []
    for root in roots:
        path = Path(root).expanduser()
        if path not in unique:
            unique.append(path)
    return unique


def candidate_dirs(name: str, data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """`<root>/<name>` then `<root>` for every search root, in order."""
    candidates: list[Path] = []
    for root in search_roots(name, data_dir):
        for directory in (root / name, root):
            if directory not in candidates:
                candidates.append(directory)
    return candidates


def find_files(
    name: str, required: Sequence[Sequence[str]], data_dir: str | os.PathLike[str] | None = None
) -> tuple[list[Path] | None, tuple[str, ...]]:
    """The first candidate directory holding every required file.

    `required` lists, per file, its accepted names (e.g. `("train-images-idx3-ubyte.gz",
    "train-images-idx3-ubyte")`). Returns (one path per required file, or None when no
    directory has them all; the directories searched).
    """
    searched = candidate_dirs(name, data_dir)
    for directory in searched:
        paths = [next((directory / n for n in names if (directory / n).is_file()), None) for names in required]
        if all(path is not None for path in paths):
            return paths, tuple(map(str, searched))  # type: ignore[return-value]
    return None, tuple(map(str, searched))
