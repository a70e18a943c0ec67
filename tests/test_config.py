"""Config parsing: overrides, YAML, dataclass coercion and one-line errors."""

from dataclasses import dataclass
from typing import Literal

import pytest

from genzoo.config import build_dataclass, deep_merge, load_yaml, parse_overrides
from genzoo.errors import ConfigError
from genzoo.runs.config import RunConfig, TrainConfig, resolve_run_config, run_config_from_dict


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


@pytest.mark.parametrize(
    "values, message",
    [
        ({"lr": float("nan")}, "train.lr must be > 0 and finite, got nan"),
        ({"lr": float("inf")}, "train.lr must be > 0 and finite, got inf"),
        ({"epochs": float("nan")}, "train.epochs must be > 0 and finite, got nan"),
        ({"betas": [2, 3]}, r"train.betas must both be in \[0, 1\), got \[2.0, 3.0\]"),
        ({"betas": [0.9, float("nan")]}, "train.betas must both be in"),
        ({"weight_decay": -1}, "train.weight_decay must be >= 0 and finite, got -1.0"),
        ({"momentum": float("nan")}, "train.momentum must be >= 0"),
        ({"seed": 2**64}, r"train.seed must be in \[0, 2\*\*63 - 1\], got 18446744073709551616"),
        ({"seed": -1}, "train.seed must be in"),
        ({"checkpoint_every": -1}, r"train.checkpoint_every must be >= 0, got -1 \(0: only at the end of the run\)"),
        ({"eval_every": -5}, "train.eval_every must be >= 0"),
        ({"warmup_steps": -10}, "train.warmup_steps must be >= 0, got -10"),
        ({"log_every": 0}, "train.log_every must be >= 1"),
        ({"eval_batches": 0}, "train.eval_batches must be >= 1"),
        ({"divergence_factor": float("nan")}, "train.divergence_factor must be > 1, got nan"),
        ({"divergence_factor": 0.5}, "train.divergence_factor must be > 1"),
        ({"grad_clip": float("nan")}, "train.grad_clip must be > 0 and finite, got nan"),
        ({"gamma": float("nan")}, r"train.gamma must be in \(0, 1\]"),
        ({"min_lr_ratio": 2}, r"train.min_lr_ratio must be in \[0, 1\]"),
    ],
)
def test_train_config_refuses_values_that_would_break_or_mislead_a_run(values, message):
    with pytest.raises(ConfigError, match=message):
        build_dataclass(TrainConfig, values, section="train")


def test_train_config_accepts_the_edges():
    config = build_dataclass(TrainConfig, {"seed": 2**63 - 1, "divergence_factor": float("inf"), "betas": [0, 0.999],
                                           "checkpoint_every": 0, "warmup_steps": 0, "weight_decay": 0, "gamma": 1})
    assert config.seed == 2**63 - 1 and config.divergence_factor == float("inf")


def test_a_bad_value_is_refused_even_when_a_later_layer_replaces_it():
    with pytest.raises(ConfigError, match="bad value 'abc' for train.batch_size: expected an integer"):
        resolve_run_config(base={"model": "ae"}, overrides={"train": {"batch_size": "abc"}}, flags={"train": {"batch_size": 32}})
    with pytest.raises(ConfigError, match="unknown option 'batchsize' for train"):
        resolve_run_config(base={"model": "ae"}, preset={"train": {"batchsize": 8}}, flags={"train": {"batch_size": 32}})


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
