"""Image-folder datasets: labels from sub-folders, splits, resizing, streaming and errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from genzoo.data import ImageDataset, StreamingImageDataset, dataset_info, load_dataset
from genzoo.errors import ConfigError, DataError


def write_image(path, colour, size=(12, 8), mode="RGB", fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path, format=fmt)


def class_tree(root, counts={"cats": 3, "dogs": 2}):
    colours = {"cats": (200, 10, 10), "dogs": (10, 200, 10)}
    for name, count in counts.items():
        for i in range(count):
            suffix = ".png" if i % 2 == 0 else ".jpg"
            write_image(root / name / f"{i}{suffix}", colours[name])
    return root


def test_labels_from_subfolders_with_train_test_split(tmp_path):
    class_tree(tmp_path / "train")
    class_tree(tmp_path / "test", {"cats": 1, "dogs": 1})
    (tmp_path / "train" / "cats" / "notes.txt").write_text("ignored")
    train = load_dataset("folder", "train", path=str(tmp_path), size=8, progress=False)
    test = load_dataset("folder", "test", path=str(tmp_path), size=8, progress=False)
    assert isinstance(train, ImageDataset) and train.images.shape == (5, 3, 8, 8)
    assert train.info.class_names == ("cats", "dogs") and train.info.num_classes == 2
    assert train.labels.tolist() == [0, 0, 0, 1, 1] and test.labels.tolist() == [0, 1]
    cats = train.images[train.labels == 0].float()
    assert (cats[:, 0] > 150).all() and (cats[:, 1] < 60).all()  # red survives (JPEG within tolerance)


def test_unlabelled_top_level_images_and_grayscale_resize_crop(tmp_path):
    # A 20x10 image: left half black, right half white -> after resize to 8 (shorter side) and
    # center crop, both halves remain.
    image = np.zeros((10, 20), np.uint8)
    image[:, 10:] = 255
    for i in range(10):
        Image.fromarray(image).save(tmp_path / f"{i:02d}.png")
    info = dataset_info("folder", path=str(tmp_path), size=8, channels=1, test_fraction=0.2)
    assert info.num_classes is None and info.splits == ("train", "test") and info.image_shape == (1, 8, 8)
    train = load_dataset("folder", "train", path=str(tmp_path), size=8, channels=1, test_fraction=0.2, progress=False)
    test = load_dataset("folder", "test", path=str(tmp_path), size=8, channels=1, test_fraction=0.2, progress=False)
    assert train.labels is None and len(train) == 8 and len(test) == 2
    row = train.images[0, 0, 4].tolist()
    assert row[0] == 0 and row[-1] == 255


def test_hold_out_is_deterministic_and_disjoint(tmp_path):
    for i in range(30):
        write_image(tmp_path / "a" / f"{i}.png", (i * 8, 0, 0))
    kwargs = dict(path=str(tmp_path), size=4, test_fraction=0.3, progress=False)
    first = load_dataset("folder", "test", **kwargs)
    again = load_dataset("folder", "test", **kwargs)
    train = load_dataset("folder", "train", **kwargs)
    assert len(first) == 9 and len(train) == 21
    assert torch.equal(first.images, again.images)
    reds = set(train.images[:, 0, 0, 0].tolist()) | set(first.images[:, 0, 0, 0].tolist())
    assert len(reds) == 30  # every image in exactly one split


def test_large_tree_streams_with_the_same_order(tmp_path):
    class_tree(tmp_path, {"cats": 7, "dogs": 6})
    kwargs = dict(path=str(tmp_path), size=6, test_fraction=0.0, progress=False)
    memory = load_dataset("folder", **kwargs)
    streaming = load_dataset("folder", max_in_memory=5, num_workers=2, **kwargs)
    assert isinstance(streaming, StreamingImageDataset) and len(streaming) == 13
    assert streaming.num_batches(4, drop_last=False) == memory.num_batches(4, drop_last=False) == 4
    for (a, la), (b, lb) in zip(memory.batches(4, epoch=3, seed=1), streaming.batches(4, epoch=3, seed=1), strict=True):
        assert torch.equal(a, b) and torch.equal(la, lb)
    with pytest.raises(DataError, match="streamed from disk"):
        streaming.images


def test_parallel_decoding_matches_serial(tmp_path, monkeypatch):
    from genzoo.data import folder

    class_tree(tmp_path, {"cats": 5, "dogs": 4})
    serial = load_dataset("folder", path=str(tmp_path), size=5, test_fraction=0.0, num_workers=0, progress=False)
    monkeypatch.setattr(folder, "PARALLEL_DECODE_MIN", 2)
    parallel = load_dataset("folder", path=str(tmp_path), size=5, test_fraction=0.0, num_workers=2, progress=False)
    assert torch.equal(serial.images, parallel.images) and torch.equal(serial.labels, parallel.labels)


def test_corrupt_image_is_named(tmp_path):
    class_tree(tmp_path)
    (tmp_path / "dogs" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(DataError, match=r"cannot read image .*broken\.png") as error:
        load_dataset("folder", path=str(tmp_path), size=4, test_fraction=0.0, progress=False)
    assert "\n" not in str(error.value)


def test_corrupt_image_is_named_when_streaming(tmp_path):
    class_tree(tmp_path)
    (tmp_path / "dogs" / "broken.jpg").write_bytes(b"garbage")
    dataset = load_dataset("folder", path=str(tmp_path), size=4, test_fraction=0.0, max_in_memory=1, num_workers=1)
    with pytest.raises(DataError, match=r"broken\.jpg"):
        list(dataset.batches(2, shuffle=False))


def test_empty_folder_and_bad_options(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "readme.md").write_text("no images")
    with pytest.raises(DataError, match="holds no PNG/JPEG images"):
        load_dataset("folder", path=str(tmp_path / "empty"))
    with pytest.raises(DataError, match="not a directory"):
        load_dataset("folder", path=str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="needs option path"):
        load_dataset("folder")
    with pytest.raises(ConfigError, match="channels must be 1 or 3"):
        load_dataset("folder", path=str(tmp_path), channels=2)


def test_mixed_top_level_and_class_images_is_an_error(tmp_path):
    class_tree(tmp_path)
    write_image(tmp_path / "stray.png", (0, 0, 0))
    with pytest.raises(DataError, match="mixes top-level images with class sub-folders"):
        dataset_info("folder", path=str(tmp_path))


def test_side_by_side_pairs_keep_both_halves(tmp_path):
    from PIL import Image

    for index in range(3):
        image = Image.new("RGB", (16, 8), (255, 0, 0))
        image.paste((0, 0, 255), (8, 0, 16, 8))  # A red | B blue
        image.save(tmp_path / f"pair{index}.png")
    dataset = load_dataset("folder", "train", path=str(tmp_path), size=4, pairs=True, test_fraction=0.0)
    assert dataset.images.shape == (3, 3, 4, 8)
    assert (dataset.images[:, 0, :, :4] == 255).all() and (dataset.images[:, 2, :, 4:] == 255).all()
    assert (dataset.images[:, 0, :, 4:] == 0).all()


def test_val_folder_is_the_test_split(tmp_path):
    for split in ("train", "val"):
        (tmp_path / split).mkdir()
        write_image(tmp_path / split / "a.png", (10, 20, 30))
    assert len(load_dataset("folder", "test", path=str(tmp_path), size=4)) == 1
