"""What every benchmark script shares: the machine a timing was taken on, and its record.

Imported by the scripts beside it (`sys.path` holds this folder when a script runs).
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

import torch


def machine() -> dict[str, object]:
    """CPU model, cores, torch version and threads, load average: the context of every timing."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
    }


def describe_machine(info: dict[str, object]) -> str:
    load = ", ".join(f"{value:.2f}" for value in info["load_average"])  # type: ignore[union-attr]
    return (
        f"machine: {info['cpu']}, {info['cores']} cores, torch {info['torch']}, {info['threads']} thread(s), "
        f"python {info['python']}, load average {load}"
    )


def finish(info: dict[str, Any], out_json: str | None, record: dict[str, Any]) -> None:
    """Print the load average at the end and append `record` (plus the machine) to `out_json`."""
    info["load_average_end"] = os.getloadavg()
    print(f"\nload average at the end: {', '.join(f'{v:.2f}' for v in info['load_average_end'])}")
    if out_json:
        with open(out_json, "a") as handle:
            handle.write(json.dumps({**record, "machine": info}) + "\n")
