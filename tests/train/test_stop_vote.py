"""StopVote: a rank's stop request takes effect one poll later, on every rank alike.

A one-process gloo group here; tests/train/test_distributed.py has ranks signalled at
different steps stopping together.
"""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist

from genzoo.train.stopping import StopVote


@pytest.fixture
def gloo_world_of_one(tmp_path):
    store = dist.FileStore(str(tmp_path / "store"), 1)
    dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


def test_a_request_is_decided_one_poll_later(gloo_world_of_one):
    vote = StopVote(torch.device("cpu"))
    assert [vote.poll(requested) for requested in (False, False, True, False)] == [False, False, False, True]
    vote.finish()
    assert vote.poll(False) is False  # nothing left over from before finish()


def test_finish_without_a_vote_is_a_no_op(gloo_world_of_one):
    vote = StopVote(torch.device("cpu"))
    vote.finish()  # nothing in flight: returns without waiting
    assert vote._pending is None
    assert [vote.poll(requested) for requested in (True, False)] == [False, True]  # the vote still works after it
    vote.finish()
