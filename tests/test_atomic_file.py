"""genzoo.atomic_file: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import errno
import os

import pytest

from genzoo import atomic_file
from genzoo.atomic_file import atomic_output, atomic_write, temporary_path


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = atomic_write(tmp_path / "run.json", "old")
    with pytest.raises(KeyboardInterrupt), atomic_output(path) as temporary:
        temporary.write_bytes(b"half of the new")
        raise KeyboardInterrupt  # Ctrl-C in the middle of the write
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


def test_an_os_error_without_a_file_name_is_given_the_destination(tmp_path):
    path = tmp_path / "deep" / "metrics.jsonl"
    with pytest.raises(OSError) as raised, atomic_output(path):
        raise OSError(errno.ENOSPC, "No space left on device")  # as a failed write() raises it
    assert raised.value.filename == str(path)
    assert f"{path}" in str(raised.value)
    assert list(path.parent.iterdir()) == []


def test_the_temporary_is_a_hidden_file_beside_the_destination(tmp_path):
    path = tmp_path / "last.safetensors"
    with atomic_output(path) as temporary:
        assert temporary == temporary_path(path) == tmp_path / f".last.safetensors.tmp-{os.getpid()}"
        temporary.write_bytes(b"new")
    assert path.read_bytes() == b"new"
    assert not temporary.exists()


def _record_fsyncs(monkeypatch):
    """Every fsync'd descriptor's path, in order."""
    names: dict[int, str] = {}
    synced: list[str] = []
    real_open = os.open

    def opening(path, flags, *args, **kwargs):
        descriptor = real_open(path, flags, *args, **kwargs)
        names[descriptor] = str(path)
        return descriptor

    monkeypatch.setattr(atomic_file.os, "open", opening)
    monkeypatch.setattr(atomic_file.os, "fsync", lambda descriptor: synced.append(names[descriptor]))
    return synced


def test_fsync_flushes_the_new_content_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    synced = _record_fsyncs(monkeypatch)
    renamed = []
    real_replace = os.replace
    monkeypatch.setattr(atomic_file.os, "replace", lambda a, b: (renamed.append(len(synced)), real_replace(a, b)))
    path = atomic_write(tmp_path / "metrics.jsonl", '{"step": 1}\n', fsync=True)
    assert path.read_text() == '{"step": 1}\n'
    assert synced == [str(temporary_path(path)), str(tmp_path)]
    assert renamed == [1]  # the content is on the disk before the name points at it


def test_without_fsync_nothing_is_flushed(tmp_path, monkeypatch):
    synced = _record_fsyncs(monkeypatch)
    atomic_write(tmp_path / "config.yaml", "model: vae\n")
    assert synced == []
