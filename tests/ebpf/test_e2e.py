"""`kaizen-perf run --ebpf` end to end: real bpftrace, real /metrics, the run directory."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from kaizen_perf.collectors.ebpf import Availability
from tests.helpers import free_port
from tests.unit.metrics_util import value

KP = [sys.executable, "-m", "kaizen_perf"]
AGENT = str(Path(__file__).with_name("e2e_agent.py"))
CONNECTS = 9


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        return str(resp.read().decode())


def _wait_for_connects(port: int, agent: str, timeout_s: float = 30.0) -> str:
    deadline, text = time.monotonic() + timeout_s, ""
    while time.monotonic() < deadline:
        try:
            text = _scrape(port)
        except OSError:
            text = ""
        if value(text, "kaizen_tcp_connect_duration_seconds_count", agent=agent) == CONNECTS:
            return text
        time.sleep(0.5)
    return text


def test_run_with_ebpf_exports_kernel_metrics_per_agent(ebpf: Availability,
                                                        tmp_path: Path) -> None:
    """Connect latency, off-CPU and bpftrace's own CPU reach /metrics and the run directory."""
    out, stop, port = tmp_path / "run", tmp_path / "stop", free_port()
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(CONNECTS + 4)
        proc = subprocess.Popen([*KP, "run", "--ebpf", "--no-profile", "--agent-id", "kagent",
                                 "--metrics-addr", f"127.0.0.1:{port}", "--out", str(out), "--",
                                 sys.executable, AGENT, str(out), str(server.getsockname()[1]),
                                 str(CONNECTS), str(stop)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            text = _wait_for_connects(port, "kagent")
        finally:
            stop.write_text("")
            stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert value(text, "kaizen_tcp_connect_duration_seconds_count", agent="kagent") == CONNECTS
    assert value(text, "kaizen_offcpu_seconds_total", agent="kagent", kind="blocked") >= 0.5
    assert value(text, "kaizen_offcpu_seconds_total", agent="kagent", kind="runqueue") >= 0
    assert value(text, "kaizen_perf_profiler_cpu_seconds_total", profiler="bpftrace") > 0
    records = [json.loads(x) for x in (out / "ebpf.jsonl").read_text().splitlines()]
    assert [r["type"] for r in records][:2] == ["start", "attached"]
    assert records[-1]["type"] == "summary" and records[-1]["peak_rss_bytes"] > 0
    assert json.loads((out / "run.json").read_text())["warnings"] == []
    assert (out / "ebpf-main.bt").exists() and "warning" not in stdout


def test_run_with_ebpf_but_no_bpftrace_warns_once_and_goes_on(tmp_path: Path) -> None:
    """Without bpftrace the run still works, with one warning naming the fix."""
    env = {**os.environ, "PATH": str(tmp_path)}  # no bpftrace (nor anything else) on PATH
    proc = subprocess.run([*KP, "run", "--ebpf", "--no-profile", "--metrics-addr", ":0",
                           "--out", str(tmp_path / "run"), "--", sys.executable, "-c", "pass"],
                          capture_output=True, text=True, timeout=60, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("eBPF unavailable: bpftrace not found") == 1
    assert "apt-get install bpftrace" in proc.stdout
