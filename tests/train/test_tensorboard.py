"""TensorBoard logging, when the optional package is installed (it is part of the [dev] extra)."""

import pytest

from genzoo.train.logging import MetricsLogger, read_metrics

tensorboard = pytest.importorskip("tensorboard")


def test_logger_writes_the_same_scalars_to_jsonl_and_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logger = MetricsLogger(tmp_path)
    for step, loss in ((1, 3.0), (2, 2.5), (3, 2.0)):
        logger.log({"step": step, "split": "train", "loss": loss, "lr": 0.1})
    logger.log({"step": 3, "split": "test", "loss": 2.2})
    logger.close()
    assert [r["loss"] for r in read_metrics(tmp_path / "metrics.jsonl")] == [3.0, 2.5, 2.0, 2.2]
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("train/loss")] == [(1, 3.0), (2, 2.5), (3, 2.0)]
    assert [(e.step, round(e.value, 6)) for e in events.Scalars("test/loss")] == [(3, 2.2)]
