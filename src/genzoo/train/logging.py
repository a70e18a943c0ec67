"""Metrics of a run: RUN_DIR/metrics.jsonl, and TensorBoard event files when it is installed.

metrics.jsonl holds one JSON object per line:
    {"step": 500, "epoch": 1.92, "split": "train", "loss": ..., <loss parts>, "lr": ..., "images_per_s": ..., "time": ...}
    {"step": 500, "epoch": 1.92, "split": "test", <every key of model.evaluate>, "time": ...}
`time` is training wall-clock seconds since the start of the run (summed over resumes).
Only rank 0 writes. Non-finite values are written as null (JSON has no NaN).
A record the disk refuses is cut off again, so no torn line is left; TensorBoard is optional
and a failure of its writer thread (a full disk) turns it off with one warning.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from pathlib import Path
from typing import Any

from genzoo.atomic_file import atomic_write
from genzoo.runs import RunDir, read_metrics  # read_metrics: re-exported, tests and benchmarks import it here

log = logging.getLogger("genzoo.train")


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class MetricsLogger:
    """Appends records to metrics.jsonl (and TensorBoard); a no-op on ranks other than 0."""

    def __init__(self, run_dir: str | os.PathLike[str], *, enabled: bool = True, tensorboard: bool = True) -> None:
        self.path = RunDir(run_dir).metrics_log
        self.enabled = enabled
        self._writer = None
        if enabled and tensorboard:
            self._writer = _tensorboard_writer(RunDir(run_dir).tensorboard)

    def truncate_after(self, step: int) -> None:
        """Drop records with step > `step`, so a resumed run's file matches an uninterrupted one."""
        if not self.enabled or not self.path.exists():
            return
        kept = [record for record in read_metrics(self.path) if int(record.get("step", 0)) <= step]
        atomic_write(self.path, "".join(json.dumps(record) + "\n" for record in kept), fsync=True)

    def log(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        clean = {key: _finite_or_none(value) for key, value in record.items()}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(clean) + "\n").encode("utf-8")
        with open(self.path, "ab", buffering=0) as handle:
            size = handle.seek(0, os.SEEK_END)
            try:
                written = 0
                while written < len(line):  # a write the disk cuts short is followed by one that raises
                    written += handle.write(line[written:])
            except OSError as error:
                _truncate_quietly(handle, size)
                if error.filename is None:
                    error.filename = str(self.path)
                raise
        if self._writer is not None:
            split = clean.get("split", "train")
            try:
                for key, value in clean.items():
                    if key in ("step", "split") or not isinstance(value, (int, float)) or isinstance(value, bool):
                        continue
                    self._writer.add_scalar(f"{split}/{key}", value, global_step=int(clean["step"]))
            except Exception as error:  # noqa: BLE001  (TensorBoard is optional; never fail a run for it)
                self._disable_tensorboard(error)

    def _disable_tensorboard(self, error: BaseException) -> None:
        log.warning("TensorBoard logging stopped (%s); metrics.jsonl goes on", error)
        writer, self._writer = self._writer, None
        try:
            writer.close()
        except Exception:  # noqa: BLE001
            pass

    def close(self) -> None:
        if self._writer is not None:
            try:
                self._writer.flush()
                self._writer.close()
            except Exception as error:  # noqa: BLE001
                self._disable_tensorboard(error)
            self._writer = None


def _truncate_quietly(handle: Any, size: int) -> None:
    try:
        handle.truncate(size)
    except OSError:
        pass  # read_metrics skips a torn last line


def _quiet_tensorboard_threads() -> None:
    """Wrap threading.excepthook so that a TensorBoard writer thread failing on the disk prints no traceback.

    The failure reaches the logger too (its next write or close raises it), which turns
    TensorBoard off with one warning. Other threads go to the previous hook.
    """
    previous = threading.excepthook
    if getattr(previous, "genzoo_tensorboard", False):
        return

    def hook(args: Any) -> None:
        if type(args.thread).__module__.startswith("tensorboard.") and isinstance(args.exc_value, OSError):
            log.debug("TensorBoard writer thread stopped: %s", args.exc_value)
            return
        previous(args)

    hook.genzoo_tensorboard = True  # type: ignore[attr-defined]
    threading.excepthook = hook


def _tensorboard_writer(directory: Path) -> Any:
    try:
        import tensorboard  # noqa: F401  (SummaryWriter needs the package itself)
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    _quiet_tensorboard_threads()
    try:
        return SummaryWriter(log_dir=str(directory))
    except Exception as error:  # noqa: BLE001  (TensorBoard is optional; never fail a run for it)
        log.warning("TensorBoard disabled: %s", error)
        return None
