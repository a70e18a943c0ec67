"""The one metrics.jsonl reader: a log torn by a crash stays readable everywhere."""

from __future__ import annotations

import json

from genzoo.runs import RunDir, read_metrics

RECORDS = [
    {"step": 1, "split": "train", "loss": 3.0, "images_per_s": 100.0, "time": 1.0},
    {"step": 2, "split": "train", "loss": 2.5, "images_per_s": 300.0, "time": 2.0},
]


def _torn_log(run_dir, tail: bytes) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    whole = "".join(json.dumps(record) + "\n" for record in RECORDS).encode()
    RunDir(run_dir).metrics_log.write_bytes(whole + tail)


def test_a_torn_last_line_is_skipped(tmp_path):
    _torn_log(tmp_path, b'{"step": 3, "split": "tra')
    assert read_metrics(tmp_path / "metrics.jsonl") == RECORDS


def test_a_last_line_torn_inside_a_utf8_character_is_skipped(tmp_path):
    _torn_log(tmp_path, '{"step": 3, "note": "\u00e9'.encode()[:-1])  # half of a two-byte character
    assert read_metrics(tmp_path / "metrics.jsonl") == RECORDS


def test_a_run_directory_reads_its_log_and_a_missing_log_is_empty(tmp_path):
    _torn_log(tmp_path / "run", b"")
    assert read_metrics(tmp_path / "run") == RunDir(tmp_path / "run").read_metrics() == RECORDS
    assert read_metrics(tmp_path / "never-trained") == []


def test_lines_that_are_not_records_are_skipped(tmp_path):
    _torn_log(tmp_path, b"\n[1, 2]\n")
    assert read_metrics(tmp_path) == RECORDS


def test_every_layer_reads_through_the_same_reader(tmp_path):
    """The report's reader used to crash on a torn line; the training throughput reads the same log."""
    from genzoo.metrics.evaluate import training_throughput
    from genzoo.train import logging as train_logging

    assert train_logging.read_metrics is read_metrics
    _torn_log(tmp_path, b'{"step": 3, "images_per_s": 9')
    throughput = training_throughput(tmp_path)
    assert throughput["training_records"] == 2
    assert throughput["training_images_per_s"] == 200.0  # median of 100 and 300
    assert throughput["training_images_per_s_last"] == 300.0


def test_a_resumed_log_is_trimmed_past_a_torn_line(tmp_path):
    from genzoo.train.logging import MetricsLogger

    _torn_log(tmp_path, b'{"step": 3, "spl')
    logger = MetricsLogger(tmp_path, tensorboard=False)
    logger.truncate_after(1)
    assert RunDir(tmp_path).metrics_log.read_text() == json.dumps(RECORDS[0]) + "\n"
