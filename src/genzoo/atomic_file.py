"""One way to write a file so that a reader never sees half of it: write a temporary beside it, then rename.

    atomic_write(path, b"...")            bytes or text (UTF-8)
    with atomic_output(path) as temporary: image.save(temporary, format="PNG")

The temporary (`temporary_path`: `.NAME.tmp-PID`) lives in the destination's folder (a rename
is atomic only within one file system) and is removed if writing fails, so an interrupted
write leaves the old file intact. A process killed outright leaves its temporary behind; it is
never read, and a later writer of the same name may sweep it away.

fsync=True also flushes the new file to the disk before the rename and the folder after it, so
the new content survives a power cut, not only a crash (checkpoints, the metrics log).
An OSError that names no file (a failed write() does not) is given the destination's name.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def temporary_path(path: str | os.PathLike[str]) -> Path:
    """Where `path` is written before the rename: `.NAME.tmp-PID` in the same folder."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def fsync_file(path: str | os.PathLike[str]) -> None:
    """Flush a written file's content to the disk."""
    descriptor = os.open(path, os.O_RDWR)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def fsync_directory(directory: str | os.PathLike[str]) -> None:
    """Flush a folder's entries (a rename) to the disk; quietly nothing where folders cannot be opened (Windows)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


@contextmanager
def atomic_output(path: str | os.PathLike[str], *, fsync: bool = False) -> Iterator[Path]:
    """A temporary path to write to; it replaces `path` when the block ends without error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_path(path)
    try:
        yield temporary
        if fsync:
            fsync_file(temporary)
        os.replace(temporary, path)
    except BaseException as error:  # also Ctrl-C: never leave the temporary behind
        try:
            temporary.unlink(missing_ok=True)
        except OSError:
            pass  # e.g. the folder turned read-only; the error being raised says more
        if isinstance(error, OSError) and error.filename is None:
            error.filename = str(path)
        raise
    if fsync:
        fsync_directory(path.parent)


def atomic_write(path: str | os.PathLike[str], data: bytes | str, *, fsync: bool = False) -> Path:
    """Write `data` (text as UTF-8) to `path` atomically; returns the path."""
    with atomic_output(path, fsync=fsync) as temporary:
        temporary.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(path)
