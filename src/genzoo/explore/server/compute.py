"""Where the server's tensor work runs: off the event loop, in few threads, with slider decodes batched.

Two worker pools keep short and long work apart: `quick` (one thread) answers slider moves,
encodings, path points and GAN frames in milliseconds; `long` (two threads) runs what takes
seconds (drawing pixel by pixel, completion, generator inversion, arithmetic), so a drawing
never holds up a slider. One thread for the quick pool is deliberate: torch already spreads
one forward pass over its intra-op threads, and several passes at once on a small CPU only
queue for the same cores.

`DecodeBatcher` coalesces the decode requests that arrive while one decode is running into
the next forward pass (dynamic batching): a hundred concurrent slider requests cost a few
batched passes instead of a hundred single ones, which keeps the tail latency low under load.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch

Result = TypeVar("Result")
MAX_DECODE_BATCH = 128


class Workers:
    """The two thread pools; `await workers.quick(fn, ...)` / `await workers.long(fn, ...)`."""

    def __init__(self) -> None:
        self._quick = ThreadPoolExecutor(max_workers=1, thread_name_prefix="genzoo-quick")
        self._long = ThreadPoolExecutor(max_workers=2, thread_name_prefix="genzoo-long")

    async def quick(self, function: Callable[..., Result], *args: Any) -> Result:
        return await asyncio.get_running_loop().run_in_executor(self._quick, _no_grad(function), *args)

    async def long(self, function: Callable[..., Result], *args: Any) -> Result:
        return await asyncio.get_running_loop().run_in_executor(self._long, function, *args)

    def shutdown(self) -> None:
        self._quick.shutdown(wait=False, cancel_futures=True)
        self._long.shutdown(wait=False, cancel_futures=True)


def _no_grad(function: Callable[..., Result]) -> Callable[..., Result]:
    def run(*args: Any) -> Result:
        with torch.no_grad():
            return function(*args)

    return run


@dataclass
class _Pending:
    z: torch.Tensor  # (D,)
    label: int | None
    future: asyncio.Future = field(repr=False)


class DecodeBatcher:
    """Batches concurrent `decode(z, label)` calls of one model into one pass of `decode_batch`.

    decode_batch(z (B, D), labels (B,) or None) -> uint8 images (B, C, H, W), run in the quick pool.
    """

    def __init__(self, decode_batch: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor], workers: Workers,
                 max_batch: int = MAX_DECODE_BATCH) -> None:
        self.decode_batch = decode_batch
        self.workers = workers
        self.max_batch = max_batch
        self.pending: list[_Pending] = []
        self.running = False
        self.batch_sizes: list[int] = []  # every pass's size, for the benchmark

    async def decode(self, z: torch.Tensor, label: int | None = None) -> torch.Tensor:
        """One code (D,) -> its uint8 image (C, H, W), decoded together with whatever else is waiting."""
        future = asyncio.get_running_loop().create_future()
        self.pending.append(_Pending(z, label, future))
        if not self.running:
            self.running = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            await asyncio.sleep(0)  # let the requests that arrived together join the first pass
            while self.pending:
                batch, self.pending = self.pending[: self.max_batch], self.pending[self.max_batch :]
                batch = [item for item in batch if not item.future.done()]  # a client that went away
                if not batch:
                    continue
                z = torch.stack([item.z for item in batch])  # (B, D)
                labels = None if batch[0].label is None else torch.tensor([item.label for item in batch], dtype=torch.long)
                try:
                    images = await self.workers.quick(self.decode_batch, z, labels)  # (B, C, H, W)
                except Exception as error:  # handed to every waiting request; the app answers it
                    for item in batch:
                        if not item.future.done():
                            item.future.set_exception(error)
                    continue
                self.batch_sizes.append(len(batch))
                for item, image in zip(batch, images):
                    if not item.future.done():
                        item.future.set_result(image)
        finally:
            self.running = False
