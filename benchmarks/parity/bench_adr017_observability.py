"""ADR-017 on a real Kaizen agent: kaizen-perf's overhead budgets, measured while it
observes a ``BaseAgent`` of the installed kailash-kaizen.

The agent answers one question per run (single-shot strategy, one LLM request to
the fake provider in ``_fake_llm``). kaizen-perf is attached the way a user
attaches it, ``kaizen_perf.integrations.kaizen.instrument(monitor)``, with a
monitor of each kind (metrics; metrics + JSON event logs; metrics + spans).

A sample is the process CPU time of one run, in ms: CPU time because the
agent's wall time swings with every other process of a shared machine while the
work kaizen-perf adds is CPU work. The fake provider runs in a child process,
so its request handling (a thread per request) is not counted as the agent's:
in the worker it added about a third more run-to-run spread than the
kaizen-perf work being looked for.

What makes the "off" and "on" samples differ only by the monitor (each sample,
outside the timed stretch):

- **the same patching on both sides**: both sides instrument (which rewrites
  Kaizen's class attributes) and the "off" side then uninstruments, so both
  timed runs follow a change of Kaizen's classes. Patching inside the timed
  stretch, as this module first did, timed ``instrument()`` and
  ``uninstrument()`` (~45 us, warm) in the "on" samples only.
- **a warm-up run, untimed**: a class change makes the interpreter drop the
  bytecode it specialised for those classes; the first run after it
  re-specialises (and adopts the agent, makes its agent view). A user
  instruments once, so the steady state is what is timed, on both sides.
- **three timed runs per sample**, after the warm-up run: ~90 ms of CPU, far
  above the clock's resolution, and the untimed warm-up a quarter of the sample.
- **the run's own events, drained in its sample**: the timed stretch ends with
  ``monitor.flush()``, so the dispatcher's aggregation, span building and JSON
  lines of this run are counted in this run, not in whichever sample runs next
  (the dispatcher wakes every 100 ms; a 30 ms run's events used to land in a
  later sample, of either side). The "off" side flushes the same monitor (an
  empty buffer).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import io
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kaizen.core.base_agent import BaseAgent
from kaizen.core.config import BaseAgentConfig
from kaizen.signatures import InputField, OutputField, Signature

import kaizen_perf
from benchmarks import bench_audit
from benchmarks.parity._fake_llm import MODEL, allow_loopback
from benchmarks.parity._support import cpu_time, measured
from kaizen_perf.integrations import kaizen as kp_kaizen
from kaizen_perf.regression import benchmark

RUNS = 3
_URL: list[str] = []
_AGENT: list[BaseAgent] = []
_MON: dict[str, kaizen_perf.Monitor] = {}


class Question(Signature):
    """Answer a question."""

    question: str = InputField(desc="Question")
    answer: str = OutputField(desc="Answer")


def _provider_url() -> str:
    """``http://localhost:PORT`` of the fake provider, started in a child process once."""
    if not _URL:
        root = Path(__file__).resolve().parents[2]  # the project: ``benchmarks`` importable
        child = subprocess.Popen([sys.executable, "-m", "benchmarks.parity._fake_llm"], cwd=root,
                                 text=True,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        atexit.register(_stop, child)
        assert child.stdout is not None
        port = child.stdout.readline().strip()
        if not port.isdigit():
            _stop(child)
            raise RuntimeError("the fake LLM provider did not start")
        allow_loopback()
        _URL.append(f"http://localhost:{port}")
    return _URL[0]


def _stop(child: subprocess.Popen[str]) -> None:
    child.kill()
    child.wait()


def _agent() -> BaseAgent:
    if not _AGENT:
        config = BaseAgentConfig(llm_provider="openai", model=MODEL, base_url=_provider_url(),
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


def _attach(kind: str | None) -> kaizen_perf.Monitor:
    """Put kaizen-perf in the sample's state: both sides patch Kaizen's classes."""
    monitor = _monitor(kind or "metrics")
    kp_kaizen.uninstrument()
    kp_kaizen.instrument(monitor)
    if kind is None:
        kp_kaizen.uninstrument()
    return monitor


def _runs(kind: str | None) -> float:
    agent = _agent()
    with contextlib.redirect_stdout(io.StringIO()):
        monitor = _attach(kind)
        agent.run(question="What is 5*7?")  # warm-up: re-specialised bytecode, agent view
        monitor.flush()
        gc.collect()
        start = time.process_time()
        for _ in range(RUNS):
            agent.run(question="What is 5*7?")
        monitor.flush()  # this run's events through every sink, counted in this sample
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
