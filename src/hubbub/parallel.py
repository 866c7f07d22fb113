"""Worker processes for the CPU-bound parts (mapping records, enrichment steps), shared by the
importer and the enrichment runner: this process reads and writes the store, workers compute."""

from __future__ import annotations

import multiprocessing as mp
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any


def worker_pool(workers: int, initializer: Callable[..., None], initargs: tuple[Any, ...]) -> Any:
    """A process pool. fork on Linux: fast, and scripts need no ``if __name__ == "__main__"``
    guard; the children only compute and never touch the store connection they inherit."""
    ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    return ctx.Pool(workers, initializer=initializer, initargs=initargs)


def in_order(pool: Any, fn: Callable[[Any], Any], items: Iterable[Any], window: int) -> Iterator[tuple[Any, Any]]:
    """(item, fn(item)) in the order of ``items``, computed in ``pool`` with at most ``window``
    items in flight, so reading ahead stays bounded."""
    pending: deque[tuple[Any, Any]] = deque()
    for item in items:
        pending.append((item, pool.apply_async(fn, (item,))))
        if len(pending) >= window:
            done, r = pending.popleft()
            yield done, r.get()
    while pending:
        done, r = pending.popleft()
        yield done, r.get()
