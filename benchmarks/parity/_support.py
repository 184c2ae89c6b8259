"""Shared plumbing of the parity suite: one event loop per worker, a scratch
directory, percentiles and tracemalloc deltas (no benchmark here: the name does
not start with ``bench_``)."""

from __future__ import annotations

import asyncio
import atexit
import gc
import math
import shutil
import tempfile
import tracemalloc
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
_RUNNER: list[asyncio.Runner] = []
_SCRATCH: list[Path] = []


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on this worker's one event loop (made once: a fresh loop per
    sample would be timed as part of Kaizen)."""
    if not _RUNNER:
        runner = asyncio.Runner()
        atexit.register(runner.close)
        _RUNNER.append(runner)
    return _RUNNER[0].run(coro)


def scratch(name: str) -> Path:
    """A directory of this worker's private temporary tree (removed at exit)."""
    if not _SCRATCH:
        root = Path(tempfile.mkdtemp(prefix="kaizen-parity-"))
        atexit.register(shutil.rmtree, root, True)
        _SCRATCH.append(root)
    path = _SCRATCH[0] / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (nearest rank), as the ADRs' "p95" means it."""
    xs = sorted(values)
    return xs[min(len(xs) - 1, max(0, math.ceil(q * len(xs)) - 1))]


def allocated_by(build: Callable[[], T]) -> tuple[int, T]:
    """Bytes still allocated after ``build()`` returns (tracemalloc delta), and its result."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = build()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return after - before, kept


F = TypeVar("F", bound=Callable[..., Any])


def measured(measure: str) -> Callable[[F], F]:
    """Declare what the engine's samples of a timed benchmark measure ("wall", "cpu").

    Every timed benchmark of this suite declares it: left to "auto", the engine may
    pick callgrind instruction counts, and importing Kaizen under valgrind takes
    minutes on a busy 2-core machine. Set on the ``@benchmark`` metadata, so it goes
    above that decorator.
    """
    def mark(fn: F) -> F:
        meta = dict(getattr(fn, "__kaizen_bench__", None) or {})
        meta["measure"] = measure
        setattr(fn, "__kaizen_bench__", meta)  # noqa: B010 - the engine's metadata attribute
        return fn
    return mark


#: The parity suite's CPU-bound Kaizen calls: process CPU time (all threads) leaves out
#: the time other processes take from a shared machine, so their absolute budgets and
#: paired comparisons move far less with the load than wall time would.
cpu_time = measured("cpu")
