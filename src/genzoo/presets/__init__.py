"""Training presets shipped with genzoo: YAML files named MODEL-DATASET.yaml (the paper's size) and
MODEL-DATASET-cpu.yaml (minutes on a 2-core CPU). The source tree's `configs/` links here.

    resolve_preset(None, "vae", "fashion-mnist", budget="cpu") -> ({...}, Path(".../vae-fashion-mnist-cpu.yaml"))
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genzoo.config import load_yaml
from genzoo.errors import ConfigError

PRESET_DIR = Path(__file__).resolve().parent
BUDGETS = ("paper", "cpu")  # --budget: the preset's suffix ("" or "-cpu")
CPU_SUFFIX = "-cpu"


def preset_names(suffix: str = "") -> list[str]:
    """Every shipped preset's name (ending in `suffix`), sorted."""
    return sorted(path.stem for path in PRESET_DIR.glob(f"*{suffix}.yaml"))


def resolve_preset(name: str | None, model: str | None, dataset: str | None, budget: str = "paper") -> tuple[dict[str, Any], Path | None]:
    """The YAML preset to start from: an explicit file or name, else MODEL-DATASET[-cpu].yaml if shipped.

    budget "cpu" asks for the CPU-sized preset and is an error when the pair has none.
    """
    if name:
        path = Path(name)
        if not path.exists():
            path = PRESET_DIR / (name if name.endswith((".yaml", ".yml")) else f"{name}.yaml")
            if not path.exists():
                raise ConfigError(f"config {name!r} is neither a file nor a preset: give a YAML path or one of {', '.join(preset_names()) or 'none'}")
        return load_yaml(str(path)), path
    suffix = CPU_SUFFIX if budget == "cpu" else ""
    candidate = PRESET_DIR / f"{model}-{dataset}{suffix}.yaml"
    if model and dataset and candidate.exists():
        return load_yaml(str(candidate)), candidate
    if suffix:
        available = ", ".join(name.removesuffix(suffix) for name in preset_names(suffix)) or "none"
        raise ConfigError(f"--budget cpu: no CPU preset for {model} on {dataset}; CPU presets exist for {available} (or drop --budget)")
    return {}, None
