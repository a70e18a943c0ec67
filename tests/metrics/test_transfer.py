"""Encoder transfer: balanced subsets, re-initialisation, and the accuracy table on tiny shapes data."""

from __future__ import annotations

import pytest
import torch

from genzoo.data import load_dataset
from genzoo.data.format import DataFormat
from genzoo.metrics.transfer import TransferSettings, balanced_subset, randomly_initialised, train_classifier, transfer_table
from genzoo.models import build_model_from_format


def test_balanced_subset_is_balanced_and_seeded():
    labels = torch.arange(100) % 4
    subset = balanced_subset(labels, 5, 4, seed=0)
    assert subset.shape == (20,) and len(set(subset.tolist())) == 20
    assert torch.equal(torch.bincount(labels[subset], minlength=4), torch.full((4,), 5))
    assert torch.equal(subset, balanced_subset(labels, 5, 4, seed=0))
    assert not torch.equal(subset, balanced_subset(labels, 5, 4, seed=1))
    with pytest.raises(ValueError, match="fewer than"):
        balanced_subset(labels, 26, 4)


def test_random_initialisation_redraws_weights_and_keeps_the_original():
    torch.manual_seed(0)
    model = build_model_from_format("vae", DataFormat((1, 8, 8), levels=2), {"architecture": "mlp", "hidden": 16, "latent_dim": 4})
    before = {k: v.clone() for k, v in model.state_dict().items()}
    clone = randomly_initialised(model, seed=5)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    changed = [k for k, v in clone.state_dict().items() if not torch.equal(before[k], v)]
    assert set(changed) == {k for k, _ in model.named_parameters()}


@pytest.fixture(scope="module")
def shapes_data():
    """Tiny 28x28 gray shapes (5 classes), binarized at > 0 so every colour stays visible."""
    options = {"channels": 1, "n_train": 600, "n_test": 200}
    train = load_dataset("shapes", "train", download=False, progress=False, **options)
    test = load_dataset("shapes", "test", download=False, progress=False, **options)
    return (train.images > 0).float(), train.labels, (test.images > 0).float(), test.labels


@pytest.fixture(scope="module")
def pretrained_vae(shapes_data):
    train_x = shapes_data[0]
    torch.manual_seed(0)
    model = build_model_from_format("vae", DataFormat((1, 28, 28), levels=2), {"architecture": "mlp", "hidden": 64, "latent_dim": 16})
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(600):
        batch = train_x[torch.randint(0, len(train_x), (64,))]
        optimizer.zero_grad()
        model.loss(batch)["loss"].mean().backward()
        optimizer.step()
    return model


def check_table(rows, shots, finetune):
    assert [row["per_class"] for row in rows] == list(shots)
    assert [row["train_images"] for row in rows] == [5 * k for k in shots]
    for row in rows:
        assert set(row) >= {"pretrained_accuracy", "random_init_accuracy", "chance", "test_images", "head", "finetune", "steps"}
        assert row["chance"] == pytest.approx(0.2) and row["test_images"] == 200 and row["finetune"] is finetune
        assert 0.0 <= row["random_init_accuracy"] <= 1.0 and 0.0 <= row["pretrained_accuracy"] <= 1.0


def test_frozen_pretrained_codes_beat_random_features(shapes_data, pretrained_vae):
    train_x, train_y, test_x, test_y = shapes_data
    settings = TransferSettings(head="mlp", steps=300, batch_size=32, lr=3e-3)
    rows = transfer_table(pretrained_vae, train_x, train_y, test_x, test_y, shots=(2, 20), settings=settings)
    check_table(rows, (2, 20), finetune=False)
    twenty = rows[1]
    assert twenty["pretrained_accuracy"] > 0.45, rows  # chance is 0.2
    assert twenty["pretrained_accuracy"] > twenty["random_init_accuracy"] + 0.1, rows


def test_finetuning_trains_the_encoder_of_a_copy(shapes_data, pretrained_vae):
    train_x, train_y, test_x, test_y = shapes_data
    before = {k: v.clone() for k, v in pretrained_vae.state_dict().items()}
    settings = TransferSettings(head="linear", finetune=True, steps=100, batch_size=32, lr=1e-3)
    rows = transfer_table(pretrained_vae, train_x, train_y, test_x, test_y, shots=(20,), settings=settings)
    check_table(rows, (20,), finetune=True)
    assert rows[0]["pretrained_accuracy"] > 0.3 and rows[0]["random_init_accuracy"] > 0.3, rows
    assert all(torch.equal(before[k], v) for k, v in pretrained_vae.state_dict().items()), "the caller's model was modified"


@pytest.mark.parametrize("finetune", [False, True])
def test_only_finetuning_moves_the_encoder(shapes_data, pretrained_vae, finetune):
    train_x, train_y = shapes_data[0][:50], shapes_data[1][:50]
    settings = TransferSettings(finetune=finetune, steps=5, lr=1e-2)
    classifier = train_classifier(pretrained_vae, train_x, train_y, 5, settings)
    original = dict(pretrained_vae.named_parameters())
    moved = [k for k, v in classifier.model.named_parameters() if not torch.equal(v, original[k])]
    assert bool(moved) is finetune
    assert all(k.startswith(("encoder_body", "to_posterior")) for k in moved), moved  # the decoder gets no gradient


def test_progress_counts_every_classifier_step_and_changes_nothing(shapes_data, pretrained_vae, capsys):
    train_x, train_y, test_x, test_y = shapes_data
    settings = TransferSettings(steps=7, batch_size=16)
    quiet = transfer_table(pretrained_vae, train_x, train_y, test_x, test_y, shots=(2, 4), settings=settings)
    shown = transfer_table(pretrained_vae, train_x, train_y, test_x, test_y, shots=(2, 4), settings=settings, progress=True)
    assert quiet == shown
    shown_bar = capsys.readouterr().err
    assert "/28 " in shown_bar and "K=4/class, random init" in shown_bar  # 2 shots x 2 initialisations x 7 steps
