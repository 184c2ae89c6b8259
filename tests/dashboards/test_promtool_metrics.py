"""`promtool check metrics` accepts what kaizen-perf serves: every family of the table, and the
/metrics of a real `kaizen-perf run`."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

from kaizen_perf.metrics import METRICS, new_families
from kaizen_perf.metrics.exposition import render
from tests.helpers import free_port, need_binary
from tests.unit.metrics_util import value

AGENT = textwrap.dedent("""
    import os, sys, time
    import kaizen_perf
    mon = kaizen_perf.get_monitor()
    with mon.agent_loop(), mon.tool("search"):
        mon.record_api_call("anthropic", "claude-haiku-4-5", 100, 10, duration_s=0.2)
    mon.checkpoint(op="save", size_bytes=2048, duration_s=0.01)
    while not os.path.exists(sys.argv[1]):
        time.sleep(0.05)
""")


def _promtool_check(text: str) -> subprocess.CompletedProcess[str]:
    promtool = need_binary("promtool", "prometheus")
    return subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.mark.e2e
def test_every_metric_in_the_table_passes_promtool() -> None:
    """Each declared family, with a series, is named and typed the way promtool requires."""
    families = new_families(cap=10)
    for fam in families.values():
        key = tuple("x" for _ in fam.spec.labels)
        if fam.spec.kind == "histogram":
            fam.observe(key, 0.5)
        elif fam.spec.kind == "counter":
            fam.inc(key, 1)
        else:
            fam.set(key, 1)
    text = render(families.values())
    assert all(f"# TYPE {name} " in text for name in METRICS)
    done = _promtool_check(text)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.e2e
def test_live_run_metrics_pass_promtool(tmp_path: Path) -> None:
    """The /metrics a user's Prometheus scrapes from `kaizen-perf run` passes promtool."""
    need_binary("promtool", "prometheus")
    script, go = tmp_path / "agent.py", tmp_path / "go"
    script.write_text(AGENT)
    port = free_port()
    runner = subprocess.Popen([sys.executable, "-m", "kaizen_perf", "run", "--no-profile",
                               "--agent-id", "promtool", "--interval", "0.2", "--metrics-addr",
                               f"127.0.0.1:{port}", "--out", str(tmp_path / "run"), "--",
                               sys.executable, str(script), str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    text, deadline = "", time.monotonic() + 120  # a loaded machine starts slowly
    try:
        # ready once both the hooks and the process sampler have reached the endpoint
        while time.monotonic() < deadline and runner.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                    text = r.read().decode()
            except OSError:
                time.sleep(0.2)
                continue
            if value(text, "kaizen_process_processes", agent="promtool") and value(
                    text, "kaizen_tool_calls_total", agent="promtool", tool="search",
                    status="ok"):
                break
            time.sleep(0.2)
    finally:
        go.touch()
        _, err = runner.communicate(timeout=60)
    assert runner.returncode == 0, err
    # (the cost series may still be pending: prices can load after the first call)
    assert "kaizen_process_cpu_seconds_total" in text and "kaizen_api_requests_total" in text
    done = _promtool_check(text)
    assert done.returncode == 0, done.stdout + done.stderr
