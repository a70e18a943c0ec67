"""The run directory: one training process at a time, and never someone else's files.

A process that trains in RUN_DIR holds an exclusive lock on RUN_DIR/.genzoo.lock (an
advisory `flock`, so the kernel releases it when the process dies, however it dies); the
file records who holds it, so a second `genzoo train` on the same directory, fresh or
--resume, is refused with one line naming the holder. A lock file left by a dead process
holds no lock and is simply taken over. Under torchrun only rank 0 locks. On a filesystem
without locks (some network mounts) the run goes on unprotected, with a warning.

A fresh run goes into a directory that does not exist, is empty, or is an earlier genzoo
run that never saved a checkpoint (its files are replaced); anything else is refused rather
than overwriting the user's files.

A write the disk refuses (full, read-only, no permission) becomes one RunDirectoryError line
saying whether the last checkpoint is intact and how to go on (`storage_error`).
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

from genzoo.errors import ConfigError, GenzooError
from genzoo.runs import RunDir
from genzoo.runs.layout import LOCK as LOCK_NAME
from genzoo.train.logging import log

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class RunDirectoryBusy(ConfigError):
    """Another live process trains in the run directory."""


def check_output_directory(run_dir: Path) -> None:
    """ConfigError when RUN_DIR (or a parent) exists but is not a directory."""
    for path in (run_dir, *run_dir.parents):
        if path.exists():
            if not path.is_dir():
                what = "it" if path == run_dir else f"{path}"
                raise ConfigError(f"--out {run_dir}: {what} is a file, not a directory: choose a directory for the run")
            return


def _holder(path: Path) -> str:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "another process"
    if not isinstance(record, dict):
        return "another process"
    return f"process {record.get('pid', '?')} on {record.get('host', '?')} since {record.get('started', '?')}"


class RunDirectoryLock:
    """Exclusive, non-blocking lock of a run directory for the life of a training process."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = RunDir(self.run_dir).lock
        self._descriptor: int | None = None

    def acquire(self, started: str) -> None:
        """Take the lock or raise RunDirectoryBusy naming its holder."""
        if fcntl is None:  # pragma: no cover - no advisory locks: run unprotected
            return
        while True:
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(descriptor)
                raise RunDirectoryBusy(
                    f"{self.run_dir} is in use by another genzoo training ({_holder(self.path)}): "
                    "wait for it to end (or stop it), or train into another directory"
                ) from None
            except OSError as error:  # a filesystem without locks (some network mounts): train unprotected
                os.close(descriptor)
                self.path.unlink(missing_ok=True)
                log.warning("cannot lock %s (%s): nothing stops a second process from training in it", self.run_dir, error.strerror)
                return
            try:  # the holder we waited on may have removed the file: lock the one on disk
                same = os.path.samestat(os.fstat(descriptor), os.stat(self.path))
            except OSError:
                same = False
            if same:
                break
            os.close(descriptor)
        self._descriptor = descriptor
        record = {"pid": os.getpid(), "host": socket.gethostname(), "started": started, "command": list(sys.argv)}
        os.ftruncate(descriptor, 0)
        os.write(descriptor, (json.dumps(record) + "\n").encode())

    def release(self) -> None:
        """Remove the lock file (while still holding it, so no one else can be inside) and unlock."""
        if self._descriptor is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        except OSError:
            pass  # a read-only or vanished directory: the kernel lock is released below regardless
        os.close(self._descriptor)  # closing drops the flock
        self._descriptor = None

    def __enter__(self) -> "RunDirectoryLock":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def is_genzoo_run(run_dir: Path) -> bool:
    """True when RUN_DIR/run.json was written by a genzoo run (its "genzoo" key names the version)."""
    try:
        record = json.loads(RunDir(run_dir).run_record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and "genzoo" in record and "model" in record


def check_fresh_run_directory(run_dir: Path, last_checkpoint: Path) -> None:
    """ConfigError unless a fresh run may write into RUN_DIR (see the module docstring)."""
    if not run_dir.is_dir():
        return
    if last_checkpoint.exists():
        raise ConfigError(
            f"{run_dir} already holds a run ({last_checkpoint.relative_to(run_dir)}): "
            f"resume it with `genzoo train --resume --out {run_dir}`, or train into another directory"
        )
    entries = sorted(entry.name for entry in run_dir.iterdir() if entry.name != LOCK_NAME)
    if not entries or is_genzoo_run(run_dir):
        return
    shown = ", ".join(entries[:5]) + (f" and {len(entries) - 5} more" if len(entries) > 5 else "")
    raise ConfigError(
        f"{run_dir} is not empty and holds no genzoo run (it holds: {shown}): "
        "train into a new or empty directory with --out, so that no file of yours is replaced"
    )


# The disk refused a write: full, read-only, or not ours to write.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG})


class RunDirectoryError(GenzooError):
    """The run directory cannot be written (disk full, read-only, no permission)."""


def storage_error(error: OSError, run_dir: Path) -> RunDirectoryError:
    """One line for an OSError of the disk, saying what is intact and how to go on."""
    where = error.filename or run_dir
    last = RunDir(run_dir).checkpoint("last")
    if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        if last.is_file():
            fix = (f"the last checkpoint {last} is intact: free some space, then continue with "
                   f"`genzoo train --resume --out {run_dir}`")
        else:
            fix = "no checkpoint was saved: free some space and train again"
    else:
        fix = f"{run_dir} is not writable: train into a writable directory with --out (copy the run there to resume it)"
    return RunDirectoryError(f"cannot write {where}: {error.strerror or error}; {fix}")
