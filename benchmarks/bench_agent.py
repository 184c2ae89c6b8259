"""The reference agent workload with instrumentation off and on (the overhead budgets)."""

from __future__ import annotations

import kaizen_perf
from benchmarks.workloads.reference_agent import run_agent

ITERATIONS = 5  # about 30 ms per call: one sample per call
_MON: list[kaizen_perf.Monitor] = []


def _metrics_monitor() -> kaizen_perf.Monitor:
    if not _MON:
        _MON.append(kaizen_perf.Monitor("bench-agent"))
    return _MON[0]


def bench_agent_off() -> None:
    """The reference agent with every hook a no-op (the overhead baseline)."""
    run_agent(ITERATIONS, None)


def bench_agent_metrics() -> None:
    """The reference agent with a real Monitor aggregating Prometheus metrics."""
    run_agent(ITERATIONS, _metrics_monitor())
