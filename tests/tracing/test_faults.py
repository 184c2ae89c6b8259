"""Backends that refuse or never answer, under >= 60 s of load, in a real agent subprocess.

Each test first runs the same agent for a short while against a healthy OTLP
receiver (the "normal" hook latency), then against the broken endpoint, and
checks: hook p99 within 2x normal, memory bounded, failures counted, and the
process exits within the shutdown deadline (5 s) after its work is done.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import free_port
from tests.tracing.receiver import otlp_receiver

ROOT = Path(__file__).resolve().parents[2]
SECONDS = float(os.environ.get("KAIZEN_PERF_FAULT_SECONDS", "60"))
BASELINE_SECONDS = 10.0
SHUTDOWN_DEADLINE_S = 5.0


def _run_agent(endpoint: str, seconds: float) -> tuple[dict[str, Any], float]:
    """Run the agent; returns its results and the seconds from DONE to process exit."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.tracing.fault_agent", endpoint,
                             str(seconds)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None
    results: dict[str, Any] = {}
    done_at = None
    for line in proc.stdout:
        if line.startswith("{"):
            results = json.loads(line)
        elif line.strip() == "DONE":
            done_at = time.monotonic()
            break
    proc.wait(timeout=60)
    assert done_at is not None and proc.returncode == 0, proc.returncode
    return results, time.monotonic() - done_at


def _check(normal: dict[str, Any], faulty: dict[str, Any], exit_s: float) -> None:
    assert faulty["p99_ns"] <= 2 * max(normal["p99_ns"], 2_000), (normal, faulty)
    steady = faulty["rss"][2:]  # after 10 s: queues full, steady state
    assert max(steady) - min(steady) < 40 * 2**20, faulty["rss"]
    assert exit_s < SHUTDOWN_DEADLINE_S + 2.0, exit_s
    assert faulty["export_errors"]["traces-otlp"] > 0


@pytest.mark.slow
def test_refused_endpoint_for_a_minute_does_not_hurt_the_agent() -> None:
    """Refused for 60 s: hot path unaffected, memory flat, failures counted, prompt exit."""
    with otlp_receiver() as rec:
        normal, _ = _run_agent(rec.url, BASELINE_SECONDS)
    faulty, exit_s = _run_agent(f"http://127.0.0.1:{free_port()}", SECONDS)
    print("refused:", json.dumps({k: v for k, v in faulty.items() if k != "rss"}),
          "normal p99", normal["p99_ns"], "exit", round(exit_s, 2))
    _check(normal, faulty, exit_s)


@pytest.mark.slow
def test_black_holed_endpoint_for_a_minute_does_not_hurt_the_agent() -> None:
    """An endpoint that accepts and never answers for 60 s: same guarantees, exit on deadline."""
    with otlp_receiver() as rec:
        normal, _ = _run_agent(rec.url, BASELINE_SECONDS)
    with otlp_receiver(hang=True) as hole:
        faulty, exit_s = _run_agent(hole.url, SECONDS)
    print("black hole:", json.dumps({k: v for k, v in faulty.items() if k != "rss"}),
          "normal p99", normal["p99_ns"], "exit", round(exit_s, 2))
    _check(normal, faulty, exit_s)
    assert sum(faulty["dropped"].values()) > 0
