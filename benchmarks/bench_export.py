"""Metrics export with the tool label at its series cap (the worst /metrics scrape)."""

from __future__ import annotations

import kaizen_perf
from kaizen_perf.regression import benchmark

_MON: list[kaizen_perf.Monitor] = []


def _fill() -> None:
    if _MON:
        return
    mon = kaizen_perf.Monitor("bench-export")
    for i in range(mon.settings.series_cap):
        with mon.tool(f"tool-{i:05d}"):
            pass
    mon.flush()
    _MON.append(mon)


@benchmark(setup=_fill, pairs_per_round=2, measure="cpu")
def bench_export_at_caps() -> None:
    """``mon.export_metrics()`` with 10,000 tool series (the default cap)."""
    _MON[0].export_metrics()
