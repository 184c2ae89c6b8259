"""The reference agent workload with instrumentation off and on (the overhead budgets).

Logs go to a file in a temporary directory and spans to the in-memory exporter,
so the measured cost is kaizen-perf's own, not a terminal's or a collector's.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from typing import Any

import kaizen_perf
from benchmarks.workloads.reference_agent import run_agent

ITERATIONS = 5  # about 30 ms per call: one sample per call
_MON: dict[str, kaizen_perf.Monitor] = {}


def _monitor(kind: str, **settings: Any) -> kaizen_perf.Monitor:
    if kind not in _MON:
        _MON[kind] = kaizen_perf.Monitor(f"bench-agent-{kind}", **settings)
        atexit.register(_MON[kind].shutdown)
    return _MON[kind]


def _metrics_monitor() -> kaizen_perf.Monitor:
    return _monitor("metrics")


def _log_dir() -> str:
    tmp = tempfile.mkdtemp(prefix="bench-agent-logs-")
    atexit.register(shutil.rmtree, tmp, True)  # registered first, so it runs after shutdown
    return tmp


def bench_agent_off() -> None:
    """The reference agent with every hook a no-op (the overhead baseline)."""
    run_agent(ITERATIONS, None)


def bench_agent_metrics() -> None:
    """The reference agent with a real Monitor aggregating Prometheus metrics."""
    run_agent(ITERATIONS, _metrics_monitor())


def bench_agent_logs() -> None:
    """The reference agent with every hook event logged as a JSON line to a file."""
    if "logs" not in _MON:
        _monitor("logs", log_events="all", log_file=f"{_log_dir()}/agent.log")
    run_agent(ITERATIONS, _MON["logs"])


def bench_agent_traces() -> None:
    """The reference agent with OpenTelemetry spans (in-memory exporter)."""
    run_agent(ITERATIONS, _monitor("traces", traces="memory"))


def bench_agent_all() -> None:
    """The reference agent with metrics, traces and logs all on."""
    if "all" not in _MON:
        _monitor("all", traces="memory", log_events="all", log_file=f"{_log_dir()}/all.log")
    run_agent(ITERATIONS, _MON["all"])
