"""Feature extractors and reference statistics: training, cache round trips, keys, safety, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import genzoo.data
from genzoo.data import load_dataset
from genzoo.metrics import features as features_module
from genzoo.metrics.features import (
    FeatureExtractor,
    FeatureExtractorError,
    FeatureTraining,
    cached_extractors,
    choose_feature_extractor,
    extractor_path,
    holdout_indices,
    is_default_recipe,
    load_feature_extractor,
    make_recipe,
    random_shift,
    train_feature_classifier,
    training_indices,
)
from genzoo.metrics.reference import HELD_OUT, TRAIN_SUBSET_SEEN, display_images, other_real_statistics, reference_path, reference_statistics
from genzoo.metrics.sample_quality import gaussian_statistics

SHAPES = {"n_train": 192, "n_test": 48, "size": 28, "channels": 1}
TINY_NET = {"widths": (4, 8), "convs_per_block": 1, "feature_dim": 8}
TINY_TRAINING = FeatureTraining(epochs=1, batch_size=32, seed=0)  # 192 - 38 held out = 154 images: 4 steps


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory):
    return tmp_path_factory.mktemp("features")


@pytest.fixture(scope="module")
def tiny_extractor(cache_root):
    return train_feature_classifier(
        "shapes", dataset_options=SHAPES, architecture=TINY_NET, training=TINY_TRAINING, cache_root=cache_root, progress=False,
    )


@pytest.fixture(scope="module")
def test_images():
    return load_dataset("shapes", "test", **SHAPES).images  # (48, 1, 28, 28)


def test_random_shift_translates_each_image_with_zero_fill():
    images = torch.randint(1, 256, (16, 2, 6, 7), dtype=torch.uint8)
    generator = torch.Generator().manual_seed(0)
    assert torch.equal(random_shift(images, 0, generator), images)
    shifted = random_shift(images, 2, generator)
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2))
    seen = set()
    for image, result in zip(padded, shifted):
        matches = [(dy, dx) for dy in range(5) for dx in range(5) if torch.equal(image[:, dy : dy + 6, dx : dx + 7], result)]
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) > 4  # per-image shifts, not one shift for the batch


def test_training_records_metadata_and_the_cache_files(tiny_extractor, cache_root, test_images):
    meta = tiny_extractor.metadata
    path = extractor_path(meta["recipe"], cache_root=cache_root)
    assert path.is_file() and path.name.startswith("shapes-1x28x28-")
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["id"] == tiny_extractor.identifier and sidecar["epochs"] == 1 and sidecar["seed"] == 0
    assert sidecar["dataset"] == "shapes" and sidecar["image_shape"] == [1, 28, 28] and sidecar["dataset_options"] == SHAPES
    assert sidecar["holdout"] == {"split": "train", "count": 38, "of": 192, "seed": 0}  # a fifth of 192, below the default 10k
    assert sidecar["train_images"] == 192 - 38 and not is_default_recipe(sidecar)
    labels = load_dataset("shapes", "test", **SHAPES).labels
    assert meta["test_accuracy"] == pytest.approx(tiny_extractor.accuracy(test_images, labels))
    features, probs = tiny_extractor.extract(test_images, batch_size=20)
    assert features.shape == (48, 8) and probs.shape == (48, 5 + 1)  # 5 classes and the outlier class
    torch.testing.assert_close(probs.sum(1), torch.ones(48))
    assert not tiny_extractor.net.training


def test_training_is_reproducible_and_leaves_the_global_rng_alone(tiny_extractor, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    state = torch.get_rng_state()
    again = train_feature_classifier(
        "shapes", dataset_options=SHAPES, architecture=TINY_NET, training=TINY_TRAINING, cache=False, progress=False,
    )
    assert torch.equal(torch.get_rng_state(), state)
    assert again.identifier == tiny_extractor.identifier
    assert not list(tmp_path.iterdir())  # cache=False wrote nothing


def test_cache_round_trip_gives_identical_features(tiny_extractor, cache_root, test_images, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("the cached extractor should have been loaded")

    monkeypatch.setattr(features_module, "train_feature_classifier", no_training)
    loaded = load_feature_extractor(
        "shapes", (1, 28, 28), dataset_options=SHAPES, architecture=TINY_NET, training=TINY_TRAINING, cache_root=cache_root,
    )
    assert loaded.identifier == tiny_extractor.identifier
    assert loaded.metadata["test_accuracy"] == tiny_extractor.metadata["test_accuracy"]
    for mine, theirs in zip(loaded.extract(test_images), tiny_extractor.extract(test_images)):
        assert torch.equal(mine, theirs)


@pytest.mark.parametrize(
    "change",
    [
        {"training": FeatureTraining(epochs=1, batch_size=32, seed=1)},
        {"training": FeatureTraining(epochs=2, batch_size=32, seed=0)},
        {"architecture": {**TINY_NET, "feature_dim": 16}},
        {"dataset_options": {**SHAPES, "n_train": 100}},
    ],
    ids=["seed", "epochs", "architecture", "data"],
)
def test_another_recipe_is_another_cache_entry(tiny_extractor, cache_root, change):
    settings = {"dataset_options": SHAPES, "architecture": TINY_NET, "training": TINY_TRAINING, **change}
    with pytest.raises(FeatureExtractorError, match="genzoo features train --data shapes"):
        load_feature_extractor("shapes", (1, 28, 28), cache_root=cache_root, train_if_missing=False, **settings)


def test_wrong_image_shape_is_a_one_line_error(tiny_extractor):
    with pytest.raises(FeatureExtractorError) as error:
        tiny_extractor.extract(torch.zeros(2, 3, 28, 28, dtype=torch.uint8))
    assert "\n" not in str(error.value) and "(N, 1, 28, 28)" in str(error.value)
    with pytest.raises(FeatureExtractorError, match="uint8"):
        tiny_extractor.extract(torch.zeros(2, 1, 28, 28))
    with pytest.raises(FeatureExtractorError) as error:
        load_feature_extractor("shapes", (3, 32, 32), dataset_options=SHAPES, train_if_missing=False)
    assert "\n" not in str(error.value) and "(1, 28, 28)" in str(error.value)


def test_pickles_and_tampered_files_are_refused(tiny_extractor, tmp_path):
    pickled = tmp_path / "extractor.safetensors"
    torch.save({"a": torch.zeros(1)}, pickled)
    with pytest.raises(FeatureExtractorError, match="safetensors only"):
        FeatureExtractor.load(pickled)
    path = tiny_extractor.save(tmp_path / "copy.safetensors")
    assert FeatureExtractor.load(path).identifier == tiny_extractor.identifier
    from safetensors.torch import load_file, save_file
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        header = handle.metadata()
    state = load_file(str(path))
    state["feature.0.weight"] = state["feature.0.weight"] + 1
    save_file(state, str(path), metadata=header)
    with pytest.raises(FeatureExtractorError, match="corrupt"):
        FeatureExtractor.load(path)


def test_a_safetensors_file_whose_header_length_starts_like_a_pickle_still_loads(tiny_extractor, tmp_path):
    """The header length comes first (8 bytes, little-endian): 0x80 or "PK" there is no pickle or zip."""
    seen = set()
    for padding in range(0, 1200, 8):
        copy = FeatureExtractor(net=tiny_extractor.net, dataset="shapes", metadata={**tiny_extractor.metadata, "pad": "x" * padding})
        path = copy.save(tmp_path / f"pad-{padding}.safetensors")
        first = path.read_bytes()[:1]
        if first == b"\x80" and first not in seen:
            seen.add(first)
            assert FeatureExtractor.load(path).identifier == tiny_extractor.identifier
    assert seen == {b"\x80"}  # the case was reached


# ---- reference statistics ----------------------------------------------------------------------
def test_reference_statistics_are_cached_by_key(tiny_extractor, tmp_path, test_images, monkeypatch):
    stats = reference_statistics(tiny_extractor, "shapes", "test", dataset_options=SHAPES, cache_root=tmp_path, max_images=40, progress=False)
    assert stats.num_images == 40 and stats.key["extractor"] == tiny_extractor.identifier and stats.key["image_shape"] == [1, 28, 28]
    assert reference_path(stats.key, cache_root=tmp_path).is_file()
    mu, sigma = gaussian_statistics(stats.features)
    np.testing.assert_allclose(stats.mu, mu, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(stats.sigma, sigma, rtol=1e-6, atol=1e-8)

    def no_loading(*args, **kwargs):
        raise AssertionError("cached statistics should have been used")

    monkeypatch.setattr(genzoo.data, "load_dataset", no_loading)
    cached = reference_statistics(tiny_extractor, "shapes", "test", dataset_options=SHAPES, cache_root=tmp_path, max_images=40, progress=False)
    assert cached.key == stats.key and np.array_equal(cached.features, stats.features)
    monkeypatch.undo()

    binarized = reference_statistics(
        tiny_extractor, "shapes", "test", dataset_options=SHAPES, cache_root=tmp_path, max_images=40, preprocess=("binarize-static",), progress=False,
    )
    assert binarized.key["preprocess"] == ["binarize-static"]
    assert not np.allclose(binarized.mu, stats.mu)
    everything = reference_statistics(tiny_extractor, "shapes", "test", dataset_options=SHAPES, cache_root=tmp_path, progress=False)
    assert everything.num_images == 48
    assert len(list(tmp_path.glob("shapes-test-1x28x28-*.safetensors"))) == 3


def test_display_images_apply_the_runs_preprocessing(test_images):
    assert display_images(test_images, ()) is test_images
    binary = display_images(test_images, ("binarize-static",))
    assert set(binary.unique().tolist()) <= {0, 255}
    assert torch.equal(display_images(test_images, ("dequantize",)), test_images)
    assert torch.equal(display_images(test_images, ("binarize-dynamic",), seed=3), display_images(test_images, ("binarize-dynamic",), seed=3))


# ---- the FID Inception-v3 (weights supplied by the user; random ones here) -----------------------
SIDE_EFFECTS: list[str] = []


def _side_effect() -> str:
    SIDE_EFFECTS.append("code ran")
    return "pwned"


class Payload:
    def __reduce__(self):
        return (_side_effect, ())


def test_inception_architecture_matches_torchvision_parameter_count_and_loads_weight_files(tmp_path):
    from safetensors.torch import save_file

    from genzoo.metrics.inception import FIDInceptionV3, load_inception_extractor

    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = FIDInceptionV3().eval()
    # torchvision's inception_v3 has 27,161,264 parameters; minus its auxiliary classifier (3,326,696),
    # plus 8 more classes of 2048 + 1 (1008 instead of 1000): the pytorch-fid network.
    assert sum(p.numel() for p in net.parameters()) == 27_161_264 - 3_326_696 + 8 * 2049
    state = net.state_dict()
    torch.save(state, tmp_path / "pt_inception.pth")
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "inception.safetensors"))
    images = torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8)
    from_pth = load_inception_extractor(tmp_path / "pt_inception.pth")
    features, probs = from_pth.extract(images)
    assert features.shape == (2, 2048) and probs.shape == (2, 1008) and torch.isfinite(features).all()
    from_safetensors = load_inception_extractor(tmp_path / "inception.safetensors")
    assert from_safetensors.identifier == from_pth.identifier
    assert torch.equal(from_safetensors.features(images), features)
    with pytest.raises(FeatureExtractorError, match="uint8"):
        from_pth.extract(torch.zeros(1, 2, 28, 28, dtype=torch.uint8))


def test_inception_weights_are_never_unpickled_and_missing_weights_name_the_option(tmp_path):
    from genzoo.metrics.inception import load_inception_extractor

    torch.save({"fc.weight": Payload()}, tmp_path / "evil.pth")
    with pytest.raises(FeatureExtractorError, match="weights_only"):
        load_inception_extractor(tmp_path / "evil.pth")
    assert SIDE_EFFECTS == []
    for path in (None, tmp_path / "absent.pth"):
        with pytest.raises(FeatureExtractorError, match="--inception-weights") as error:
            load_inception_extractor(path)
        assert "\n" not in str(error.value)
    torch.save({"fc.weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(FeatureExtractorError, match="not the FID Inception-v3 weights"):
        load_inception_extractor(tmp_path / "other.pth")


# ---- the held-out real images -----------------------------------------------------------------
def test_holdout_and_training_indices_split_the_train_set():
    held, trained = holdout_indices(100, 20, seed=3), training_indices(100, 20, seed=3)
    assert len(held) == 20 and len(trained) == 80
    assert sorted(held.tolist() + trained.tolist()) == list(range(100))
    assert torch.equal(held, holdout_indices(100, 20, seed=3)) and not torch.equal(held, holdout_indices(100, 20, seed=4))
    assert held.tolist() != list(range(20))  # a random subset, not the first images
    assert FeatureTraining().holdout_count(60_000) == 10_000 and FeatureTraining().holdout_count(64) == 12


def test_training_never_sees_the_held_out_images(monkeypatch):
    """Training on the held-out images alone would fail: they are removed before training starts."""
    seen = []
    original = features_module.random_shift

    def spy(images, max_shift, generator):
        seen.append(images.clone())
        return original(images, max_shift, generator)

    monkeypatch.setattr(features_module, "random_shift", spy)
    train_feature_classifier("shapes", dataset_options=SHAPES, architecture=TINY_NET, training=FeatureTraining(epochs=1, batch_size=200),
                             cache=False, progress=False)
    train = load_dataset("shapes", "train", **SHAPES).images
    (batch,) = seen  # one step: the 154 training images, shuffled (shapes repeats some images: compare as sorted multisets)

    def as_rows(images):
        return sorted(bytes(image.numpy().tobytes()) for image in images)

    assert as_rows(batch) == as_rows(train[training_indices(192, 38, seed=0)]) != as_rows(train[:154])


def test_other_real_statistics_are_the_held_out_images(tiny_extractor, tmp_path):
    stats = other_real_statistics(tiny_extractor, "shapes", dataset_options=SHAPES, cache_root=tmp_path, max_images=30, progress=False)
    assert stats.key["images"] == HELD_OUT and stats.key["split"] == "train" and stats.num_images == 30
    train = load_dataset("shapes", "train", **SHAPES).images
    held_out = train[holdout_indices(192, 38, seed=0)]
    expected = tiny_extractor.features(held_out)  # (38, 8): the 30 are a subset of these rows
    assert all(any(torch.allclose(torch.from_numpy(row), candidate, atol=1e-6) for candidate in expected) for row in stats.features)
    everything = other_real_statistics(tiny_extractor, "shapes", dataset_options=SHAPES, cache_root=tmp_path, progress=False)
    assert everything.num_images == 38
    np.testing.assert_allclose(everything.features, expected.numpy(), atol=1e-6)  # all of the holdout, in index order

    seen_all = train_feature_classifier("shapes", dataset_options=SHAPES, architecture=TINY_NET,
                                        training=FeatureTraining(epochs=1, batch_size=32, holdout_images=0), cache=False, progress=False)
    fallback = other_real_statistics(seen_all, "shapes", dataset_options=SHAPES, cache_root=tmp_path, max_images=30, progress=False)
    assert fallback.key["images"] == TRAIN_SUBSET_SEEN and fallback.num_images == 30  # said plainly: the classifier saw them


def test_real_reference_floor_is_below_noise(tiny_extractor, tmp_path):
    """Test images against held-out real images sit far closer than test images against uniform noise."""
    from genzoo.metrics.reference import statistics_of_images
    from genzoo.metrics.sample_quality import frechet_distance

    test = reference_statistics(tiny_extractor, "shapes", "test", dataset_options=SHAPES, cache_root=tmp_path, progress=False)
    other = other_real_statistics(tiny_extractor, "shapes", dataset_options=SHAPES, cache_root=tmp_path, progress=False)
    noise = statistics_of_images(tiny_extractor, torch.randint(0, 256, (38, 1, 28, 28), generator=torch.Generator().manual_seed(0), dtype=torch.uint8))
    floor = frechet_distance(test.mu, test.sigma, other.mu, other.sigma)
    assert 0 < floor < frechet_distance(test.mu, test.sigma, noise.mu, noise.sigma) / 5


# ---- which extractor an evaluation uses ------------------------------------------------------------
def _copy_with(extractor, root, name, **metadata):
    copy = FeatureExtractor(net=extractor.net, dataset=extractor.dataset, metadata={**extractor.metadata, **metadata})
    return copy.save(root / f"shapes-1x28x28-{name}.safetensors")


def test_choose_uses_a_cached_extractor_of_another_recipe_and_says_which(tiny_extractor, cache_root, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("a cached extractor exists: nothing should be trained")

    monkeypatch.setattr(features_module, "train_feature_classifier", no_training)
    said = []
    choice = choose_feature_extractor("shapes", (1, 28, 28), dataset_options=SHAPES, cache_root=cache_root, progress=False, say=said.append)
    assert choice.extractor.identifier == tiny_extractor.identifier and not choice.trained_now
    assert said == [choice.note] and "\n" not in choice.note
    assert f"cached {tiny_extractor.identifier}" in choice.note and "trained with other options: 1 epochs" in choice.note
    # other dataset options: not this dataset's extractor
    with pytest.raises(AssertionError, match="nothing should be trained"):
        choose_feature_extractor("shapes", dataset_options={**SHAPES, "n_train": 100}, cache_root=cache_root, progress=False)


def test_choose_prefers_the_most_accurate_cached_extractor(tiny_extractor, tmp_path, monkeypatch):
    monkeypatch.setattr(features_module, "train_feature_classifier", None)  # calling it would fail
    _copy_with(tiny_extractor, tmp_path, "a", test_accuracy=0.5, recipe_hash="a")
    best = _copy_with(tiny_extractor, tmp_path, "b", test_accuracy=0.75, recipe_hash="b")
    _copy_with(tiny_extractor, tmp_path, "c", test_accuracy=0.7, recipe_hash="c")
    (tmp_path / "shapes-1x28x28-d.json").write_text("not json")  # a broken sidecar is skipped
    ranked = cached_extractors("shapes", (1, 28, 28), SHAPES, cache_root=tmp_path)
    assert [path.name for path, _ in ranked] == ["shapes-1x28x28-b.safetensors", "shapes-1x28x28-c.safetensors", "shapes-1x28x28-a.safetensors"]
    choice = choose_feature_extractor("shapes", dataset_options=SHAPES, cache_root=tmp_path, progress=False)
    assert choice.extractor.path == best and choice.extractor.metadata["test_accuracy"] == 0.75
    assert "test accuracy 0.750" in choice.note and "no default-recipe one cached, the most accurate of 3" in choice.note
    # a default-recipe extractor comes first, however accurate the others: every evaluation then uses the same one
    default = make_recipe("shapes", (1, 28, 28), 5, SHAPES, {}, FeatureTraining())
    first = _copy_with(tiny_extractor, tmp_path, "e", test_accuracy=0.6, recipe=default, recipe_hash="e")
    assert cached_extractors("shapes", (1, 28, 28), SHAPES, cache_root=tmp_path)[0][0] == first
    choice = choose_feature_extractor("shapes", dataset_options=SHAPES, cache_root=tmp_path, progress=False)
    assert choice.extractor.path == first and "(default recipe: 1 epochs, test accuracy 0.600)" in choice.note


def test_choose_trains_the_default_recipe_when_none_is_cached_and_says_so_first(tiny_extractor, tmp_path, monkeypatch):
    said, calls = [], []

    def fake_training(dataset_name, **options):
        calls.append((dataset_name, options, list(said)))
        return tiny_extractor

    monkeypatch.setattr(features_module, "train_feature_classifier", fake_training)
    choice = choose_feature_extractor("shapes", dataset_options=SHAPES, cache_root=tmp_path, progress=False, say=said.append)
    ((name, options, said_before),) = calls
    assert name == "shapes" and options["training"] == FeatureTraining() and options["dataset_options"] == SHAPES
    assert len(said_before) == 1 and said == said_before  # announced before training started, one line
    assert "none cached" in said[0] and "training the default one now" in said[0] and "about a minute" in said[0]
    assert choice.trained_now and choice.extractor is tiny_extractor
