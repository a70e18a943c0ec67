"""A bounded load test against a live server: 300 concurrent decode requests, none lost or failed, and each
answered with its own code's image (the server batches concurrent decodes; no answer may go to the wrong
request). Latency figures under load are benchmarks/explore_latency.py's (docs/benchmarks.md)."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import pytest
import torch
from genzoo_testing.explore_server import live_server, pixels_of

from genzoo.explore.sampling import to_display

REQUESTS = 300


@pytest.fixture(scope="module")
def server(explore_runs):
    from genzoo.explore.server.app import create_app

    app = create_app([explore_runs["vae"], explore_runs["dcgan"]], log=lambda line: None)
    with live_server(app) as address:
        yield app, address


async def burst(address: str, run: int, codes: np.ndarray) -> list[httpx.Response | Exception]:
    limits = httpx.Limits(max_connections=len(codes), max_keepalive_connections=len(codes))
    async with httpx.AsyncClient(base_url=address, limits=limits, timeout=120) as client:
        requests = [client.post(f"/api/runs/{run}/decode", json={"z": z.tolist()}) for z in codes]
        return await asyncio.gather(*requests, return_exceptions=True)


@pytest.mark.parametrize("run", [0, 1])
def test_hundreds_of_concurrent_decodes_all_answered_each_with_its_own_image(server, run):
    app, address = server
    explore_run = app.state.explore.runs[run]
    # codes far apart (x30): even the barely trained generator's images then differ by many levels between requests
    codes = 30 * np.random.default_rng(run).normal(size=(REQUESTS, explore_run.latent_dim)).astype(np.float32)
    passes_before = len(explore_run.decoder.batch_sizes)
    answers = asyncio.run(burst(address, run, codes))
    failures = [answer for answer in answers if isinstance(answer, Exception) or answer.status_code != 200]
    assert failures == []
    with torch.no_grad():
        expected = to_display(explore_run.model.decode(torch.from_numpy(codes)), explore_run.data_format)  # (N, C, H, W)
    shown = np.stack([pixels_of(answer.json()["image"]) for answer in answers]).astype(int)  # (N, H, W)
    difference = np.abs(shown - expected[:, 0].numpy())  # batches of other sizes may round a level differently
    assert difference.max() <= 1 and difference.mean() < 0.01
    swapped = np.abs(shown - np.roll(expected[:, 0].numpy(), 1, axis=0)).reshape(REQUESTS, -1).max(1)
    assert np.median(swapped) > 10  # another request's image would be told apart: the check above can fail
    passes = explore_run.decoder.batch_sizes[passes_before:]
    assert sum(passes) == REQUESTS and len(passes) < REQUESTS / 4  # batched: far fewer forward passes than requests
