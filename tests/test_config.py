"""Config parsing: overrides, YAML, dataclass coercion and one-line errors."""

from dataclasses import dataclass
from typing import Literal

import pytest

from genzoo.config import build_dataclass, deep_merge, load_yaml, parse_overrides
from genzoo.errors import ConfigError
from genzoo.train.config import RunConfig, TrainConfig, resolve_run_config, run_config_from_dict


@dataclass(frozen=True)
class Example:
    mode: Literal["a", "b"] = "a"
    width: int = 4
    rate: float = 0.1
    pair: tuple[float, float] = (0.0, 1.0)
    flag: bool = False
    maybe: int | None = None


def test_parse_overrides_nests_and_types_values():
    parsed = parse_overrides(["train.lr=3e-4", "train.betas=[0.5, 0.9]", "model.name=ae", "data.options.size=64", "train.ema_decay=null"])
    assert parsed == {"train": {"lr": 3e-4, "betas": [0.5, 0.9], "ema_decay": None}, "model": {"name": "ae"}, "data": {"options": {"size": 64}}}


@pytest.mark.parametrize("bad", ["lr", "=3", "train.lr"])
def test_parse_overrides_rejects_malformed(bad):
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides([bad])


def test_build_dataclass_coerces_types():
    built = build_dataclass(Example, {"mode": "b", "width": "8", "rate": "1e-2", "pair": [1, 2], "flag": "true", "maybe": 3.0})
    assert built == Example(mode="b", width=8, rate=0.01, pair=(1.0, 2.0), flag=True, maybe=3)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"mode": "c"}, "bad value 'c' for example.mode: choose one of a, b"),
        ({"width": 2.5}, "expected an integer"),
        ({"rate": "fast"}, "expected a number"),
        ({"pair": [1, 2, 3]}, "expected 2 items"),
        ({"flag": "maybe"}, "expected true or false"),
        ({"widht": 3}, "unknown option 'widht' for example: choose one of flag, maybe, mode, pair, rate, width"),
    ],
)
def test_build_dataclass_errors_are_one_line_and_name_the_fix(values, message):
    with pytest.raises(ConfigError) as caught:
        build_dataclass(Example, values, section="example")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unquoted_yes_no_reach_yes_no_choices():
    """YAML 1.1 reads `train.on_device_data=yes` as True; a Literal offering "yes"/"no" takes it back."""
    parsed = parse_overrides(["train.on_device_data=yes", "train.channels_last=no"])
    config = run_config_from_dict({"model": "ae", **parsed})
    assert config.train.on_device_data == "yes" and config.train.channels_last == "no"
    with pytest.raises(ConfigError, match="bad value True for mode: choose one of a, b"):
        build_dataclass(Example, {"mode": True})


def test_deep_merge_keeps_untouched_keys():
    assert deep_merge({"a": {"x": 1, "y": 2}, "b": 1}, {"a": {"y": 3}}) == {"a": {"x": 1, "y": 3}, "b": 1}


def test_run_config_round_trips_through_its_dict():
    config = resolve_run_config(
        preset={"model": {"name": "ae", "latent_dim": 8}, "data": {"name": "shapes", "preprocess": ["binarize-dynamic"]}},
        overrides=parse_overrides(["train.steps=10", "train.lr=0.01"]),
    )
    assert isinstance(config, RunConfig)
    assert config.model_options == {"latent_dim": 8}
    assert config.data.preprocess == ("binarize-dynamic",)
    assert run_config_from_dict(config.to_dict()) == config


def test_layers_have_increasing_priority():
    config = resolve_run_config(
        base={"model": "ae", "train": {"lr": 1.0, "batch_size": 8}},
        preset={"train": {"lr": 2.0}},
        overrides={"train": {"lr": 3.0}},
        flags={"train": {"lr": 4.0}},
    )
    assert config.train.lr == 4.0 and config.train.batch_size == 8


def test_train_config_validation():
    with pytest.raises(ConfigError, match="only one"):
        build_dataclass(TrainConfig, {"steps": 10, "epochs": 1})
    with pytest.raises(ConfigError, match="train.lr must be > 0"):
        build_dataclass(TrainConfig, {"lr": 0})
    with pytest.raises(ConfigError, match="unknown config section 'trian'"):
        run_config_from_dict({"model": "ae", "trian": {}})
    with pytest.raises(ConfigError, match="no model given"):
        run_config_from_dict({"data": "shapes"})


def test_load_yaml_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_yaml(str(tmp_path / "missing.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_yaml(str(bad))
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_yaml(str(listing))
