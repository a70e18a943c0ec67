"""The run directory: one trainer at a time, no user file overwritten, one line when the disk refuses."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
import threading

import pytest
from genzoo_testing.training import make_config

from genzoo.errors import ConfigError, GenzooError
from genzoo.runs import checkpoint as checkpoint_module
from genzoo.train import logging as logging_module
from genzoo.train import run_directory, train
from genzoo.runs.checkpoint import read_checkpoint_info
from genzoo.train.logging import MetricsLogger, read_metrics
from genzoo.train.run_directory import LOCK_NAME, RunDirectoryBusy, RunDirectoryError, RunDirectoryLock


def _hold_lock_in_another_process(run_dir):
    """A child process that holds RUN_DIR's lock until its stdin closes; returns it once locked."""
    script = textwrap.dedent(
        f"""
        import sys
        from genzoo.train.run_directory import RunDirectoryLock
        lock = RunDirectoryLock({str(run_dir)!r})
        lock.acquire("2026-01-01T00:00:00+00:00")
        print("locked", flush=True)
        sys.stdin.read()
        lock.release()
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "locked"
    return child


def test_a_second_trainer_is_refused_naming_the_holder_and_a_live_temporary_survives(tmp_path):
    run = tmp_path / "run"
    train(make_config(steps=2), run)
    live_temporary = run / "checkpoints" / ".last.safetensors.tmp-999999"  # the live run's checkpoint being written
    live_temporary.write_bytes(b"half")
    before = (run / "metrics.jsonl").read_bytes()
    child = _hold_lock_in_another_process(run)
    try:
        for resume, config in ((True, None), (False, make_config(steps=2))):
            with pytest.raises(RunDirectoryBusy, match=rf"in use by another genzoo training \(process {child.pid} on .* since 2026"):
                train(config, run, resume=resume)
        assert live_temporary.read_bytes() == b"half"
        assert (run / "metrics.jsonl").read_bytes() == before
        with pytest.raises(RunDirectoryBusy):
            train(make_config(steps=2), tmp_path / "run" / ".." / "run", resume=False)
    finally:
        child.stdin.close()
        child.wait(timeout=30)
    assert not (run / LOCK_NAME).exists()  # released by the holder
    result = train(None, run, resume=True)  # now free (already finished: nothing to do)
    assert result.status == "finished"


def test_a_lock_file_left_by_a_dead_process_is_taken_over(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    (run / LOCK_NAME).write_text(json.dumps({"pid": int(dead), "host": "here", "started": "yesterday"}))
    result = train(make_config(steps=2), run)
    assert result.status == "finished" and result.step == 2
    assert not (run / LOCK_NAME).exists()


def test_the_lock_is_held_during_training_and_released_after(tmp_path, monkeypatch):
    run = tmp_path / "run"
    seen = []
    original = checkpoint_module.write_checkpoint

    def probe(path, tensors, metadata):
        other = RunDirectoryLock(run)
        with pytest.raises(RunDirectoryBusy, match=f"process {os.getpid()} "):
            other.acquire("now")
        seen.append(True)
        return original(path, tensors, metadata)

    monkeypatch.setattr("genzoo.train.trainer.write_checkpoint", probe)
    train(make_config(steps=2), run)
    assert seen
    with RunDirectoryLock(run) as lock:
        lock.acquire("now")


def test_a_fresh_run_refuses_a_directory_of_other_files_and_changes_nothing(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "config.yaml").write_text("my: settings\n")
    (folder / "notes.txt").write_text("keep me\n")
    with pytest.raises(ConfigError, match=r"mine is not empty and holds no genzoo run \(it holds: config.yaml, notes.txt\)"):
        train(make_config(steps=2), folder)
    assert sorted(p.name for p in folder.iterdir()) == ["config.yaml", "notes.txt"]
    assert (folder / "config.yaml").read_text() == "my: settings\n"


def test_a_fresh_run_may_use_an_empty_directory_or_a_genzoo_run_without_checkpoint(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert train(make_config(steps=2), empty).status == "finished"
    attempt = tmp_path / "attempt"
    train(make_config(steps=2), attempt)
    for name in ("last", "best"):
        (attempt / "checkpoints" / f"{name}.safetensors").unlink(missing_ok=True)  # as if it died before saving
    assert train(make_config(steps=4), attempt).step == 4
    assert max(r["step"] for r in read_metrics(attempt / "metrics.jsonl")) == 4


def test_out_naming_a_file_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("x")
    for out in (tmp_path / "afile", tmp_path / "afile" / "run"):
        with pytest.raises(ConfigError, match="is a file, not a directory"):
            train(make_config(steps=2), out)


def test_a_failed_setup_leaves_no_directory_behind(tmp_path):
    with pytest.raises(GenzooError):
        train(make_config(steps=2, batch_size=128), tmp_path / "new")  # 64 images: fewer than one batch
    assert not (tmp_path / "new").exists()


def test_disk_full_while_saving_is_one_line_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    run = tmp_path / "run"
    writes = []
    real_write = checkpoint_module._write_file

    def fill_the_disk(path, data):
        writes.append(path)
        if len(writes) > 1:
            with open(path, "wb") as handle:
                handle.write(data[:100])
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(path, data)

    monkeypatch.setattr(checkpoint_module, "_write_file", fill_the_disk)
    with pytest.raises(RunDirectoryError) as raised:
        train(make_config(steps=6, checkpoint_every=2), run)
    message = str(raised.value)
    assert "\n" not in message
    assert "last.safetensors: No space left on device" in message
    assert "is intact: free some space, then continue with `genzoo train --resume --out" in message
    assert read_checkpoint_info(run / "checkpoints" / "last.safetensors").step == 2
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["last.safetensors"]  # no half-written temporary
    assert not (run / LOCK_NAME).exists()


def test_a_read_only_directory_at_resume_is_one_line(tmp_path, monkeypatch):
    run = tmp_path / "run"
    train(make_config(steps=2), run)
    real_open = os.open

    def read_only(path, *args, **kwargs):
        if str(path).endswith(LOCK_NAME):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(run_directory.os, "open", read_only)
    with pytest.raises(RunDirectoryError, match=r"Read-only file system; .*run is not writable: train into a writable directory"):
        train(None, run, resume=True)


def test_a_failed_metrics_write_leaves_no_torn_line(tmp_path, monkeypatch):
    logger = MetricsLogger(tmp_path, tensorboard=False)
    logger.log({"step": 1, "split": "train", "loss": 1.0})

    class FullDisk:
        """A file whose first write is cut short after 10 bytes and whose next one finds the disk full."""

        def __init__(self, path, mode, buffering=-1):
            self.file = open(path, mode, buffering=buffering)
            self.writes = 0

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

        def seek(self, *args):
            return self.file.seek(*args)

        def truncate(self, size):
            return self.file.truncate(size)

        def write(self, data):
            self.writes += 1
            if self.writes == 1:
                return self.file.write(bytes(data)[:10])
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(logging_module, "open", FullDisk, raising=False)
    with pytest.raises(OSError, match="metrics.jsonl"):
        logger.log({"step": 2, "split": "train", "loss": 2.0})
    monkeypatch.undo()
    logger.log({"step": 3, "split": "train", "loss": 3.0})
    assert [r["step"] for r in read_metrics(tmp_path / "metrics.jsonl")] == [1, 3]
    assert (tmp_path / "metrics.jsonl").read_text().count("\n") == 2


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_tensorboard_thread_failing_on_the_disk_prints_no_traceback(tmp_path, monkeypatch, capfd, caplog):
    pytest.importorskip("tensorboard")
    from tensorboard.summary.writer import record_writer

    def disk_full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    logger = MetricsLogger(tmp_path)
    assert logger._writer is not None
    monkeypatch.setattr(record_writer.RecordWriter, "write", disk_full)  # the disk fills during the run
    logger.log({"step": 1, "split": "train", "loss": 1.0})
    for thread in threading.enumerate():
        if type(thread).__module__.startswith("tensorboard."):
            thread.join(timeout=10)
    logger.log({"step": 2, "split": "train", "loss": 2.0})
    logger.close()
    assert [r["step"] for r in read_metrics(tmp_path / "metrics.jsonl")] == [1, 2]
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Exception in thread" not in err
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        "TensorBoard logging stopped ([Errno 28] No space left on device); metrics.jsonl goes on"
    ]


def test_a_filesystem_without_locks_trains_unprotected_with_a_warning(tmp_path, monkeypatch, caplog):
    def no_locks(descriptor, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(run_directory.fcntl, "flock", no_locks)
    result = train(make_config(steps=2), tmp_path / "run")
    assert result.status == "finished"
    assert any("nothing stops a second process" in record.getMessage() for record in caplog.records)
    assert not (tmp_path / "run" / LOCK_NAME).exists()
