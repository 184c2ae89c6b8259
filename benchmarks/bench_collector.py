"""Process collector: one tick over the worker's own process (psutil reads of /proc)."""

from __future__ import annotations

import os

from kaizen_perf.collectors.process import ProcessCollector

_COLLECTOR: list[ProcessCollector] = []


def bench_process_tick() -> None:
    """``ProcessCollector.tick()`` for one process: the collector's cost per interval."""
    if not _COLLECTOR:
        _COLLECTOR.append(ProcessCollector(os.getpid(), "bench-collector"))
    _COLLECTOR[0].tick()
