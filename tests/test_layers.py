"""Data flows one way: a layer of genzoo never imports one above it (lazy imports inside functions included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import genzoo

PACKAGE = Path(genzoo.__file__).parent
LAYERS = ("data", "nn", "models", "runs", "metrics", "train", "explore", "report")  # bottom to top: metrics never imports train
ABOVE_EVERY_LAYER = ("demo", "cli")


def _imported_genzoo_parts(layer: str) -> dict[str, set[str]]:
    """{module file: the top-level genzoo parts it imports}, for every module of `layer`."""
    found = {}
    for file in sorted((PACKAGE / layer).rglob("*.py")):
        names = []
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                names.append(node.module or "")
            elif isinstance(node, ast.Import):
                names.extend(alias.name for alias in node.names)
        found[str(file.relative_to(PACKAGE))] = {name.split(".")[1] for name in names if name.startswith("genzoo.")}
    return found


@pytest.mark.parametrize("layer", LAYERS)
def test_no_layer_imports_one_above_it(layer):
    above = set(LAYERS[LAYERS.index(layer) + 1 :]) | set(ABOVE_EVERY_LAYER)
    upward = {module: sorted(parts & above) for module, parts in _imported_genzoo_parts(layer).items() if parts & above}
    assert upward == {}


def test_the_run_directory_paths_need_only_the_standard_library():
    """`genzoo --help` and every layer may find a run's files without importing torch or a model."""
    parts = _imported_genzoo_parts("runs")
    assert {module: parts[module] - {"runs"} for module in ("runs/__init__.py", "runs/layout.py", "runs/metrics_log.py")} == {
        "runs/__init__.py": set(), "runs/layout.py": set(), "runs/metrics_log.py": set(),
    }


def test_load_model_and_the_device_choice_live_below_metrics_and_train():
    from genzoo.runs.device import resolve_device
    from genzoo.runs.model import load_model

    assert load_model.__module__ == "genzoo.runs.model" and resolve_device.__module__ == "genzoo.runs.device"


def test_the_scan_sees_an_upward_import():
    """Guard against a scan that finds nothing: explore really imports metrics (one layer down)."""
    assert any("metrics" in parts for parts in _imported_genzoo_parts("explore").values())
