"""Every preset in configs/ resolves to a valid run config and builds its model for its dataset."""

from pathlib import Path

import pytest
import torch

from genzoo.presets import PRESET_DIR
from genzoo.config import load_yaml
from genzoo.data import Preprocessor, dataset_info
from genzoo.models import build_model_from_format, model_class
from genzoo.train.run import task_format
from genzoo.runs.config import resolve_run_config

PRESETS = sorted(PRESET_DIR.glob("*.yaml"))
CPU_SUFFIX = "-cpu"  # MODEL-DATASET-cpu.yaml: sized for minutes on a 2-core CPU, beside the paper-size MODEL-DATASET.yaml
CPU_PRESETS = sorted(PRESET_DIR.glob(f"*{CPU_SUFFIX}.yaml"))


def test_presets_exist():
    assert len(PRESETS) >= 5


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_preset_builds_its_model(path: Path):
    config = resolve_run_config(preset=load_yaml(str(path)))
    name = path.stem.removesuffix(CPU_SUFFIX)
    assert name.startswith(config.model + "-") and name.endswith(config.data.name), "name presets MODEL-DATASET[-cpu].yaml"
    assert config.train.steps or config.train.epochs, "a preset states its training budget"
    model, _, _ = _model_and_config(path)
    assert sum(p.numel() for p in model.parameters()) > 0


# ---- CPU-budget presets ------------------------------------------------------------------
# The best training throughput measured on one core of the reference 2-core Xeon is about
# 0.1 TFLOP/s (docs/benchmarks.md, "Throughput of every model"); 30 minutes on both cores at that
# rate bounds what a CPU preset may ask for. The paper-size PixelCNN preset asks for ~4,500 TFLOP.
CPU_BUDGET_TFLOP = 0.1 * 2 * 30 * 60


def _model_and_config(path: Path):
    config = resolve_run_config(preset=load_yaml(str(path)))
    info = dataset_info(config.data.name, **config.data.options)
    steps = config.data.preprocess if config.data.preprocess is not None else model_class(config.model).default_preprocess
    preprocessor = Preprocessor(steps)
    data_format = task_format(preprocessor.output_format(info), config.data.task, config.model)
    return build_model_from_format(config.model, data_format, config.model_options), config, preprocessor


def _training_flops_per_image(model, preprocessor) -> float:
    """Matmul + conv FLOPs of forward and backward, every phase and repeat, per training image."""
    from torch.utils.flop_counter import FlopCounterMode

    batch = 2
    fmt = model.data_format
    images = torch.randint(0, 256, (batch, *fmt.image_shape), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    x = preprocessor(images, torch.Generator().manual_seed(1))  # (B, C, H, W)
    y = torch.arange(batch) % fmt.num_classes if fmt.num_classes else None
    counter = FlopCounterMode(display=False)
    with counter:
        for phase in model.training_phases():
            for _ in range(phase.repeats):
                model.loss(x, y, phase.name)["loss"].mean().backward()
    return counter.get_total_flops() / batch


def test_cpu_presets_exist():
    assert len(CPU_PRESETS) >= 4


@pytest.mark.parametrize("path", CPU_PRESETS, ids=lambda p: p.stem)
def test_cpu_preset_documents_its_command_and_states_steps(path: Path):
    config = resolve_run_config(preset=load_yaml(str(path)))
    header = [line for line in path.read_text().splitlines() if line.startswith("#")]
    assert any(f"genzoo train {config.model} " in line and f"--config {path.stem}" in line for line in header), (
        "the header comment shows the command that selects the preset by name")
    assert config.train.steps and config.train.epochs is None, "a CPU budget is stated in steps, so its time is predictable"


@pytest.mark.parametrize("path", CPU_PRESETS, ids=lambda p: p.stem)
def test_cpu_preset_fits_the_cpu_budget(path: Path):
    model, config, preprocessor = _model_and_config(path)
    per_image = _training_flops_per_image(model, preprocessor)
    assert per_image > 0
    total_tflop = per_image * config.train.batch_size * config.train.steps / 1e12
    assert total_tflop <= CPU_BUDGET_TFLOP, f"{path.stem} asks {total_tflop:.0f} TFLOP, over the {CPU_BUDGET_TFLOP:.0f} of 30 min on 2 cores"


def test_cpu_budget_check_rejects_a_paper_size_preset():
    """The budget above is a real bound: the paper-size PixelCNN preset does not fit it."""
    model, config, preprocessor = _model_and_config(PRESET_DIR / "pixelcnn-fashion-mnist.yaml")
    steps = config.train.epochs * 60_000 / config.train.batch_size
    assert _training_flops_per_image(model, preprocessor) * config.train.batch_size * steps / 1e12 > CPU_BUDGET_TFLOP


@pytest.mark.parametrize("path", CPU_PRESETS, ids=lambda p: p.stem)
def test_cpu_preset_is_found_by_name(path: Path):
    from genzoo.presets import resolve_preset

    config = resolve_run_config(preset=load_yaml(str(path)))
    found, found_path = resolve_preset(path.stem, config.model, config.data.name)
    assert found_path == path and found == load_yaml(str(path))


def test_presets_ship_inside_the_package():
    import tomllib

    import genzoo

    package_dir = Path(genzoo.__file__).parent
    assert PRESET_DIR.parent == package_dir and len(list(PRESET_DIR.glob("*.yaml"))) >= 5
    pyproject = tomllib.loads((package_dir.parents[1] / "pyproject.toml").read_text())
    assert "presets/*.yaml" in pyproject["tool"]["setuptools"]["package-data"]["genzoo"]


def test_every_demo_run_names_a_shipped_preset():
    from genzoo.demo import DEMO_GROUPS

    shipped = {path.stem for path in PRESETS}
    assert {run.preset for runs in DEMO_GROUPS.values() for run in runs} <= shipped
