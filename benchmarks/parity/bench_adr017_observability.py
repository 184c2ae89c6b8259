"""ADR-017 on a real Kaizen agent: kaizen-perf's overhead budgets, measured while it
observes a ``BaseAgent`` of the installed kailash-kaizen.

The agent answers one question per run (single-shot strategy, one LLM request to
the fake provider in ``_fake_llm``). kaizen-perf is attached the way a user
attaches it, ``kaizen_perf.integrations.kaizen.instrument(monitor)``, with a
monitor of each kind (metrics; metrics + JSON event logs; metrics + spans). The
"off" run and the "on" runs both instrument and uninstrument once per sample, so
the patching itself is in both and the difference is the observed runs.

A sample is the process CPU time of one run, in ms: CPU time because the
agent's wall time swings with every other process of a shared machine while the
work kaizen-perf adds is CPU work (the fake provider's thread is in both).
"""

from __future__ import annotations

import atexit
import contextlib
import io
import shutil
import tempfile
import time
from typing import Any

from kaizen.core.base_agent import BaseAgent
from kaizen.core.config import BaseAgentConfig
from kaizen.signatures import InputField, OutputField, Signature

import kaizen_perf
from benchmarks import bench_audit
from benchmarks.parity._fake_llm import MODEL, base_url
from benchmarks.parity._support import cpu_time, measured
from kaizen_perf.integrations import kaizen as kp_kaizen
from kaizen_perf.regression import benchmark

RUNS = 1
_AGENT: list[BaseAgent] = []
_MON: dict[str, kaizen_perf.Monitor] = {}


class Question(Signature):
    """Answer a question."""

    question: str = InputField(desc="Question")
    answer: str = OutputField(desc="Answer")


def _agent() -> BaseAgent:
    if not _AGENT:
        config = BaseAgentConfig(llm_provider="openai", model=MODEL, base_url=base_url(),
                                 api_key="sk-parity")
        agent = BaseAgent(config=config, signature=Question(), mcp_servers=[],
                          agent_id="parity-agent")
        result = agent.run(question="What is 5*7?")  # first run: lazy imports and caches
        if str(result.get("answer")) != "35":
            raise AssertionError(f"the Kaizen agent did not answer from the provider: {result}")
        _AGENT.append(agent)
    return _AGENT[0]


def _monitor(kind: str) -> kaizen_perf.Monitor:
    if kind not in _MON:
        settings: dict[str, Any] = {}
        if kind == "logs":
            folder = tempfile.mkdtemp(prefix="parity-logs-")
            atexit.register(shutil.rmtree, folder, True)
            settings = {"log_events": "all", "log_file": f"{folder}/agent.log"}
        elif kind == "traces":
            settings = {"traces": "memory"}
        _MON[kind] = kaizen_perf.Monitor(f"parity-{kind}", **settings)
        atexit.register(_MON[kind].shutdown)
    return _MON[kind]


def _runs(kind: str | None) -> float:
    agent = _agent()
    monitor = _monitor(kind or "metrics")
    with contextlib.redirect_stdout(io.StringIO()):
        if kind is None:
            kp_kaizen.instrument(monitor)
            kp_kaizen.uninstrument()
        start = time.process_time()
        if kind is not None:
            kp_kaizen.instrument(monitor)
        try:
            for _ in range(RUNS):
                agent.run(question="What is 5*7?")
        finally:
            if kind is not None:
                kp_kaizen.uninstrument()
        elapsed = time.process_time() - start
    return elapsed * 1e3


def _setup() -> None:
    _agent()
    for kind in ("metrics", "logs", "traces"):
        _monitor(kind)


@benchmark(unit="ms", setup=_setup, gate=0.05)
def bench_agent_off() -> float:
    """CPU ms of one Kaizen agent run with kaizen-perf not attached (the reference)."""
    return _runs(None)


@benchmark(unit="ms", setup=_setup, gate=0.05)
def bench_agent_metrics() -> float:
    """CPU ms of one run observed by ``instrument()`` into a metrics monitor."""
    return _runs("metrics")


@benchmark(unit="ms", setup=_setup, gate=0.05)
def bench_agent_logs() -> float:
    """CPU ms of one run observed with every event also logged as a JSON line."""
    return _runs("logs")


@benchmark(unit="ms", setup=_setup, gate=0.05)
def bench_agent_traces() -> float:
    """CPU ms of one run observed with OpenTelemetry spans (in-memory exporter)."""
    return _runs("traces")


@cpu_time
@benchmark(setup=_setup, pairs_per_round=1)
def bench_export_after_agent() -> None:
    """``export_metrics()`` of the monitor that observed the Kaizen agent (a scrape)."""
    _monitor("metrics").export_metrics()


@measured("wall")  # an fsync is waiting: wall time is what a caller feels
@benchmark(pairs_per_round=1, gate=0.5)  # kaizen-perf's own fsync: here for its budget only
def bench_audit_append() -> None:
    """One durable audit entry (the default suite's ``bench_audit.bench_audit_append``)."""
    bench_audit.bench_audit_append()
