"""The one training loop of genzoo: every model, one device or many, fresh or resumed.

A training step runs each phase of `model.training_phases()` in order, each `repeats` times
on a fresh batch (Goodfellow et al. 2014, Alg. 1: k discriminator steps, then one generator
step); a one-phase model consumes one batch per step. Each phase has its own optimizer over
`model.phase_parameters(phase)` and its own LR scheduler, stepped once per training step.

Per batch: uint8 images -> preprocessor (with the trainer's data generator, for dynamic
binarization or dequantization noise) -> model(x, y, phase) -> mean of the per-example loss
-> backward -> gradient clipping -> optimizer step. After the step: EMA update, then the
periodic work (log, evaluate + `best`, sample grid, `last` checkpoint), then Ctrl-C handling.

Resuming is exact: the data order is a pure function of (seed, epoch) plus the batch index
within the epoch, and the checkpoint restores weights, optimizers, schedulers, EMA, every
RNG, and even the partial sums of the next log line (each piece of state saves and restores
itself: genzoo.train.saved_state). Evaluation and sampling run on forked
RNG streams, so they never perturb training.

Under torchrun (W processes, DistributedDataParallel) each rank takes B / W examples of
every global batch of B, dealt round-robin, so the union is the one-process batch; every
rank keeps the same random state (global torch RNG and data generator) and draws the noise
of the whole batch, keeping its rows (`genzoo.sharding`: a GAN's z, a VAE's epsilon, dropout
masks, binarization and dequantization noise), per-batch statistics the model keeps (the
autoencoder's latent moments) are summed over ranks, BatchNorm normalises over the global
batch (genzoo.train.distributed.sync_batch_norm), and gradients are averaged: W processes
follow the one-process run up to float rounding, for GANs too (only the phase's optimizer
steps; the other player's parameters get no gradient). Evaluation deals every test example
to exactly one rank and sums over ranks. The data position counts global batches,
so a checkpoint resumes under any number of processes.
"""

from __future__ import annotations

import gc
import hashlib
import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
import yaml
from torch import nn

from genzoo.atomic_file import atomic_write
from genzoo.data.grid import save_image_grid
from genzoo.data.labelled_grid import save_labelled_grid
from genzoo.data.toy2d import mixture_extent, mixture_modes, point_mixture, to_points
from genzoo.data.toy2d_modes import ModeStatistics, mode_statistics
from genzoo.data.toy2d_scatter import draw_mode_scatter
from genzoo.errors import CheckpointError, ConfigError, DataError, TrainingDiverged
from genzoo.models.base import TrainingPhase
from genzoo.models.translation.panel import PANEL_COLUMNS, translation_panel
from genzoo.runs import RunDir
from genzoo.sharding import BatchShard
from genzoo.train import distributed
from genzoo.train.batches import BatchStream
from genzoo.runs.checkpoint import (
    FORMAT_NAME,
    FORMAT_VERSION,
    check_finite_weights,
    first_non_finite,
    library_versions,
    load_module_state,
    now_iso,
    read_checkpoint,
    remove_stale_temporaries,
    write_checkpoint,
)
from genzoo.train.clock import RunClock
from genzoo.runs.config import RunConfig, TrainConfig
from genzoo.runs.device import resolve_device
from genzoo.train.device import autocast, autocast_dtype, configure_backends, isolated_rng, seed_everything
from genzoo.train.ema import EMA
from genzoo.train.fast_paths import compile_forward, to_channels_last, use_channels_last
from genzoo.train.log_window import LogWindow
from genzoo.train.logging import MetricsLogger, log
from genzoo.train.phase_optimizer import PhaseOptimizer
from genzoo.progress import progress_bar
from genzoo.train.random_streams import RandomStreams
from genzoo.train.resume import check_resume_changes, read_saved_config
from genzoo.train.run import build_run
from genzoo.train.run_directory import (
    STORAGE_ERRNOS,
    RunDirectoryLock,
    check_fresh_run_directory,
    check_output_directory,
    storage_error,
)
from genzoo.train.saved_state import TRAINER_STATE, CheckpointParts, SavedState, restore_all, save_all
from genzoo.train.selection import BestSelection
from genzoo.train.stopping import DivergenceMonitor, StopSignal, StopVote

ON_DEVICE_FRACTION = 0.25  # auto: keep the uint8 data on the GPU when it takes < this share of free memory
TOY_POINTS = 2500  # samples of a toy2d run scored for mode coverage (PacGAN's count)
TRANSLATION_PROBES = 16  # held-out inputs in the sample grid of an image-to-image model


@dataclass
class TrainResult:
    """How a call to `train` ended. `message` is one line for the CLI (empty when finished)."""

    run_dir: Path
    step: int
    status: Literal["finished", "interrupted", "diverged"]
    last_checkpoint: Path | None
    best_checkpoint: Path | None
    final_metrics: dict[str, Any] = field(default_factory=dict)
    total_steps: int = 0
    message: str = ""

    def raise_for_status(self) -> "TrainResult":
        """Raise TrainingDiverged (its message: the one line for the user) when the run diverged."""
        if self.status == "diverged":
            raise TrainingDiverged(self.message)
        return self


def train(config: RunConfig | None, run_dir: str | os.PathLike[str], *, resume: bool = False) -> TrainResult:
    """Train `config` into `run_dir`; see the module docstring.

    resume=True continues RUN_DIR from checkpoints/last.safetensors. `config` is then either
    None (the saved config.yaml as is) or the saved config with the user's changes merged in
    (see `resume_config`); changing anything but the run length and bookkeeping raises
    ConfigError. A fresh run refuses a directory that already holds a checkpoint or files that
    are not a genzoo run's; a second process training in RUN_DIR at the same time is refused
    (genzoo.train.run_directory). A disk that refuses a write (full, read-only) is a one-line
    RunDirectoryError; the last checkpoint stays intact.
    """
    run_dir = Path(run_dir)
    try:
        trainer = Trainer(config, run_dir, resume=resume)
        try:
            return trainer.fit()
        finally:
            trainer.close()
    except OSError as error:
        if error.errno not in STORAGE_ERRNOS:
            raise
        raise storage_error(error, run_dir) from None


def _derived_seed(*parts: object) -> int:
    digest = hashlib.sha256(":".join(map(str, ("genzoo",) + parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def _git_commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


class _LoopPosition:
    """The trainer's own part of a checkpoint: its step (and, for readers, the run's shape and metrics)."""

    restore_problem = TRAINER_STATE

    def __init__(self, trainer: "Trainer") -> None:
        self.trainer = trainer

    def save(self, parts: CheckpointParts) -> None:
        trainer = self.trainer
        parts.trainer.update(
            step=trainer.step, total_steps=trainer.total_steps, batches_per_epoch=trainer.batches_per_epoch,
            world_size=trainer.env.world_size, selection_metric=trainer.module.selection_metric,
        )

    def restore(self, parts: CheckpointParts) -> None:
        self.trainer.step = int(parts.trainer["step"])
        self.trainer.latest_metrics = dict(parts.metadata.get("metrics") or {})


class Trainer:
    """State and steps of one training run; `train()` is the public entry point."""

    def __init__(self, config: RunConfig | None, run_dir: str | os.PathLike[str], *, resume: bool) -> None:
        self.run_dir = Path(run_dir)
        self.resume = resume
        self.env = distributed.detect()
        self.is_main = self.env.is_main
        self.logger: MetricsLogger | None = None
        self.lock: RunDirectoryLock | None = None
        self._created_run_dir = False
        self._created_group = False
        self.stop_vote: StopVote | None = None  # under torchrun, set by fit()
        self._previous_deterministic = torch.are_deterministic_algorithms_enabled()
        self.files = RunDir(self.run_dir)
        self.checkpoint_dir = self.files.checkpoints
        self.last_path = self.files.checkpoint("last")
        self.best_path = self.files.checkpoint("best")
        try:
            self._setup(config, resume)
        except BaseException:
            self.close()
            raise

    def _setup(self, config: RunConfig | None, resume: bool) -> None:
        config, resume_from = self._claim_run_directory(config, resume)
        self.settings = config.train
        self._configure_process(self.settings)
        self._build_model_and_data(config)
        self._count_steps()
        self.phase_optimizers = self._build_phase_optimizers()
        self.ema = EMA(self.module, self.settings.ema_decay) if self.settings.ema_decay else None
        self._wrap_for_training()
        self._start_state()
        self._open_run_files(resume_from)

    # ---- setup steps --------------------------------------------------------------------
    def _claim_run_directory(self, config: RunConfig | None, resume: bool) -> tuple[RunConfig, Path | None]:
        """Lock the run directory; (the config to train, the checkpoint to resume from or None)."""
        check_output_directory(self.run_dir)
        if self.is_main and (not resume or self.run_dir.is_dir()):  # resuming a missing directory: said below
            self._created_run_dir = not self.run_dir.exists()
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self.lock = RunDirectoryLock(self.run_dir)
            self.lock.acquire(now_iso())
        if not resume:
            if config is None:
                raise ConfigError("train() needs a RunConfig unless resume=True")
            if self.is_main:
                check_fresh_run_directory(self.run_dir, self.last_path)
            elif self.last_path.exists():  # rank 0 has said why; do not start training beside it
                raise ConfigError(f"{self.run_dir} already holds a run: resume it with --resume")
            return config, None
        saved = read_saved_config(self.run_dir)
        config = saved if config is None else config
        check_resume_changes(saved, config)
        if not self.last_path.is_file():
            found = sorted(p.name for p in self.checkpoint_dir.iterdir()) if self.checkpoint_dir.is_dir() else []
            raise CheckpointError(
                f"cannot resume {self.run_dir}: it has no checkpoints/last.safetensors "
                f"(checkpoints/ holds: {', '.join(found) or 'nothing'}); start it again without --resume"
            )
        return config, self.last_path

    def _configure_process(self, settings: TrainConfig) -> None:
        """Device, threads, process group, numerics and seeds of this process."""
        world = self.env.world_size
        if settings.batch_size % world:
            raise ConfigError(f"train.batch_size {settings.batch_size} is not divisible by the {world} processes: choose a multiple of {world}")
        self.device = resolve_device(settings.device, local_rank=self.env.local_rank if self.env.enabled else None)
        if settings.threads is not None:
            torch.set_num_threads(settings.threads)
        self._created_group = distributed.init_process_group(self.env, self.device)
        configure_backends(self.device, deterministic=settings.deterministic)
        self.amp_dtype = autocast_dtype(self.device, settings.precision)
        seed_everything(settings.seed)

    def _build_model_and_data(self, config: RunConfig) -> None:
        """The model on its device and this process's share of the data."""
        # Rank 0 loads first, so a download happens once; the others then find the files.
        if not self.is_main:
            distributed.barrier()
        self.run = build_run(config, progress=self.is_main and self.settings.progress)
        if self.is_main:
            distributed.barrier()
        self.config = self.run.config  # data.preprocess resolved
        self.mixture = point_mixture(self.config.data.name, self.config.data.options)  # toy2d: "ring"/"grid", else None
        self.module = self.run.model.to(self.device)
        # Before optimizers and EMA exist, so their state tensors take the same layout.
        self.channels_last = use_channels_last(self.settings.channels_last, self.device, self.module)
        if self.channels_last:
            self.module = self.module.to(memory_format=torch.channels_last)
        self.preprocessor = self.run.preprocessor
        self.label_conditional = bool(self.module.capabilities.label_conditional)
        self.num_classes = self.run.data_format.num_classes
        world = self.env.world_size
        if self.env.enabled:
            # Each rank draws the noise of the whole global batch and keeps its share (genzoo.sharding).
            self.module.batch_shard = BatchShard(rank=self.env.rank, world_size=world)
            self.module = distributed.sync_batch_norm(self.module, self.device)
        self.batch_size = self.settings.batch_size // world
        self.eval_batch_size = max(1, self.settings.eval_batch_size // world)
        self.train_set, self.test_set = self._place_data(self.run.train_set, self.run.test_set)
        self.batches_per_epoch = self.train_set.num_batches(self.batch_size, world_size=world)
        if self.batches_per_epoch < 1:
            raise DataError(
                f"dataset {self.config.data.name} has {len(self.train_set)} training images, fewer than one batch "
                f"of {self.settings.batch_size}: lower train.batch_size"
            )

    def _count_steps(self) -> None:
        """The model's training phases and the run's length in steps (train.steps, or train.epochs of batches)."""
        self.phases: list[TrainingPhase] = list(self.module.training_phases())
        names = [phase.name for phase in self.phases]
        if not names or len(set(names)) != len(names) or any(phase.repeats < 1 for phase in self.phases):
            raise ValueError(f"model {self.module.name} declares bad training phases {self.phases}: names must be unique, repeats >= 1")
        self.multi_phase = len(self.phases) > 1
        self.batches_per_step = sum(phase.repeats for phase in self.phases)
        settings = self.settings
        if settings.steps is not None:
            self.total_steps = settings.steps
        elif settings.epochs is not None:
            self.total_steps = max(1, math.ceil(settings.epochs * self.batches_per_epoch / self.batches_per_step - 1e-9))
        else:
            raise ConfigError("no training length: set train.steps or train.epochs")

    def _build_phase_optimizers(self) -> dict[str, PhaseOptimizer]:
        """One optimizer, scheduler and loss scale per phase, over the phase's trainable parameters."""
        optimizers = {}
        for phase in self.phases:
            params = [p for p in self.module.phase_parameters(phase.name) if p.requires_grad]
            if not params:
                raise ValueError(f"model {self.module.name} phase {phase.name!r} has no trainable parameters")
            optimizers[phase.name] = PhaseOptimizer.build(
                phase, params, self.settings, total_steps=self.total_steps, device=self.device,
                float16=self.amp_dtype == torch.float16,
            )
        return optimizers

    def _wrap_for_training(self) -> None:
        """DDP (under torchrun), the compiled training forward, the data generator and the batch stream."""
        self.model: nn.Module = self.module
        if self.env.enabled:
            self.model = nn.parallel.DistributedDataParallel(
                self.module,
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=self.multi_phase,
            )
        # Training forward only (DDP-wrapped when distributed); evaluation, sampling and checkpoints use self.module.
        self.train_forward = compile_forward(self.model, self.settings.compile)
        self.data_generator = torch.Generator(device=self.device)
        # Shared by every rank (one process's seed): the preprocessor draws the noise of the whole
        # global batch and keeps this rank's rows, as it does for the model's noise.
        self.data_generator.manual_seed(_derived_seed(self.settings.seed, "data", 0))
        self.stream = BatchStream(
            self.train_set, self.batch_size, seed=self.settings.seed, rank=self.env.rank, world_size=self.env.world_size,
            device=self.device,
        )

    def _start_state(self) -> None:
        """The training state at step 0; every piece a checkpoint holds is one of `_saved_state()`."""
        self.step = 0
        self.best = BestSelection()
        self.clock = RunClock()
        self.log_window = LogWindow(self.env.world_size, self.device)
        self.monitor = DivergenceMonitor(self.settings.divergence_factor)
        self.random_streams = RandomStreams(
            self.data_generator, self.device, reseed=lambda step: _derived_seed(self.settings.seed, "data", step, 0),
        )
        self.pending: list[tuple[int, str, torch.Tensor]] = []  # (step, phase, batch mean loss) not yet checked
        # On the CPU a sync is free, so every step's loss is checked at once; on a GPU only when
        # something is about to be logged or written (a NaN never reaches a checkpoint either
        # way). Several processes check every step so that they stop at the same one.
        self.check_every_step = self.device.type != "cuda" or self.env.enabled
        self.last_saved_step: int | None = None
        self.latest_metrics: dict[str, Any] = {}  # of the last evaluation
        self.sampling_supported = True
        self._checked_output = False

    def _saved_state(self) -> list[SavedState]:
        """Everything a checkpoint holds besides the weights, each piece saving and restoring itself."""
        owners: list[SavedState] = [_LoopPosition(self)] if self.ema is None else [_LoopPosition(self), self.ema]
        return owners + [*self.phase_optimizers.values(), self.stream, self.best, self.clock, self.log_window,
                         self.monitor, self.random_streams]

    def _open_run_files(self, resume_from: Path | None) -> None:
        """checkpoints/ and metrics.jsonl (restored to the checkpoint's step when resuming), config.yaml, run.json."""
        if self.is_main:
            self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
            remove_stale_temporaries(self.checkpoint_dir)
        self.logger = MetricsLogger(self.run_dir, enabled=self.is_main)
        if resume_from is not None:
            self._restore(resume_from)
            self.logger.truncate_after(self.step)
        elif self.is_main and self.logger.path.exists():
            self.logger.path.unlink()  # records of an earlier attempt that never saved a checkpoint
        if self.is_main:
            self._write_run_files()

    def _place_data(self, train_set: Any, test_set: Any) -> tuple[Any, Any]:
        """Move the uint8 splits to the accelerator when asked (or auto and they fit)."""
        from genzoo.data.dataset import ImageDataset

        mode = self.settings.on_device_data
        if self.device.type == "cpu" or mode == "no":
            return train_set, test_set
        sets = [s for s in (train_set, test_set) if s is not None]
        in_memory = all(isinstance(s, ImageDataset) for s in sets)
        if not in_memory:
            if mode == "yes":
                log.warning("on_device_data=yes ignored: the dataset is streamed from disk")
            return train_set, test_set
        if mode == "auto":
            if self.device.type != "cuda":
                return train_set, test_set
            needed = sum(s.images.numel() for s in sets)
            free, _ = torch.cuda.mem_get_info(self.device)
            if needed >= ON_DEVICE_FRACTION * free:
                return train_set, test_set
        return train_set.to(self.device), None if test_set is None else test_set.to(self.device)

    def _write_run_files(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(self.files.config, yaml.safe_dump(self.config.to_dict(), sort_keys=False))
        session = {
            "started": now_iso(),
            "step": self.step,
            "command": list(sys.argv),
            "device": str(self.device),
            "world_size": self.env.world_size,
            "total_steps": self.total_steps,
        }
        run_json = self.files.run_record
        if self.resume and run_json.exists():
            try:
                record = json.loads(run_json.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                record = {}
            record.setdefault("resumes", []).append(session)
        else:
            data = self.config.data
            record = {
                **library_versions(),
                "seed": self.settings.seed,
                "model": self.config.model,
                "num_parameters": sum(p.numel() for p in self.module.parameters()),
                "dataset": {
                    "name": data.name,
                    "options": data.options,
                    "location": self._dataset_location(),
                    "train_images": len(self.train_set),
                    "test_images": None if self.test_set is None else len(self.test_set),
                    "image_shape": list(self.run.info.image_shape),
                },
                "preprocess": list(self.run.preprocess),
                "data_format": self.run.data_format.to_dict(),
                "git_commit": _git_commit(),
                **session,
                "resumes": [],
            }
        atomic_write(run_json, json.dumps(record, indent=2) + "\n")

    def _dataset_location(self) -> str | None:
        try:
            from genzoo.data import locate_dataset
        except ImportError:
            return None
        data = self.config.data
        try:
            where = locate_dataset(data.name, data.data_dir, **data.options)
        except Exception:  # noqa: BLE001  (informational only)
            return None
        return where.path or where.detail

    # ---- the loop -------------------------------------------------------------------------
    def fit(self) -> TrainResult:
        if self.step >= self.total_steps:
            return self._result("finished", f"{self.run_dir} is already at step {self.step} of {self.total_steps}: raise train.steps to continue")
        bar = progress_bar(
            total=self.total_steps, initial=self.step, desc=self.config.model, enabled=self.settings.progress and self.is_main,
        )
        self.stop_vote = StopVote(self.device) if self.env.enabled else None
        try:
            with StopSignal() as stop:
                self.module.train()
                self.clock.restart()
                outcome = None
                while outcome is None and self.step < self.total_steps:
                    self._train_step()
                    self.step += 1
                    bar.update(1)
                    outcome = self._after_step(stop, bar)
                if self.stop_vote is not None:
                    self.stop_vote.finish()  # every rank has the last vote in flight
                return outcome if outcome is not None else self._finish()
        finally:
            bar.close()

    def _train_step(self) -> None:
        self.module.on_train_step(self.step)  # model-side schedules (e.g. KL warm-up), exact on resume
        for phase in self.phases:
            optimization = self.phase_optimizers[phase.name]
            for _ in range(phase.repeats):
                images, labels = self.stream.next()
                x = self.preprocessor(images, generator=self.data_generator, shard=self.module.batch_shard)  # (B, C, H, W) float
                if self.channels_last:
                    x = to_channels_last(x)
                y = labels if self.label_conditional else None
                # Every parameter: a phase's loss may reach other phases' parameters (G through D).
                self.module.zero_grad(set_to_none=True)
                with autocast(self.device, self.amp_dtype):
                    outputs = self.train_forward(x, y, phase=phase.name)
                self._check_output(outputs, x)
                loss = outputs["loss"].float().mean()
                optimization.backward_and_step(loss, self.settings.grad_clip)
                self._accumulate(phase.name, outputs, loss)
                self.log_window.images += x.shape[0] * self.env.world_size
            optimization.end_step()
        if self.ema is not None:
            self.ema.update(self.module, self.step)

    def _check_output(self, outputs: dict[str, torch.Tensor], x: torch.Tensor) -> None:
        if self._checked_output:
            return
        loss = outputs.get("loss") if isinstance(outputs, dict) else None
        if loss is None or loss.dim() != 1 or loss.shape[0] != x.shape[0]:
            shape = None if loss is None else tuple(loss.shape)
            raise ValueError(f"model {self.module.name}: loss() must return a dict whose 'loss' is per-example, shape ({x.shape[0]},), got {shape}")
        self._checked_output = True

    def _metric_name(self, phase: str, key: str) -> str:
        return f"{phase}/{key}" if self.multi_phase else key

    def _accumulate(self, phase: str, outputs: dict[str, torch.Tensor], loss: torch.Tensor) -> None:
        for key, value in outputs.items():
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                mean = loss.detach() if key == "loss" else value.detach().float().mean()
                self.log_window.add(self._metric_name(phase, key), mean)
        self.pending.append((self.step + 1, phase, loss.detach()))

    # ---- after each step ----------------------------------------------------------------
    def _drain(self) -> tuple[int, str] | None:
        """Check the pending losses (one device sync); (step, reason) of the first bad one."""
        if not self.pending:
            return None
        values = torch.stack([value for _, _, value in self.pending]).tolist()
        entries = [(step, phase) for step, phase, _ in self.pending]
        self.pending.clear()
        for (step, phase), value in zip(entries, values):
            reason = self.monitor.check(phase, value)
            if reason is not None:
                return step, reason
        return None

    def _after_step(self, stop: StopSignal, bar: Any) -> TrainResult | None:
        step, final = self.step, self.step == self.total_steps
        settings = self.settings
        log_now = step % max(1, settings.log_every) == 0 or final
        eval_now = not final and settings.eval_every > 0 and step % settings.eval_every == 0
        sample_now = not final and settings.sample_every > 0 and step % settings.sample_every == 0
        save_now = not final and settings.checkpoint_every > 0 and step % settings.checkpoint_every == 0
        # Every rank must take the same branches below (they hold collectives): `stopping` is
        # this process's flag alone, or the ranks' common vote (a step late) under torchrun.
        stopping = self.stop_vote.poll(stop.requested) if self.stop_vote is not None else stop.requested
        if self.check_every_step or log_now or eval_now or sample_now or save_now or stopping or final:
            failure = self._drain()
            diverged = failure is not None
            if self.env.enabled:
                diverged = bool(distributed.all_reduce_max(torch.tensor([float(diverged)], device=self.device)).item())
                if diverged and failure is None:
                    failure = (step, "loss diverged on another rank")
            if diverged:
                return self._diverged(*failure)
        if eval_now or sample_now or save_now or stopping or final:  # nothing non-finite is evaluated, sampled or saved
            broken = first_non_finite(self.module.state_dict())
            if broken is not None:
                return self._diverged(step, f"{broken} became NaN or infinite")
        if log_now:
            self._log_train(bar)
        with self.clock.overhead():
            if eval_now:
                self._evaluate_and_select(self.settings.eval_batches)
            if sample_now:
                self._sample(f"step_{step:06d}.png")
            if save_now:
                self._save_last()
        if stopping and not final:
            if self.last_saved_step != step:
                self._save_last()
            return self._result(
                "interrupted",
                f"training interrupted at step {step} of {self.total_steps}; saved {self.last_path}; "
                f"continue with: genzoo train --resume --out {self.run_dir}",
            )
        return None

    def _log_train(self, bar: Any) -> None:
        means = self.log_window.means()
        if self.multi_phase:
            means["loss"] = sum(means.get(f"{phase.name}/loss", 0.0) for phase in self.phases)
        record: dict[str, Any] = {"step": self.step, "epoch": self._epoch_position(), "split": "train", "loss": means.pop("loss", None)}
        record.update(means)
        record["lr"] = self.phase_optimizers[self.phases[0].name].last_lr
        if self.multi_phase:
            record.update({f"{name}/lr": optimization.last_lr for name, optimization in self.phase_optimizers.items()})
        record["images_per_s"] = self.log_window.images_per_s(self.clock.training())
        record["time"] = round(self.clock.now(), 3)
        if self.logger is not None:
            self.logger.log(record)
        if record["loss"] is not None and record["images_per_s"] is not None:
            bar.set_postfix(loss=f"{record['loss']:.4g}", images_per_s=f"{record['images_per_s']:.0f}", refresh=False)
        self.log_window.reset(self.clock.training())

    def _epoch_position(self) -> float:
        return round(self.stream.epoch + self.stream.batch_in_epoch / self.batches_per_epoch, 4)

    # ---- evaluation, sampling ------------------------------------------------------------
    def _weights_for_inference(self) -> Any:
        import contextlib

        return self.ema.applied(self.module) if self.ema is not None else contextlib.nullcontext(self.module)

    @torch.no_grad()
    def evaluate(self, max_batches: int | None = None) -> dict[str, float]:
        """Mean of every key of model.evaluate over the test split (or its first max_batches batches).

        Under torchrun every test example goes to one rank (round-robin, as in training, with
        the ranks' shares of the last batch differing by up to one) and the sums are all-reduced.
        """
        distributed.broadcast_buffers(self.module)  # every rank evaluates rank 0's BatchNorm statistics, the saved ones
        if self.test_set is None:
            return {}
        generator = torch.Generator(device=self.device)
        generator.manual_seed(_derived_seed(self.settings.seed, "eval", 0))  # shared: each rank keeps its rows
        sums: dict[str, torch.Tensor] = {}
        count = 0
        self.module.eval()
        try:
            with self._weights_for_inference(), isolated_rng(self.device):
                batches = self.test_set.batches(
                    self.eval_batch_size, epoch=0, seed=self.settings.seed, shuffle=True, drop_last=False,
                    rank=self.env.rank, world_size=self.env.world_size,
                )
                for index, (images, labels) in enumerate(batches):
                    if max_batches is not None and index >= max_batches:
                        break
                    images = images.to(self.device, non_blocking=True)
                    x = self.preprocessor(images, generator=generator, shard=self.module.batch_shard)  # (B, C, H, W)
                    if self.channels_last:
                        x = to_channels_last(x)
                    y = None if labels is None or not self.label_conditional else labels.to(self.device)
                    outputs = self.module.evaluate(x, y)  # fp32, no autocast: the same numbers as `genzoo eval`
                    for key, value in outputs.items():
                        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
                            continue
                        value = value.detach().float()
                        total = value.sum() if value.dim() > 0 else value * x.shape[0]
                        sums[key] = sums[key] + total if key in sums else total
                    count += x.shape[0]
        finally:
            self.module.train()
        names = sorted(sums)
        totals = torch.stack([sums[name] for name in names] + [torch.tensor(float(count), device=self.device)])
        totals = distributed.all_reduce_sum(totals).tolist()
        seen = totals[-1]
        return {name: total / seen for name, total in zip(names, totals[:-1])} if seen else {}

    def _evaluate_and_select(self, max_batches: int | None) -> dict[str, float]:
        metrics = self.evaluate(max_batches)
        if not metrics:
            return metrics
        if self.mixture is not None and self.sampling_supported:  # toy2d: mode collapse shows in the log as it happens
            stats = self._mode_statistics(self._sample_points("modes"))
            metrics.update(modes_covered=stats.modes_covered, high_quality_fraction=stats.high_quality_fraction)
        record = {"step": self.step, "epoch": self._epoch_position(), "split": "test", **metrics, "time": round(self.clock.now(), 3)}
        if self.logger is not None:
            self.logger.log(record)
        selection = self.module.selection_metric
        self.latest_metrics = metrics
        if selection is None:  # no held-out loss ranks checkpoints (GANs): only `last` is kept
            return metrics
        if selection not in metrics:
            raise ValueError(
                f"model {self.module.name}: selection_metric {selection!r} is not among its evaluate() keys "
                f"({', '.join(sorted(metrics))})"
            )
        self.latest_metrics = metrics
        if self.best.offer(metrics[selection], self.step) and self.is_main:
            self._write_checkpoint(self.best_path, "best", metrics)
        return metrics

    @torch.no_grad()
    def _sample_points(self, stream: str) -> torch.Tensor:
        """TOY_POINTS seeded samples of a toy2d model as 2-D points (N, 2) on the CPU."""
        generator = torch.Generator(device=self.device)
        generator.manual_seed(_derived_seed(self.settings.seed, stream))
        self.module.eval()
        try:
            with self._weights_for_inference(), isolated_rng(self.device):
                samples = self.module.sample(TOY_POINTS, generator=generator)  # (N, 1, 1, 2)
        finally:
            self.module.train()
        return to_points(samples.float().cpu(), mixture_extent(self.mixture), self.run.data_format.value_range)

    def _mode_statistics(self, points: torch.Tensor) -> ModeStatistics:
        return mode_statistics(points, *mixture_modes(self.mixture))

    def _sample_scatter(self, filename: str) -> Path:
        """A toy2d run's samples as a scatter over the true modes (image grids of 1x2 "images" show nothing)."""
        points = self._sample_points("samples")
        heading = f"{self.module.name}, step {self.step}"
        return draw_mode_scatter(points, self.mixture, self._mode_statistics(points), self.files.samples / filename, heading=heading)

    @torch.no_grad()
    def _sample(self, filename: str) -> Path | None:
        if not self.is_main or not self.sampling_supported:
            return None
        if self.mixture is not None:
            return self._sample_scatter(filename)
        count = self.settings.sample_count
        labels = None
        if self.label_conditional and self.num_classes:
            labels = torch.arange(count, device=self.device) % self.num_classes  # (n,)
        generator = torch.Generator(device=self.device)
        generator.manual_seed(_derived_seed(self.settings.seed, "samples"))  # same noise at every step
        translating = bool(self.module.capabilities.image_to_image)
        self.module.eval()
        try:
            with self._weights_for_inference(), isolated_rng(self.device), autocast(self.device, self.amp_dtype):
                if translating:  # rows of input | output | target for the same held-out images at every step
                    images = translation_panel(self.module, self._probe_batch(min(count, TRANSLATION_PROBES)), generator)
                else:
                    images = self.module.sample(count, labels=labels, generator=generator)  # (n, C, H, W)
        except NotImplementedError as error:
            log.warning("no sample grids: %s", error)
            self.sampling_supported = False
            return None
        finally:
            self.module.train()
        pixels = self.preprocessor.to_uint8(images.float()).cpu()  # (n, C, H, W) uint8
        if translating:  # two examples a row, labelled, large enough to tell a sharp output from a blurred one
            title = f"{self.module.name}, step {self.step}, task {self.module.task.spec}: held-out inputs"
            return save_labelled_grid(pixels, self.files.samples / filename, nrow=2 * len(PANEL_COLUMNS), column_labels=PANEL_COLUMNS * 2, title=title)
        return save_image_grid(pixels, self.files.samples / filename)

    def _probe_batch(self, count: int) -> torch.Tensor:
        """The first `count` held-out images (training images without a test split), preprocessed: (n, C, H, W)."""
        dataset = self.test_set if self.test_set is not None else self.train_set
        images, _ = next(iter(dataset.batches(count, shuffle=False, drop_last=False)))
        generator = torch.Generator(device=self.device)
        generator.manual_seed(_derived_seed(self.settings.seed, "probes"))
        return self.preprocessor(images.to(self.device), generator=generator)

    # ---- checkpoints ----------------------------------------------------------------------
    def _save_last(self) -> None:
        self.log_window.average_over_ranks()
        if self.is_main:
            self._write_checkpoint(self.last_path, "last", self.latest_metrics)
        self.last_saved_step = self.step

    def _write_checkpoint(self, path: Path, kind: str, metrics: dict[str, Any]) -> Path:
        parts = CheckpointParts({f"model.{k}": v for k, v in self.module.state_dict().items()}, self._checkpoint_header(kind, metrics))
        save_all(self._saved_state(), parts)
        return write_checkpoint(path, parts.tensors, parts.metadata)

    def _checkpoint_header(self, kind: str, metrics: dict[str, Any]) -> dict[str, Any]:
        """What a checkpoint says about itself: its run, data, model, versions and the metrics it was taken at."""
        info = self.run.info
        return {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "kind": kind,
            "model": self.config.model,
            "run_config": self.config.to_dict(),
            "data_format": self.run.data_format.to_dict(),
            "preprocess": list(self.run.preprocess),
            "dataset": {
                "name": info.name,
                "image_shape": list(info.image_shape),
                "levels": info.levels,
                "num_classes": info.num_classes,
                "class_names": None if info.class_names is None else list(info.class_names),
            },
            "metrics": metrics,
            "versions": library_versions(),
            "created": now_iso(),
            "num_parameters": sum(p.numel() for p in self.module.parameters()),
            "has_ema": self.ema is not None,
        }

    def _restore(self, path: Path) -> None:
        checkpoint = read_checkpoint(path)
        load_module_state(self.module, checkpoint.section("model"), path=path)
        check_finite_weights(checkpoint.section("model"), path=path)  # resuming would only diverge again
        parts = CheckpointParts(dict(checkpoint.tensors), dict(checkpoint.metadata), source=path)
        restore_all(self._saved_state(), parts, path=path)
        self.last_saved_step = self.step
        log.info("resumed %s at step %d of %d", self.run_dir, self.step, self.total_steps)

    # ---- endings ------------------------------------------------------------------------
    def _finish(self) -> TrainResult:
        if self.settings.final_eval:
            self._evaluate_and_select(None)
        self._sample("final.png")
        self._save_last()
        distributed.barrier()
        return self._result("finished", "")

    def _diverged(self, step: int, reason: str) -> TrainResult:
        if self.last_path.exists() and self.last_saved_step is not None:
            where = f"last good checkpoint: {self.last_path} (step {self.last_saved_step})"
        else:
            where = "no checkpoint was saved before it: lower train.lr or set train.grad_clip and train again"
        return self._result("diverged", f"training diverged at step {step} ({reason}); {where}")

    def _result(self, status: Literal["finished", "interrupted", "diverged"], message: str) -> TrainResult:
        return TrainResult(
            run_dir=self.run_dir,
            step=self.step,
            status=status,
            last_checkpoint=self.last_path if self.last_path.exists() else None,
            best_checkpoint=self.best_path if self.best_path.exists() else None,
            final_metrics=dict(self.latest_metrics),
            total_steps=self.total_steps,
            message=message,
        )

    def close(self) -> None:
        if self.logger is not None:
            self.logger.close()
            self.logger = None
        if self.lock is not None:
            self.lock.release()
            self.lock = None
            if self._created_run_dir:
                try:
                    self.run_dir.rmdir()  # succeeds only when empty: a run that failed before writing anything leaves no trace
                except OSError:
                    pass
        torch.use_deterministic_algorithms(self._previous_deterministic)
        self._release_ddp()
        if self._created_group:
            distributed.destroy_process_group()
            self._created_group = False

    def _release_ddp(self) -> None:
        """Free the DDP wrapper while the process group is still registered.

        DDP's reducer holds a reference to the group. Were it the last one, the group would be
        destroyed inside the reducer's deallocation with the GIL held, and Gloo's destructor
        joins worker threads that may need the GIL to free a finished collective's tensors: a
        deadlock at exit, about one run in ten here (pytorch/pytorch#56297). Dropped first, the
        group's last owner is its Python handle, whose destructor releases the GIL.
        """
        module = getattr(self, "module", None)
        if getattr(self, "model", module) is module:
            return
        self.model = module
        self.train_forward = module
        gc.collect()
