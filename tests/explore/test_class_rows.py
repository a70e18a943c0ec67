"""A class-conditional model's samples laid out one row per class, each row labelled with its class."""

from __future__ import annotations

import pytest
import torch

from genzoo.explore.sampling import class_rows, sample_images
from genzoo.models import build_model


@pytest.fixture(scope="module")
def conditional_model():
    torch.manual_seed(0)
    return build_model("gated-pixelcnn", (1, 5, 5), levels=2, num_classes=3, conditional=True, hidden=8, layers=2, output_hidden=8).eval()


def test_row_k_holds_class_k_and_says_so(conditional_model):
    images, labels = class_rows(conditional_model, 4, class_names=("T-shirt", "Trouser", "Bag"), seed=3)
    expected = sample_images(conditional_model, 12, labels=torch.tensor([0] * 4 + [1] * 4 + [2] * 4), seed=3)
    assert torch.equal(images, expected)
    assert labels == ["0: T-shirt", "1: Trouser", "2: Bag"]



def test_the_model_is_asked_for_each_class_in_turn(conditional_model, monkeypatch):
    asked = []
    original = conditional_model.sample
    monkeypatch.setattr(conditional_model, "sample", lambda n, labels=None, **kw: asked.append(labels.tolist()) or original(n, labels=labels, **kw))
    class_rows(conditional_model, 2)
    assert asked == [[0, 0, 1, 1, 2, 2]]


def test_missing_or_mismatched_class_names_fall_back_to_numbers(conditional_model):
    assert class_rows(conditional_model, 1, class_names=("a", "b"))[1] == ["0: class 0", "1: class 1", "2: class 2"]


def test_an_unconditional_model_is_refused():
    model = build_model("pixelcnn", (1, 4, 4), levels=2, hidden=4, residual_blocks=1, output_hidden=4)
    with pytest.raises(ValueError, match="not class-conditional"):
        class_rows(model, 2)
