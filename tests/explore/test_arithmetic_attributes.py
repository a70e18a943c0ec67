"""The attribute classifier that judges latent arithmetic on shapes (genzoo.metrics.attributes)."""

from __future__ import annotations

import pytest
import torch

from genzoo.data import load_dataset
from genzoo.metrics.attributes import AttributeClassifier, attribute_accuracy, fit_attribute_classifier


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_a_short_fit_learns_colour_and_position(one_thread):
    """Colour and position are learnt in ~100 steps; shape needs ~750 (too slow for a unit test)."""
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
