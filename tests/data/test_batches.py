"""`batches()`: a pure function of (seed, epoch), sharded by rank, resumable at any batch."""

from __future__ import annotations

import pytest
import torch

from genzoo.data import DatasetInfo, ImageDataset
from genzoo.errors import ConfigError


def numbered(count: int) -> ImageDataset:
    """Image i is filled with i % 256 and labelled i, so a batch reveals its indices."""
    info = DatasetInfo("numbered", (1, 2, 2), 256, None, ("train",), None, "test data")
    images = (torch.arange(count) % 256).to(torch.uint8).view(-1, 1, 1, 1).expand(-1, 1, 2, 2).contiguous()
    return ImageDataset(info, "train", images, torch.arange(count))


def indices(batches) -> list[list[int]]:
    return [labels.tolist() for _, labels in batches]


def test_images_match_labels_and_order_is_deterministic():
    data = numbered(50)
    first = list(data.batches(8, epoch=2, seed=5))
    again = list(data.batches(8, epoch=2, seed=5))
    for (images, labels), (images2, labels2) in zip(first, again, strict=True):
        assert images.dtype == torch.uint8 and images.shape == (8, 1, 2, 2)
        assert torch.equal(images[:, 0, 0, 0].long(), labels % 256)
        assert torch.equal(images, images2) and torch.equal(labels, labels2)
    assert indices(data.batches(8, epoch=3, seed=5)) != indices(first)
    assert indices(data.batches(8, epoch=2, seed=6)) != indices(first)


def test_each_index_once_per_epoch_and_drop_last():
    data = numbered(50)
    full = sum(indices(data.batches(8, epoch=1, drop_last=False)), [])
    assert sorted(full) == list(range(50)) and full != list(range(50))
    assert data.num_batches(8) == 6 and len(indices(data.batches(8))) == 6
    assert data.num_batches(8, drop_last=False) == 7 and len(full) == 50
    assert sum(indices(data.batches(8, shuffle=False, drop_last=False)), []) == list(range(50))


@pytest.mark.parametrize("world_size", [2, 3])
def test_training_shards_are_disjoint_and_balanced(world_size):
    data = numbered(50)
    shards = [sum(indices(data.batches(5, epoch=7, rank=r, world_size=world_size)), []) for r in range(world_size)]
    assert len({len(s) for s in shards}) == 1 and len(shards[0]) == 50 // world_size // 5 * 5
    together = sum(shards, [])
    assert len(set(together)) == len(together)
    assert data.num_batches(5, world_size=world_size) == (50 // world_size) // 5


@pytest.mark.parametrize("world_size", [2, 3, 4])
def test_evaluation_shards_cover_every_example_once(world_size):
    """drop_last=False: 50 examples on W ranks, none skipped even when W does not divide 50."""
    data = numbered(50)
    shards = [sum(indices(data.batches(4, epoch=7, rank=r, world_size=world_size, drop_last=False)), []) for r in range(world_size)]
    assert sorted(sum(shards, [])) == list(range(50))
    assert max(map(len, shards)) - min(map(len, shards)) <= 1
    for rank, shard in enumerate(shards):
        assert len(indices(data.batches(4, epoch=7, rank=rank, world_size=world_size, drop_last=False))) == \
            data.num_batches(4, world_size=world_size, drop_last=False, rank=rank) == -(-len(shard) // 4)
    # Rank r's j-th batch is rows r, r + W, ... of the one-process j-th batch of 4 * W (round-robin deal).
    whole = indices(data.batches(4 * world_size, epoch=7, drop_last=False))
    for rank in range(world_size):
        local = indices(data.batches(4, epoch=7, rank=rank, world_size=world_size, drop_last=False))
        assert local == [batch[rank::world_size] for batch in whole if batch[rank::world_size]]


def test_start_batch_resumes_exactly():
    data = numbered(50)
    whole = indices(data.batches(6, epoch=4, seed=9, rank=1, world_size=2, drop_last=False))
    resumed = indices(data.batches(6, epoch=4, seed=9, rank=1, world_size=2, drop_last=False, start_batch=2))
    assert resumed == whole[2:] and len(whole) == data.num_batches(6, world_size=2, drop_last=False, rank=1)


def test_to_moves_everything_and_keeps_order():
    data = numbered(20)
    moved = data.to("cpu")
    assert moved is not data and indices(moved.batches(5, epoch=1)) == indices(data.batches(5, epoch=1))


def test_bad_arguments():
    data = numbered(10)
    with pytest.raises(ConfigError, match="batch_size"):
        next(data.batches(0))
    with pytest.raises(ConfigError, match="rank"):
        next(data.batches(2, rank=2, world_size=2))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_batches_follow_the_cpu_order():
    data = numbered(30)
    on_gpu = data.to("cuda")
    assert on_gpu.images.device.type == "cuda" and on_gpu.labels.device.type == "cuda"
    for (images, labels), (_, cpu_labels) in zip(on_gpu.batches(7, epoch=1), data.batches(7, epoch=1), strict=True):
        assert images.device.type == "cuda" and torch.equal(labels.cpu(), cpu_labels)
