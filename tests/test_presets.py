"""Every preset in configs/ resolves to a valid run config and builds its model for its dataset."""

from pathlib import Path

import pytest

from genzoo.cli import PRESET_DIR
from genzoo.config import load_yaml
from genzoo.data import Preprocessor, dataset_info
from genzoo.models import build_model_from_format, model_class
from genzoo.train.config import resolve_run_config

PRESETS = sorted(PRESET_DIR.glob("*.yaml"))


def test_presets_exist():
    assert len(PRESETS) >= 5


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_preset_builds_its_model(path: Path):
    config = resolve_run_config(preset=load_yaml(str(path)))
    assert path.stem.startswith(config.model + "-") and path.stem.endswith(config.data.name), "name presets MODEL-DATASET.yaml"
    assert config.train.steps or config.train.epochs, "a preset states its training budget"
    info = dataset_info(config.data.name, **config.data.options)
    steps = config.data.preprocess if config.data.preprocess is not None else model_class(config.model).default_preprocess
    data_format = Preprocessor(steps).output_format(info)
    model = build_model_from_format(config.model, data_format, config.model_options)
    assert sum(p.numel() for p in model.parameters()) > 0
