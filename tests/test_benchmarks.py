"""benchmarks/run_all.py only passes options that each benchmark script accepts, at every budget."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
import run_all  # noqa: E402


def _options_of(script: str) -> set[str]:
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return set(re.findall(r"(--[a-z][a-z0-9-]*)", done.stdout))


@pytest.fixture(scope="module")
def accepted() -> dict[str, set[str]]:
    return {script: _options_of(script) for script in sorted({b.script for b in run_all.BENCHMARKS})}


@pytest.mark.parametrize("budget", run_all.BUDGETS)
def test_every_command_uses_only_options_its_script_accepts(budget, accepted, tmp_path):
    args = argparse.Namespace(budget=budget, threads=1, device="cpu")
    for benchmark in run_all.BENCHMARKS:
        command = run_all.command_for(benchmark, args, tmp_path)
        used = {a for a in command[2:] if a.startswith("--")}
        unknown = used - accepted[benchmark.script]
        assert not unknown, f"{benchmark.name} ({budget}) passes {sorted(unknown)} that {benchmark.script} does not take"


def test_results_file_lists_failures_and_tables(tmp_path):
    benchmark = run_all.Benchmark("demo", "demo.py", {"smoke": []})
    (tmp_path / "demo.md").write_text("| a |\n|---|\n| 1 |\n")
    outcome = run_all.Outcome(benchmark, [sys.executable, str(BENCHMARKS / "demo.py")], "failed (exit 3, see demo.log)", 90.0)
    text = run_all.write_results([outcome], tmp_path, "# header").read_text()
    assert "| demo | failed (exit 3, see demo.log) | 1.5 |" in text and "## demo" in text and "| 1 |" in text
