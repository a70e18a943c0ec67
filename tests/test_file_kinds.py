"""Pickles and torch.save zips are named from their first bytes; no safetensors file is mistaken for one."""

from __future__ import annotations

import json
import pickle

import pytest
import torch
from safetensors.torch import load_file, save_file

from genzoo.file_kinds import unsafe_file_kind


def _safetensors_with_header_bytes(path, header_bytes: int):
    """A real safetensors file whose JSON header is exactly `header_bytes` long (padded metadata)."""
    save_file({"w": torch.zeros(2)}, str(path), metadata={"pad": ""})
    padding = header_bytes - int.from_bytes(path.read_bytes()[:8], "little")
    save_file({"w": torch.zeros(2)}, str(path), metadata={"pad": "x" * padding})
    assert int.from_bytes(path.read_bytes()[:8], "little") == header_bytes
    return path


@pytest.mark.parametrize("header_bytes", [0x80 * 7, 0x0280, 0x0380, 0x4B50])  # first byte 0x80 (then 2..5), or "PK"
def test_safetensors_whose_length_bytes_look_like_a_pickle_or_zip_are_not_refused(tmp_path, header_bytes):
    path = _safetensors_with_header_bytes(tmp_path / "w.safetensors", header_bytes)
    assert unsafe_file_kind(path) is None
    assert torch.equal(load_file(str(path))["w"], torch.zeros(2))


def test_pickles_and_torch_save_files_are_named(tmp_path):
    (tmp_path / "p").write_bytes(pickle.dumps({"a": 1}))
    torch.save({"a": torch.zeros(1)}, tmp_path / "t")
    (tmp_path / "j").write_text(json.dumps({"a": 1}))
    assert unsafe_file_kind(tmp_path / "p") == "a pickle file"
    assert unsafe_file_kind(tmp_path / "t") == "a zip archive such as a torch.save file"
    assert unsafe_file_kind(tmp_path / "j") is None
