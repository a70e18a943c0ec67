"""Progress of long work (training, sampling, evaluation, classifiers): a tqdm bar on a terminal, a plain line every few seconds elsewhere.

In a log file or CI (stderr is not a terminal) a bar redraws into one line per refresh,
thousands of them per run; `LineProgress` writes one readable line every `interval_s`
seconds instead, and a last one when the work ends. Every progress display of genzoo goes
through `progress_bar` / `progress_iter`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO, TypeVar

from tqdm.auto import tqdm

LINE_INTERVAL_S = 10.0  # seconds between progress lines when stderr is not a terminal
Item = TypeVar("Item")


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{seconds:02d}s" if hours else f"{minutes}m{seconds:02d}s"


class LineProgress:
    """The part of tqdm's interface genzoo uses, printing `desc: step N/T (P%), R steps/s, eta E, k=v`."""

    def __init__(self, *, total: int, initial: int, desc: str, stream: TextIO, interval_s: float = LINE_INTERVAL_S, unit: str = "step") -> None:
        self.total, self.n, self.desc, self.stream, self.interval_s, self.unit = total, initial, desc, stream, interval_s, unit
        self.postfix: dict[str, Any] = {}
        self._start_n, self._start_s = initial, time.monotonic()
        self._last_print_s = self._start_s
        self._printed_n: int | None = None

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self._last_print_s >= self.interval_s:
            self._print(now)

    def set_postfix(self, refresh: bool = True, **values: Any) -> None:
        self.postfix = values

    def set_description(self, desc: str, refresh: bool = True) -> None:
        self.desc = desc

    def __enter__(self) -> "LineProgress":
        return self

    def __exit__(self, *exception: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._printed_n != self.n and self.n > self._start_n:
            self._print(time.monotonic())

    def _print(self, now: float) -> None:
        self._last_print_s = now
        self._printed_n = self.n
        elapsed = now - self._start_s
        rate = (self.n - self._start_n) / elapsed if elapsed > 0 else 0.0
        parts = [f"{self.desc}: {self.unit} {self.n}/{self.total} ({100 * self.n / max(1, self.total):.0f}%)"]
        if rate > 0:
            parts.append(f"{rate:.3g} {self.unit}/s")
            if self.n < self.total:
                parts.append(f"eta {_duration((self.total - self.n) / rate)}")
        parts += [f"{key}={value}" for key, value in self.postfix.items()]
        print(", ".join(parts), file=self.stream, flush=True)


def progress_bar(*, total: int, desc: str, enabled: bool = True, initial: int = 0, unit: str = "step", leave: bool = True,
                 stream: TextIO | None = None) -> Any:
    """A tqdm bar when `stream` (default stderr) is a terminal, else a LineProgress; silent when not `enabled`."""
    stream = sys.stderr if stream is None else stream
    interactive = getattr(stream, "isatty", lambda: False)()
    if enabled and not interactive:
        return LineProgress(total=total, initial=initial, desc=desc, stream=stream, unit=unit)
    return tqdm(total=total, initial=initial, unit=unit, dynamic_ncols=True, disable=not enabled, desc=desc, file=stream, leave=leave)


def progress_iter(items: Iterable[Item], *, total: int, desc: str, enabled: bool = True, unit: str = "batch",
                  stream: TextIO | None = None) -> Iterator[Item]:
    """`items`, reporting each one through `progress_bar` (a bar that disappears when done, on a terminal)."""
    with progress_bar(total=total, desc=desc, enabled=enabled, unit=unit, leave=False, stream=stream) as bar:
        for item in items:
            yield item
            bar.update(1)
