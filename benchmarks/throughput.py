"""Training and sampling images/s of every genzoo model at its preset size, with achieved TFLOP/s.

For each preset (every registered model's configs/MODEL-fashion-mnist.yaml, else its first
configs/MODEL-*.yaml, plus dcgan-64px-shapes, the paper-size 64x64 DCGAN) this measures
  - training images/s: the trainer's own step (`Trainer._train_step`: preprocessing, every
    phase's forward + backward + optimizer step, EMA, schedulers) on the preset's data, with the
    run's precision / compile / channels-last settings; `--warmup` steps first (they include any
    torch.compile time, reported as "first step s"), then `--steps` timed steps; CUDA is
    synchronized before and after the timed loop. A step counts every batch it consumes, as the
    trainer's `images_per_s` does (a GAN step: one batch for D and one for G);
  - sampling images/s: `model.sample(n)` in eval mode under the run's autocast (the fast
    incremental sampler for autoregressive models; sampling is never compiled), one counted
    warmup call, then one timed call of `--sample-count` images;
  - FLOPs per training image and per sampled image with torch.utils.flop_counter.FlopCounterMode
    on the eager module: matmul and convolution FLOPs only (elementwise ops, optimizer and
    normalisation are not counted), so achieved TFLOP/s is a lower bound on arithmetic done.
    The share of peak compares it with the device's dense peak for the precision in use
    (table below for known GPUs; for CPUs an estimate from /proc/cpuinfo, stated as such).
The project's GPU targets (issue 7, one H100): dcgan-64px-shapes >= 10k and
pixelcnn-fashion-mnist >= 5k training images/s.

    nice python benchmarks/throughput.py [--models pixelcnn dcgan-64px-shapes] [--device cuda] \
        [--batch-size 128] [--steps 20] [--warmup 3] [--precision auto] [--compile] \
        [--channels-last auto] [--sample-count 64] [--threads 2] [--out-json results.json]

Prints the machine, the command and a Markdown table; --out-json appends one record.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from genzoo.config import load_yaml
from genzoo.models.registry import list_models
from genzoo.train.device import autocast
from genzoo.train.trainer import Trainer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PRESET_DIR, describe_machine, finish, machine, preset_run_config  # noqa: E402

EXTRA_PRESETS = ("dcgan-64px-shapes",)
SYNTHETIC_TEST_IMAGES = 256  # generated datasets (shapes, toy2d): a small test split, never evaluated here

# Dense (no 2:4 sparsity) peak TFLOP/s by precision: NVIDIA's datasheets list tensor-core
# figures with sparsity, halved here. H100 SXM / PCIe / NVL: NVIDIA H100 Tensor Core GPU
# datasheet (resources.nvidia.com/en-us-tensor-core/nvidia-tensor-core-gpu-datasheet);
# H200 SXM / NVL: nvidia.com/en-us/data-center/h200 (same GH100 compute as H100 SXM / NVL);
# A100 (SXM4 and PCIe): NVIDIA A100 datasheet (nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf).
# Cross-checked with glennklockwood.com/garden/processors/h100 and .../A100.
# fp16 and bf16 tensor-core peaks are equal on these GPUs.
# "tf32" is what fp32 matmuls and convolutions run at when TF32 is allowed (the trainer allows
# it on CUDA unless train.deterministic); "fp32" is the plain CUDA-core rate.
GPU_PEAK_TFLOPS: list[tuple[str, dict[str, float]]] = [  # first name contained in the device name wins
    ("H100 PCIe", {"bf16": 756.5, "fp16": 756.5, "tf32": 378.0, "fp32": 51.2}),
    ("H100 NVL", {"bf16": 835.5, "fp16": 835.5, "tf32": 417.5, "fp32": 59.8}),
    ("H200 NVL", {"bf16": 835.5, "fp16": 835.5, "tf32": 417.5, "fp32": 60.0}),
    ("H100", {"bf16": 989.4, "fp16": 989.4, "tf32": 494.7, "fp32": 66.9}),  # SXM5 (e.g. "NVIDIA H100 80GB HBM3")
    ("H200", {"bf16": 989.4, "fp16": 989.4, "tf32": 494.7, "fp32": 66.9}),  # SXM
    ("A100", {"bf16": 312.0, "fp16": 312.0, "tf32": 156.0, "fp32": 19.5}),
]


def default_presets() -> list[str]:
    """Each registered model at its Fashion-MNIST preset (else its first preset), then EXTRA_PRESETS."""
    presets = []
    for name in list_models():
        fashion = PRESET_DIR / f"{name}-fashion-mnist.yaml"
        found = [fashion] if fashion.exists() else sorted(PRESET_DIR.glob(f"{name}-*.yaml"))
        found = [path for path in found if path.stem not in EXTRA_PRESETS]
        if found:
            presets.append(found[0].stem)
    return presets + [p for p in EXTRA_PRESETS if (PRESET_DIR / f"{p}.yaml").exists()]


def select_presets(wanted: list[str] | None) -> list[str]:
    """--models entries: a preset name, or a model name (its presets in the default list)."""
    presets = default_presets()
    if not wanted:
        return presets
    chosen: list[str] = []
    for entry in wanted:
        if (PRESET_DIR / f"{entry}.yaml").exists():
            matches = [entry]
        else:
            matches = [preset for preset in presets if load_yaml(str(PRESET_DIR / f"{preset}.yaml"))["model"]["name"] == entry]
        if not matches:
            raise SystemExit(f"--models: {entry!r} is neither a preset in configs/ nor a model of one of {', '.join(presets)}")
        chosen += [preset for preset in matches if preset not in chosen]
    return chosen


# ---- peak FLOP/s -----------------------------------------------------------------------
def cpu_peak_tflops(threads: int) -> tuple[float | None, str]:
    """Estimate: threads x GHz x fp32 FLOP/cycle/core (2 FMA units x SIMD lanes x 2) from /proc/cpuinfo flags."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None, "no /proc/cpuinfo: CPU peak unknown"
    mhz = re.search(r"^cpu MHz\s*:\s*([\d.]+)", text, re.M)
    nominal = re.search(r"@\s*([\d.]+)GHz", text)
    flag_line = re.search(r"^flags\s*:(.*)$", text, re.M)
    flags = set(flag_line.group(1).split()) if flag_line else set()
    ghz = float(mhz.group(1)) / 1000 if mhz else float(nominal.group(1)) if nominal else None
    if ghz is None:
        return None, "no CPU clock in /proc/cpuinfo: CPU peak unknown"
    if "avx512f" in flags:
        per_cycle, isa = 64, "AVX-512 FMA"
    elif "avx2" in flags and "fma" in flags:
        per_cycle, isa = 32, "AVX2 FMA"
    elif "avx" in flags:
        per_cycle, isa = 16, "AVX"
    else:
        per_cycle, isa = 8, "SSE"
    cores = min(threads, os.cpu_count() or threads)
    peak = cores * ghz * per_cycle / 1e3
    return peak, (f"CPU fp32 peak ESTIMATE {peak:.3f} TFLOP/s = {cores} core(s) x {ghz:.2f} GHz x {per_cycle} FLOP/cycle "
                  f"({isa}, 2 FMA units assumed; bf16 units not counted)")


def gpu_peak_tflops(device: torch.device, precision: str) -> tuple[float | None, str]:
    name = torch.cuda.get_device_name(device)
    for key, peaks in GPU_PEAK_TFLOPS:
        if key in name:
            return peaks[precision], f"{name}: dense {precision} peak {peaks[precision]:g} TFLOP/s (datasheet)"
    return None, f"{name}: peak unknown (not in GPU_PEAK_TFLOPS)"


def peak_tflops(trainer: Trainer, threads: int) -> tuple[float | None, str]:
    if trainer.device.type == "cuda":
        if trainer.amp_dtype in (torch.bfloat16, torch.float16):
            precision = "bf16" if trainer.amp_dtype == torch.bfloat16 else "fp16"
        else:
            precision = "fp32" if trainer.settings.deterministic else "tf32"
        return gpu_peak_tflops(trainer.device, precision)
    if trainer.device.type == "cpu":
        return cpu_peak_tflops(threads)
    return None, f"{trainer.device.type}: peak unknown"


# ---- measurements ----------------------------------------------------------------------
def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_step(trainer: Trainer) -> None:
    """One optimisation step exactly as `Trainer.fit` runs it, minus logging / evaluation / checkpoints."""
    trainer._train_step()
    trainer.step += 1
    trainer.pending.clear()  # losses the loop would check for divergence


def training_flops_per_step(trainer: Trainer) -> int:
    """Matmul + conv FLOPs of one step's forward and backward passes (every phase and repeat), counted eagerly."""
    module = trainer.module
    counter = FlopCounterMode(display=False)
    with counter:
        for phase in trainer.phases:
            for _ in range(phase.repeats):
                images, labels = trainer.stream.next()
                x = trainer.preprocessor(images, generator=trainer.data_generator)  # (B, C, H, W)
                y = labels if trainer.label_conditional else None
                module.zero_grad(set_to_none=True)
                module(x, y, phase=phase.name)["loss"].float().mean().backward()
    module.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def sample_once(trainer: Trainer, count: int, seed: int) -> torch.Tensor:
    module = trainer.module
    labels = None
    if trainer.label_conditional and trainer.num_classes:
        labels = torch.arange(count, device=trainer.device) % trainer.num_classes  # (n,)
    generator = torch.Generator(device=trainer.device).manual_seed(seed)
    with torch.no_grad(), autocast(trainer.device, trainer.amp_dtype):
        return module.sample(count, labels=labels, generator=generator)  # (n, C, H, W)


def measure_sampling(trainer: Trainer, count: int, seed: int) -> tuple[float | None, int | None]:
    """(images/s of one timed call, FLOPs per image of the counted warmup call); (None, None) if it cannot sample."""
    trainer.module.eval()
    try:
        counter = FlopCounterMode(display=False)
        with counter:
            sample_once(trainer, count, seed)
        synchronize(trainer.device)
        started = time.perf_counter()
        sample_once(trainer, count, seed + 1)
        synchronize(trainer.device)
        elapsed = time.perf_counter() - started
    except NotImplementedError:
        return None, None
    finally:
        trainer.module.train()
    return count / elapsed, counter.get_total_flops() // count


def benchmark_preset(preset: str, args: argparse.Namespace) -> dict[str, Any]:
    train: dict[str, Any] = {
        "device": args.device, "precision": args.precision, "compile": args.compile,
        "channels_last": args.channels_last, "threads": args.threads,
    }
    if args.batch_size:
        train["batch_size"] = args.batch_size
    extra: dict[str, Any] = {"train": train}
    base = preset_run_config(preset, steps=1, seed=args.seed, warmup_cap=0, overrides=args.set, eight_bit=False, extra=extra)
    batch = base.train.batch_size
    if base.data.name in ("shapes", "toy2d"):  # generated data: only as many images as the run consumes
        needed = max(4 * batch * (args.warmup + args.steps + 2), 1024)
        extra["data"] = {"options": {"n_train": needed, "n_test": SYNTHETIC_TEST_IMAGES}}
    config = preset_run_config(preset, steps=args.warmup + args.steps, seed=args.seed, warmup_cap=0,
                               overrides=args.set, eight_bit=False, extra=extra)
    with tempfile.TemporaryDirectory(prefix="genzoo-throughput-") as run_dir:
        trainer = Trainer(config, run_dir, resume=False)
        try:
            trainer.module.train()
            images_per_step = trainer.batch_size * trainer.batches_per_step
            started = time.perf_counter()
            train_step(trainer)
            synchronize(trainer.device)
            first_step_s = time.perf_counter() - started
            for _ in range(args.warmup - 1):
                train_step(trainer)
            synchronize(trainer.device)
            started = time.perf_counter()
            for _ in range(args.steps):
                train_step(trainer)
            synchronize(trainer.device)
            train_s = time.perf_counter() - started
            flops_per_step = training_flops_per_step(trainer)
            sample_images_per_s, sample_flops_per_image = measure_sampling(trainer, args.sample_count, args.seed)
            peak, peak_note = peak_tflops(trainer, torch.get_num_threads())
            fast = [name for name, on in (("compile", trainer.train_forward.active), ("channels_last", trainer.channels_last)) if on]
            train_tflops = flops_per_step * args.steps / train_s / 1e12
            sample_tflops = None if sample_images_per_s is None else sample_flops_per_image * sample_images_per_s / 1e12
            return {
                "preset": preset,
                "model": config.model,
                "image_shape": list(trainer.run.data_format.image_shape),
                "parameters": sum(p.numel() for p in trainer.module.parameters()),
                "device": str(trainer.device),
                "precision": {torch.bfloat16: "bf16 autocast", torch.float16: "fp16 autocast"}.get(trainer.amp_dtype, "fp32"),
                "fast_paths": fast,
                "batch_size": trainer.batch_size,
                "images_per_step": images_per_step,
                "first_step_s": first_step_s,
                "train_steps_per_s": args.steps / train_s,
                "train_images_per_s": args.steps * images_per_step / train_s,
                "train_gflop_per_image": flops_per_step / images_per_step / 1e9,
                "train_tflop_per_s": train_tflops,
                "train_peak_share": None if peak is None else train_tflops / peak,
                "sample_count": args.sample_count,
                "sample_images_per_s": sample_images_per_s,
                "sample_gflop_per_image": None if sample_flops_per_image is None else sample_flops_per_image / 1e9,
                "sample_tflop_per_s": sample_tflops,
                "sample_peak_share": None if peak is None or sample_tflops is None else sample_tflops / peak,
                "peak_tflop_per_s": peak,
                "peak_note": peak_note,
            }
        finally:
            trainer.close()
            if config.train.compile:
                torch._dynamo.reset()  # every model shares GenerativeModel.forward: no recompile limit across presets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", help="presets or model names (default: every model's preset, plus dcgan-64px-shapes)")
    parser.add_argument("--device", default="auto", help="train.device: auto, cpu, cuda, cuda:N")
    parser.add_argument("--batch-size", type=int, default=None, help="training batch size (default: each preset's)")
    parser.add_argument("--steps", type=int, default=20, help="timed training steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed training steps first (>= 1; include compile time)")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"), help="train.precision")
    parser.add_argument("--compile", action="store_true", help="train.compile=true (torch.compile the training forward)")
    parser.add_argument("--channels-last", default="auto", choices=("auto", "yes", "no"), help="train.channels_last")
    parser.add_argument("--sample-count", type=int, default=64, help="images per timed sampling call")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override for every preset (repeatable)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-json", help="append one JSON record (machine, command, rows) to this file")
    args = parser.parse_args()
    if args.steps < 1 or args.warmup < 1 or args.sample_count < 1:
        parser.error("--steps, --warmup and --sample-count must be >= 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    presets = select_presets(args.models)

    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    date = datetime.now(timezone.utc).isoformat(timespec="seconds")
    info = machine()
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    print(f"date: {date}\ncommand: {command}\n{describe_machine(info)}" + (f", GPU {info['gpu']}" if "gpu" in info else "") + "\n", flush=True)

    rows = []
    for preset in presets:
        row = benchmark_preset(preset, args)
        rows.append(row)
        print(f"{preset}: {json.dumps(row)}", file=sys.stderr, flush=True)

    def fmt(value: float | None, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    def share(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.2g}%"

    print(f"training: {args.warmup} warmup + {args.steps} timed steps of the trainer's step; sampling: one warmup call, then one "
          f"timed call of {args.sample_count} images; FLOPs: matmul + conv only (torch.utils.flop_counter)")
    for note in sorted({row["peak_note"] for row in rows}):
        print(f"peak: {note}")
    print()
    print("| preset | image | parameters | device, precision | fast paths | batch | first step s | train steps/s | train images/s | "
          "train GFLOP/image | train TFLOP/s | of peak | sample images/s | sample GFLOP/image | sample TFLOP/s | of peak |")
    print("|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        image = "x".join(map(str, row["image_shape"]))
        print(f"| {row['preset']} | {image} | {row['parameters']:,} | {row['device']}, {row['precision']} | "
              f"{'+'.join(row['fast_paths']) or '-'} | {row['batch_size']} | {row['first_step_s']:.2f} | "
              f"{row['train_steps_per_s']:.2f} | {row['train_images_per_s']:.0f} | {row['train_gflop_per_image']:.3g} | "
              f"{row['train_tflop_per_s']:.3g} | {share(row['train_peak_share'])} | {fmt(row['sample_images_per_s'], '.1f')} | "
              f"{fmt(row['sample_gflop_per_image'], '.3g')} | {fmt(row['sample_tflop_per_s'], '.3g')} | {share(row['sample_peak_share'])} |")
    finish(info, args.out_json, {"benchmark": "throughput", "date": date, "command": command, "settings": vars(args), "rows": rows})


if __name__ == "__main__":
    main()
