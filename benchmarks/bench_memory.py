"""Memory: the Python heap peak (tracemalloc) while a monitor records 100k events."""

from __future__ import annotations

import tracemalloc

import kaizen_perf
from kaizen_perf.regression import benchmark

EVENTS = 100_000


@benchmark(unit="bytes", gate=0.01)
def bench_peak_100k_events() -> int:
    """Peak traced bytes for 100k tool events, from the first hook call to a flushed pipeline."""
    # No timed flushes: the dispatcher drains only at its high-water mark, so the peak
    # depends on the event count, not on scheduling luck.
    mon = kaizen_perf.Monitor("bench-memory", flush_interval_s=3600.0)
    try:
        tracemalloc.start()
        for _ in range(EVENTS):
            with mon.tool("x"):
                pass
        mon.flush()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    finally:
        mon.shutdown()
    return peak
