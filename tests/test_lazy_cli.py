"""`genzoo --help` and `genzoo models` answer at once: no torch, no compiler stack on the way."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from genzoo.model_catalog import BUILT_IN_MODELS

PROBE = """
import contextlib, io, json, sys
from genzoo.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    try:
        status = main({argv!r})
    except SystemExit as exit:  # argparse's --help
        status = exit.code
heavy = sorted(name for name in ("torch", "torch._dynamo", "numpy") if name in sys.modules)
print(json.dumps({{"status": status, "heavy": heavy, "lines": len(out.getvalue().splitlines())}}))
"""


@pytest.mark.parametrize("argv", [["--help"], ["models"], ["train", "--help"], []])
def test_cli_answers_without_importing_torch(argv):
    result = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, timeout=120, check=True)
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["heavy"] == [], f"{argv} imported {answer['heavy']}"
    assert answer["lines"] > 3
    assert answer["status"] in (0, 2)  # no command: help and exit 2


def test_importing_a_model_does_not_load_the_compiler_stack():
    probe = "import sys, genzoo.models; print('torch._dynamo' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "False"


def test_catalog_matches_the_registry():
    from genzoo.models import MODEL_REGISTRY

    assert set(BUILT_IN_MODELS) == set(MODEL_REGISTRY)
    for name, entry in BUILT_IN_MODELS.items():
        cls = MODEL_REGISTRY[name]
        assert entry.summary == cls.__doc__.strip().splitlines()[0], name
        assert entry.capabilities == tuple(cls.capabilities.names()), name


def test_lazy_package_attributes():
    import genzoo

    model = genzoo.build_model("ae", (1, 8, 8), latent_dim=2, architecture="mlp", hidden=8)
    assert "ae" in genzoo.list_models() and model.name == "ae"
    with pytest.raises(AttributeError):
        genzoo.no_such_thing  # noqa: B018


def test_budgets_spelled_alike_in_the_cli_and_the_presets():
    from genzoo import cli, presets

    assert cli.BUDGETS == presets.BUDGETS
