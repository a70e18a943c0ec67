"""Search order for dataset files: data_dir, then $GENZOO_DATA, then the cache, then system places."""

from __future__ import annotations

import pytest

from genzoo.data import load_dataset, locate, locate_dataset
from genzoo.errors import DataError


@pytest.fixture
def four_places(tmp_path, make, monkeypatch, isolated_data_env):
    """MNIST copies of different sizes in each place; size tells which one was loaded."""
    places = {
        "data_dir": tmp_path / "explicit",
        "env": tmp_path / "env" / "mnist",  # <root>/<name>/ layout
        "cache": isolated_data_env / "mnist",
        "system": tmp_path / "system",
    }
    for count, directory in zip((11, 12, 13, 14), places.values()):
        make.write_mnist_dir(directory, train=count, test=2)
    monkeypatch.setenv("GENZOO_DATA", str(tmp_path / "env"))
    monkeypatch.setattr(locate, "SYSTEM_PLACES", {"mnist": (str(places["system"]),)})
    return places


def size_loaded(**kwargs) -> int:
    return len(load_dataset("mnist", download=False, **kwargs))


def test_order_data_dir_env_cache_system(four_places, monkeypatch):
    import shutil

    assert size_loaded(data_dir=str(four_places["data_dir"])) == 11
    assert size_loaded() == 12
    monkeypatch.delenv("GENZOO_DATA")
    assert size_loaded() == 13
    shutil.rmtree(four_places["cache"])
    assert size_loaded() == 14
    location = locate_dataset("mnist")
    assert location.found and location.path == str(four_places["system"])
    assert location.searched[-1] == str(four_places["system"])


def test_an_explicit_data_dir_is_used_or_an_error_never_replaced(four_places, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=rf"mnist train files .* not found in {empty}/mnist, {empty}: put the IDX files into --data-dir"):
        size_loaded(data_dir=str(empty))
    with pytest.raises(DataError, match=r"--data-dir .*missing does not exist: check the path"):
        size_loaded(data_dir=str(tmp_path / "missing"))
    (tmp_path / "afile").write_text("x")
    with pytest.raises(DataError, match=r"--data-dir .*afile is a file, not a directory"):
        size_loaded(data_dir=str(tmp_path / "afile"))
    with pytest.raises(DataError, match="does not exist"):
        locate_dataset("mnist", data_dir=str(tmp_path / "missing"))


def test_not_found_location_lists_where_it_looked(tmp_path):
    location = locate_dataset("mnist", data_dir=str(tmp_path))
    assert not location.found and location.path is None
    assert location.searched == (str(tmp_path / "mnist"), str(tmp_path))  # the explicit directory alone
    assert str(locate.cache_dir()) in locate_dataset("mnist").searched


def test_cache_dir_honours_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert locate.cache_dir() == tmp_path / "xdg" / "genzoo"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert locate.cache_dir() == tmp_path / "home" / ".cache" / "genzoo"


def test_locations_of_generated_and_path_datasets(tmp_path):
    assert locate_dataset("shapes").found
    assert not locate_dataset("folder").found and "path=" in locate_dataset("folder").detail
    assert locate_dataset("folder", path=str(tmp_path)).path == str(tmp_path)
    assert not locate_dataset("npz", path=str(tmp_path / "x.npz")).found
