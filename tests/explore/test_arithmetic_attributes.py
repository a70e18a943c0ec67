"""The attribute classifier that judges latent arithmetic on shapes (genzoo.metrics.attributes): fitting and its cache."""

from __future__ import annotations

import pytest
import torch

from genzoo.data import load_dataset
from genzoo.metrics.attributes import (
    AttributeClassifier,
    AttributeTraining,
    attribute_accuracy,
    classifier_path,
    classifier_recipe,
    fit_attribute_classifier,
    load_attribute_classifier,
)


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_a_short_fit_learns_colour_and_position(one_thread):
    """Colour and position are learnt within 120 steps of a width-8 net; shape needs more (AttributeTraining)."""
    train_set = load_dataset("shapes", "train", n_train=2000, n_test=500)
    test_set = load_dataset("shapes", "test", n_train=2000, n_test=500)
    untrained = AttributeClassifier(train_set.info.image_shape, {k: train_set.attribute_values[k] for k in ("colour", "x", "y")}, width=8)
    classifier = fit_attribute_classifier(train_set, steps=120, attributes=("colour", "x", "y"), width=8)
    accuracy = attribute_accuracy(classifier, test_set)
    assert set(accuracy) == {"colour", "x", "y", "all"}
    assert accuracy["colour"] > 0.9 and accuracy["x"] > 0.9 and accuracy["y"] > 0.9, accuracy
    assert accuracy["all"] <= min(accuracy["colour"], accuracy["x"], accuracy["y"])
    assert attribute_accuracy(untrained, test_set)["all"] < 0.3  # chance is 1/63
    predictions = classifier.predict(test_set.images[:7])
    assert predictions["colour"].shape == (7,) and predictions["colour"].dtype == torch.int64
    probabilities = classifier.predict_proba(test_set.images[:7])
    assert torch.allclose(probabilities["x"].sum(1), torch.ones(7))


def test_classifier_input_and_dataset_checks():
    train_set = load_dataset("shapes", "train", n_train=20, n_test=5)
    classifier = AttributeClassifier(train_set.info.image_shape, train_set.attribute_values, width=4)
    with pytest.raises(ValueError, match="takes uint8 images"):
        classifier(torch.zeros(2, 3, 28, 28))
    with pytest.raises(ValueError, match="unknown attribute 'hue'"):
        fit_attribute_classifier(train_set, steps=1, attributes=("hue",))
    with pytest.raises(ValueError, match="has no attributes"):
        fit_attribute_classifier(load_dataset("toy2d", "train", n_train=10, n_test=10), steps=1)


# ---- the cache ------------------------------------------------------------------------------------------
TINY = AttributeTraining(steps=4, batch_size=8, width=4)


@pytest.fixture(scope="module")
def tiny_splits():
    options = {"n_train": 64, "n_test": 16, "size": 28}
    return options, load_dataset("shapes", "train", **options), load_dataset("shapes", "test", **options)


def test_the_classifier_is_cached_by_dataset_options_and_recipe(tmp_path, tiny_splits, one_thread):
    options, train_set, test_set = tiny_splits
    rng_state = torch.random.get_rng_state()
    first = load_attribute_classifier(train_set, options, test_set=test_set, training=TINY, cache_root=tmp_path)
    assert torch.equal(torch.random.get_rng_state(), rng_state), "fitting must not move the global RNG"
    assert first.fitted_now and first.path.is_file() and first.path.parent == tmp_path
    assert first.path.name.startswith("shapes-3x28x28-") and set(first.test_accuracy) == {"shape", "colour", "size", "x", "y", "all"}
    again = load_attribute_classifier(train_set, options, test_set=test_set, training=TINY, cache_root=tmp_path)
    assert not again.fitted_now and again.path == first.path and again.test_accuracy == first.test_accuracy
    for name, tensor in first.classifier.state_dict().items():
        assert torch.equal(tensor, again.classifier.state_dict()[name]), name
    images = test_set.images[:8]
    assert all(torch.equal(a, b) for a, b in zip(first.classifier.predict(images).values(), again.classifier.predict(images).values()))
    # another dataset option or another recipe is another file, never the cached one
    assert classifier_path(classifier_recipe("shapes", {**options, "n_train": 65}, (3, 28, 28), train_set.attribute_values, TINY), cache_root=tmp_path) != first.path
    other = load_attribute_classifier(train_set, options, training=AttributeTraining(steps=5, batch_size=8, width=4), cache_root=tmp_path)
    assert other.fitted_now and other.path != first.path and other.test_accuracy is None
    # a damaged file is refitted and replaced
    first.path.write_bytes(b"not a safetensors file")
    repaired = load_attribute_classifier(train_set, options, test_set=test_set, training=TINY, cache_root=tmp_path)
    assert repaired.fitted_now and repaired.path == first.path
    assert not load_attribute_classifier(train_set, options, training=TINY, cache_root=tmp_path).fitted_now


def test_ctrl_c_during_fitting_propagates_and_caches_nothing(tmp_path, tiny_splits, one_thread):
    options, train_set, _ = tiny_splits
    seen = []

    def interrupt_at_step_2(done, total):
        seen.append(done)
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        load_attribute_classifier(train_set, options, training=TINY, cache_root=tmp_path, progress=interrupt_at_step_2)
    assert seen == [1, 2] and not list(tmp_path.iterdir())
