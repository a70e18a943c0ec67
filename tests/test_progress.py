"""Progress display: a bar on a terminal, a line every few seconds in logs and CI."""

from __future__ import annotations

import io

from tqdm.auto import tqdm

from genzoo import progress
from genzoo.progress import LineProgress, progress_bar, progress_iter


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_one_line_per_interval_not_per_step(monkeypatch):
    clock = iter(range(0, 10_000))  # one second per call of time.monotonic
    monkeypatch.setattr(progress.time, "monotonic", lambda: float(next(clock)))
    log = io.StringIO()
    bar = progress_bar(total=100, initial=0, desc="ae", enabled=True, stream=log)
    assert isinstance(bar, LineProgress)
    for step in range(100):
        bar.update(1)
        bar.set_postfix(loss=f"{1.0 / (step + 1):.4g}", refresh=False)
    bar.close()
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert len(lines) == 100 // 10  # 100 steps at 1 s each, a line every 10 s (the last one at step 100)
    assert lines[0] == "ae: step 10/100 (10%), 1 step/s, eta 1m30s, loss=0.1111"
    assert lines[-1] == "ae: step 100/100 (100%), 1 step/s, loss=0.0101"  # the loss logged last


def test_a_short_run_still_prints_its_last_line_and_a_resumed_one_counts_from_its_start(monkeypatch):
    monkeypatch.setattr(progress.time, "monotonic", iter([0.0, 1.0, 2.0, 4.0]).__next__)
    log = io.StringIO()
    bar = LineProgress(total=50, initial=40, desc="vae", stream=log)
    bar.update(1)
    bar.update(1)
    bar.close()
    assert log.getvalue() == "vae: step 42/50 (84%), 0.5 step/s, eta 0m16s\n"


def test_a_terminal_gets_the_bar_and_disabled_prints_nothing():
    assert isinstance(progress_bar(total=3, initial=0, desc="ae", enabled=True, stream=Terminal()), tqdm)
    quiet = io.StringIO()
    bar = progress_bar(total=3, initial=0, desc="ae", enabled=False, stream=quiet)
    bar.update(3)
    bar.close()
    assert quiet.getvalue() == ""


def test_progress_iter_yields_every_item_and_reports_in_its_unit(monkeypatch):
    clock = iter(range(0, 10_000, 4))  # 4 s per call: a line every few items
    monkeypatch.setattr(progress.time, "monotonic", lambda: float(next(clock)))
    log = io.StringIO()
    assert list(progress_iter(range(7), total=7, desc="likelihood", unit="batch", stream=log)) == list(range(7))
    lines = log.getvalue().splitlines()
    assert lines and all(line.startswith("likelihood: batch ") for line in lines)
    assert lines[-1].startswith("likelihood: batch 7/7 (100%)") and "batch/s" in lines[-1]
    assert list(progress_iter(range(3), total=3, desc="x", enabled=False, stream=log)) == [0, 1, 2]


def test_line_progress_takes_the_bar_calls_genzoo_makes():
    log = io.StringIO()
    with progress_bar(total=2, desc="a", unit="row", stream=log) as bar:
        bar.set_description("sampling pixelcnn")
        bar.update(2)
    assert log.getvalue() == "sampling pixelcnn: row 2/2 (100%)\n" or log.getvalue().startswith("sampling pixelcnn: row 2/2 (100%), ")
