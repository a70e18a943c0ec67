"""Checkpoints: one safetensors file holding everything needed to sample or resume, no pickle.

Layout of a file (checkpoints/last.safetensors, checkpoints/best.safetensors):

    tensors
      model.<name>                          weights and buffers (model.state_dict())
      ema.<name>                            EMA shadows of the parameters, when EMA is on
      optimizer.<phase>.<index>.<key>       tensor state of each phase's optimizer (exp_avg, step, ...)
      rng.torch, rng.cuda, rng.data         torch RNG states (uint8): CPU, the training GPU, the data generator
      trainer.<name>                        running sums of the metrics being averaged for the next log line
    header metadata {"genzoo": JSON}
      format, format_version, kind, model, run_config, data_format, preprocess, dataset,
      metrics, versions, created, num_parameters, has_ema, tensors (every tensor key),
      trainer (step, epoch, batch_in_epoch, best metric, ...), optimizers (param_groups and
      non-tensor state), schedulers (LambdaLR state), rng (NumPy and python `random` states)

Files are written atomically (genzoo.atomic_file with fsync: temporary file in the same
directory, fsync, os.replace, fsync of the directory), so a crash while saving leaves the
previous checkpoint intact.
Reading goes through `safetensors` only; anything else (a pickled .pt file, a truncated
file, a plain safetensors file without genzoo metadata, another format version) raises a
one-line CheckpointError and is never unpickled.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_bytes

from genzoo.atomic_file import atomic_output
from genzoo.data.format import DataFormat
from genzoo.errors import CheckpointError, ConfigError, unknown_choice
from genzoo.file_kinds import unsafe_file_kind
from genzoo.runs import RunDir
from genzoo.runs.layout import CHECKPOINT_SUFFIX, CHECKPOINTS
from genzoo.runs.config import RunConfig, run_config_from_dict

if TYPE_CHECKING:
    from genzoo.data import Preprocessor

FORMAT_NAME = "genzoo-checkpoint"
FORMAT_VERSION = 1
METADATA_KEY = "genzoo"
REQUIRED_METADATA = ("model", "run_config", "data_format", "preprocess", "trainer", "tensors")


@dataclass
class CheckpointInfo:
    """What a checkpoint holds, read from its header without building the model."""

    path: Path
    step: int
    epoch: int
    run_config: RunConfig
    data_format: DataFormat
    preprocess: tuple[str, ...]
    metrics: dict[str, Any]
    versions: dict[str, Any]
    model: str = ""
    kind: str = "last"  # "last" or "best"
    has_ema: bool = False
    num_parameters: int = 0
    dataset: dict[str, Any] = field(default_factory=dict)  # name, image_shape, levels, num_classes, class_names
    created: str = ""
    format_version: int = FORMAT_VERSION

    def make_preprocessor(self) -> "Preprocessor":
        """The run's Preprocessor, e.g. for `to_uint8` of samples."""
        from genzoo.data import Preprocessor

        return Preprocessor(self.preprocess, source_levels=self.dataset.get("levels") or 256)


@dataclass
class Checkpoint:
    info: CheckpointInfo
    tensors: dict[str, torch.Tensor]
    metadata: dict[str, Any]

    def section(self, prefix: str) -> dict[str, torch.Tensor]:
        """Tensors under `prefix.` with the prefix removed (e.g. section("model") -> a state_dict)."""
        start = prefix + "."
        return {key[len(start) :]: value for key, value in self.tensors.items() if key.startswith(start)}


# ---- versions ---------------------------------------------------------------------------
def library_versions() -> dict[str, str]:
    import safetensors

    import genzoo

    return {
        "genzoo": getattr(genzoo, "__version__", "unknown"),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "safetensors": getattr(safetensors, "__version__", "unknown"),
    }


# ---- writing ----------------------------------------------------------------------------
def _cpu_copy(tensor: torch.Tensor) -> torch.Tensor:
    """A contiguous CPU tensor that shares no storage (safetensors refuses shared storage)."""
    return tensor.detach().to("cpu", copy=True).contiguous()


def _json_default(value: Any) -> Any:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in checkpoint metadata")


def _write_file(path: Path, data: bytes) -> None:
    """Write the bytes (a separate function so tests can simulate a crash mid-write; fsync is atomic_output's)."""
    with open(path, "wb") as handle:
        handle.write(data)


def remove_stale_temporaries(directory: Path) -> None:
    """Delete temporary files left by a process killed while saving (they are never loaded)."""
    if directory.is_dir():
        for leftover in directory.glob(f".*{CHECKPOINT_SUFFIX}.tmp-*"):
            leftover.unlink(missing_ok=True)


def write_checkpoint(path: str | os.PathLike[str], tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, Any]) -> Path:
    """Atomically write `tensors` + genzoo `metadata` (JSON) as one safetensors file."""
    path = Path(path)
    cpu_tensors = {key: _cpu_copy(value) for key, value in tensors.items()}
    header = dict(metadata)
    header.setdefault("format", FORMAT_NAME)
    header.setdefault("format_version", FORMAT_VERSION)
    header["tensors"] = sorted(cpu_tensors)
    data = safetensors_bytes(cpu_tensors, metadata={METADATA_KEY: json.dumps(header, default=_json_default)})
    with atomic_output(path, fsync=True) as temporary:
        _write_file(temporary, data)
    return path


# ---- reading ----------------------------------------------------------------------------
def _not_a_checkpoint(path: Path, why: str) -> CheckpointError:
    return CheckpointError(f"{path} is not a genzoo checkpoint ({why}): pass a checkpoints/*.safetensors file written by `genzoo train`")


def _sniff(path: Path) -> None:
    """Name pickled / zipped PyTorch files before safetensors gives a cryptic header error."""
    kind = unsafe_file_kind(path)
    if kind is not None:
        raise _not_a_checkpoint(path, f"{kind}; genzoo never unpickles files, they can run code")


def _open(path: Path, *, with_tensors: bool) -> tuple[dict[str, Any], dict[str, torch.Tensor], dict[str, list[int]]]:
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} not found: check the path")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} is not a file: pass a .safetensors file or a run directory")
    _sniff(path)
    tensors: dict[str, torch.Tensor] = {}
    shapes: dict[str, list[int]] = {}
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            header = handle.metadata() or {}
            keys = list(handle.keys())
            for key in keys:
                if with_tensors:
                    tensors[key] = handle.get_tensor(key)
                    shapes[key] = list(tensors[key].shape)
                elif key.startswith("model."):
                    shapes[key] = list(handle.get_slice(key).get_shape())
    except SafetensorError as error:
        raise _not_a_checkpoint(path, f"not a valid safetensors file: {error}") from None
    except (OSError, ValueError, RuntimeError) as error:
        raise _not_a_checkpoint(path, f"unreadable: {error}") from None
    if METADATA_KEY not in header:
        raise _not_a_checkpoint(path, "a safetensors file without genzoo metadata")
    try:
        metadata = json.loads(header[METADATA_KEY])
    except json.JSONDecodeError as error:
        raise _not_a_checkpoint(path, f"corrupt metadata: {error}") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise _not_a_checkpoint(path, "its metadata is not in the genzoo checkpoint format")
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {version!r}, this genzoo reads version {FORMAT_VERSION}: "
            "use the genzoo version that wrote it (see `genzoo info`)"
        )
    missing = [name for name in REQUIRED_METADATA if name not in metadata]
    if missing:
        raise CheckpointError(f"{path} is an incomplete genzoo checkpoint (metadata lacks {missing[0]!r}): use another checkpoint")
    problem = metadata_problem(metadata)
    if problem:
        raise CheckpointError(f"{path} has damaged metadata ({problem}): use another checkpoint, e.g. the run's other one")
    absent = sorted(set(metadata["tensors"]) - set(keys))
    if absent:
        raise CheckpointError(f"{path} is an incomplete genzoo checkpoint (tensor {absent[0]!r} missing): use another checkpoint")
    return metadata, tensors, shapes


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# Fields of the metadata's "trainer" record: name -> (check, what it must be).
_TRAINER_FIELDS: dict[str, tuple[Any, str]] = {
    "step": (_is_count, "an integer >= 0"),
    "epoch": (_is_count, "an integer >= 0"),
    "batch_in_epoch": (_is_count, "an integer >= 0"),
    "total_steps": (_is_count, "an integer >= 0"),
    "batches_per_epoch": (_is_count, "an integer >= 0"),
    "world_size": (_is_count, "an integer >= 0"),
    "best_metric": (lambda v: v is None or _is_number(v), "a number or null"),
    "best_step": (lambda v: v is None or _is_count(v), "an integer >= 0 or null"),
    "elapsed_s": (_is_number, "a number"),
    "overhead_s": (_is_number, "a number"),
    "log_started_s": (_is_number, "a number"),
    "log_images": (_is_count, "an integer >= 0"),
    "log_counts": (lambda v: isinstance(v, dict) and all(_is_count(n) for n in v.values()), "a mapping of counts"),
    "divergence_history": (
        lambda v: isinstance(v, dict) and all(isinstance(h, list) and all(_is_number(x) for x in h) for h in v.values()),
        "a mapping of loss lists",
    ),
}


def metadata_problem(metadata: Mapping[str, Any]) -> str | None:
    """What is wrong with the types of a checkpoint's metadata, or None (the fields it has are checked)."""
    for name in ("trainer", "rng", "optimizers", "schedulers", "grad_scalers", "dataset"):
        if name in metadata and not isinstance(metadata[name], dict):
            return f"{name!r} is a {type(metadata[name]).__name__}, not a mapping"
    for name in ("metrics", "versions"):
        if metadata.get(name) is not None and not isinstance(metadata[name], dict):
            return f"{name!r} is a {type(metadata[name]).__name__}, not a mapping"
    if not isinstance(metadata.get("tensors"), list):
        return "'tensors' is not a list"
    preprocess = metadata.get("preprocess")
    if preprocess is not None and not (isinstance(preprocess, list) and all(isinstance(step, str) for step in preprocess)):
        return "'preprocess' is not a list of step names"
    trainer = metadata["trainer"]
    for name, (check, what) in _TRAINER_FIELDS.items():
        if name in trainer and not check(trainer[name]):
            return f"trainer.{name} is {trainer[name]!r}, not {what}"
    rng = metadata.get("rng", {})
    for name, length in (("numpy", 5), ("python", 3)):
        if name in rng and not (isinstance(rng[name], list) and len(rng[name]) == length):
            return f"rng.{name} is not a list of {length} items"
    return None


def _info_from_metadata(path: Path, metadata: dict[str, Any], shapes: dict[str, list[int]]) -> CheckpointInfo:
    try:
        run_config = run_config_from_dict(metadata["run_config"])
        data_format = DataFormat.from_dict(metadata["data_format"])
    except (ConfigError, KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path} holds a run config this genzoo cannot read ({error}): use the genzoo version that wrote it") from None
    trainer = metadata.get("trainer", {})
    num_parameters = metadata.get("num_parameters")
    if num_parameters is None:
        num_parameters = sum(int(np.prod(shape)) for key, shape in shapes.items() if key.startswith("model."))
    return CheckpointInfo(
        path=path,
        step=int(trainer.get("step", 0)),
        epoch=int(trainer.get("epoch", 0)),
        run_config=run_config,
        data_format=data_format,
        preprocess=tuple(metadata.get("preprocess") or ()),
        metrics=dict(metadata.get("metrics") or {}),
        versions=dict(metadata.get("versions") or {}),
        model=str(metadata.get("model", run_config.model)),
        kind=str(metadata.get("kind", "last")),
        has_ema=bool(metadata.get("has_ema", False)),
        num_parameters=int(num_parameters),
        dataset=dict(metadata.get("dataset") or {}),
        created=str(metadata.get("created", "")),
        format_version=int(metadata["format_version"]),
    )


def read_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Every tensor (on the CPU) and the metadata of a checkpoint file."""
    path = Path(path)
    metadata, tensors, shapes = _open(path, with_tensors=True)
    return Checkpoint(info=_info_from_metadata(path, metadata, shapes), tensors=tensors, metadata=metadata)


def read_checkpoint_info(path: str | os.PathLike[str]) -> CheckpointInfo:
    """A checkpoint's description (for `genzoo info`) without loading its tensors.

    `path` may be a checkpoint file or a run directory (its best, else last, checkpoint).
    """
    file = find_checkpoint(path, "best")
    metadata, _, shapes = _open(file, with_tensors=False)
    return _info_from_metadata(file, metadata, shapes)


def run_dir_of(checkpoint: str | os.PathLike[str]) -> Path:
    """The run directory a checkpoint belongs to: RUN_DIR for RUN_DIR/checkpoints/x, else the file's folder."""
    return RunDir.of_checkpoint(checkpoint).root


def find_checkpoint(path: str | os.PathLike[str], which: Literal["last", "best"] = "best") -> Path:
    """The checkpoint file for `path`: itself when a file, else RUN_DIR/checkpoints/<which>.

    `best` falls back to `last` (a run that never evaluated has no best checkpoint).
    """
    if which not in ("last", "best"):
        raise unknown_choice("checkpoint", which, ("last", "best"))
    path = Path(path)
    if path.is_file():
        return path
    if not path.exists():
        raise CheckpointError(f"{path} does not exist: pass a run directory or a .safetensors checkpoint file")
    folder = path / CHECKPOINTS if (path / CHECKPOINTS).is_dir() else path
    for name in (("best", "last") if which == "best" else ("last",)):
        candidate = folder / f"{name}{CHECKPOINT_SUFFIX}"
        if candidate.is_file():
            return candidate
    found = sorted(entry.name for entry in folder.iterdir() if not entry.name.startswith("."))
    holds = ", ".join(found) if found else "nothing"
    fix = "use which='best'" if which == "last" and (folder / f"best{CHECKPOINT_SUFFIX}").is_file() else (
        "train into it first, or pass a .safetensors checkpoint file"
    )
    raise CheckpointError(f"no {which} checkpoint in {folder} (it holds: {holds}): {fix}")


# ---- model, optimizer and RNG state -------------------------------------------------------
def first_non_finite(tensors: Mapping[str, torch.Tensor]) -> str | None:
    """The name of the first floating tensor holding a NaN or an infinity, else None (one sync)."""
    floating = [(name, tensor) for name, tensor in tensors.items() if tensor.is_floating_point()]
    if not floating:
        return None
    finite = torch.stack([torch.isfinite(tensor).all() for _, tensor in floating]).tolist()  # (T,)
    return next((name for (name, _), ok in zip(floating, finite) if not ok), None)


def check_finite_weights(tensors: Mapping[str, torch.Tensor], *, path: Path, what: str = "weights") -> None:
    """CheckpointError when a checkpoint's weights hold NaN or infinity (saved from a diverged run)."""
    name = first_non_finite(tensors)
    if name is not None:
        raise CheckpointError(
            f"{path} holds non-finite {what} ({name} has NaN or infinite values): it was saved after training "
            "diverged; use another checkpoint of the run, or train again with a lower train.lr"
        )


def state_mismatch(expected: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor]) -> str | None:
    """How `state` fails a module's state_dict `expected` ("lacks 'w'", "has unexpected 'b'", "w has shape (3,), expected (4,)"), or None."""
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        return f"lacks {missing[0]!r}" if missing else f"has unexpected {unexpected[0]!r}"
    for name, tensor in state.items():
        if tuple(expected[name].shape) != tuple(tensor.shape):
            return f"{name} has shape {tuple(tensor.shape)}, expected {tuple(expected[name].shape)}"
    return None


def load_module_state(module: torch.nn.Module, state: Mapping[str, torch.Tensor], *, path: Path, what: str = "model") -> None:
    """Strict load_state_dict with a one-line CheckpointError naming the first mismatch."""
    problem = state_mismatch(module.state_dict(), state)
    if problem is not None:
        raise CheckpointError(f"{path} does not match the {what} it was built for ({problem}): was the model code changed?")
    module.load_state_dict(dict(state), strict=True)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


