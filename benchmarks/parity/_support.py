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


def cpu_time(fn: F) -> F:
    """Declare that the engine times ``fn`` in process CPU time (all threads).

    The parity suite's timed benchmarks are CPU-bound Kaizen calls judged against
    absolute budgets: CPU time leaves out the time other processes take from a
    shared machine, so the budget check and the paired comparison move far less
    with the load than wall time would. Set on the ``@benchmark`` metadata, so it
    goes under that decorator.
    """
    meta = dict(getattr(fn, "__kaizen_bench__", None) or {})
    meta["measure"] = "cpu"
    setattr(fn, "__kaizen_bench__", meta)  # noqa: B010 - the engine's metadata attribute
    return fn
