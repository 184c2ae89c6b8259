"""`kaizen-perf run` and `attach` end to end: real children, real sockets, real signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import free_port
from tests.unit.metrics_util import value

KP = [sys.executable, "-m", "kaizen_perf"]


def kp(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KP, *args], capture_output=True, text=True, timeout=timeout,
                          check=False)


def test_exit_status_is_the_commands(tmp_path: Path) -> None:
    """`run` exits with the command's status and records it in run.json."""
    out = tmp_path / "run"
    proc = kp("run", "--no-profile", "--metrics-addr", ":0", "--out", str(out), "--",
              sys.executable, "-c", "import sys; sys.exit(7)")
    assert proc.returncode == 7, proc.stderr
    doc = json.loads((out / "run.json").read_text())
    assert doc["format_version"] == 1 and doc["exit_status"] == 7 and doc["mode"] == "run"
    assert "exit status 7" in proc.stdout and (out / "summary.txt").exists()


def test_child_killed_by_a_signal_is_reported(tmp_path: Path) -> None:
    """A crashing child is reported with 128+signal, not as a kaizen-perf crash."""
    proc = kp("run", "--no-profile", "--metrics-addr", ":0", "--out", str(tmp_path / "r"), "--",
              sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    assert proc.returncode == 128 + signal.SIGKILL
    assert "Traceback" not in proc.stderr and "exit status 137" in proc.stdout


def test_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    """An unknown command exits 2 and names it."""
    proc = kp("run", "--no-profile", "--metrics-addr", ":0", "--out", str(tmp_path / "r"), "--",
              "no-such-command-xyz")
    assert proc.returncode == 2 and "no-such-command-xyz" in proc.stderr


def test_unwritable_out_fails_before_starting_the_command(tmp_path: Path) -> None:
    """--out that cannot be created exits 2 and the command never runs."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    marker = tmp_path / "ran"
    proc = kp("run", "--no-profile", "--out", str(blocker / "sub"), "--", sys.executable, "-c",
              f"open({str(marker)!r}, 'w').close()")
    assert proc.returncode == 2 and "--out" in proc.stderr
    assert not marker.exists()


AGENT = textwrap.dedent("""
    import os, subprocess, sys, time
    import kaizen_perf
    mon = kaizen_perf.get_monitor()
    helper = subprocess.Popen([sys.executable, "-c",
        "import kaizen_perf, time\\nm = kaizen_perf.get_monitor()\\n"
        "[m.tool('fetch').__enter__().__exit__(None, None, None) for _ in range(5)]\\n"
        "time.sleep(0.5)"], env=dict(os.environ, KAIZEN_PERF_AGENT_ID="helper"))
    for _ in range(3):
        with mon.agent_loop(), mon.tool("search"):
            mon.record_api_call("anthropic", "claude-haiku-4-5", 100, 10)
    helper.wait()
    go = sys.argv[1]
    while not os.path.exists(go):
        time.sleep(0.05)
""")


def test_hooks_of_every_python_process_reach_one_endpoint(tmp_path: Path) -> None:
    """Without code changes for wiring, hooks of the child and its Python subprocess are served
    live by the runner's /metrics, per agent."""
    script, go = tmp_path / "agent.py", tmp_path / "go"
    script.write_text(AGENT)
    port = free_port()
    runner = subprocess.Popen([*KP, "run", "--no-profile", "--agent-id", "boss",
                               "--metrics-addr", f"127.0.0.1:{port}", "--out",
                               str(tmp_path / "r"), "--", sys.executable, str(script), str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "KAIZEN_PERF_BUDGET_USD": "5"})
    try:
        text, deadline = "", time.monotonic() + 30
        while time.monotonic() < deadline:
            time.sleep(0.3)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                    text = r.read().decode()
            except OSError:
                continue
            # ready once both processes' hooks and the process sampler have arrived (each
            # child forwards on its own schedule: neither order is guaranteed)
            if value(text, "kaizen_tool_calls_total", agent="helper", tool="fetch",
                     status="ok") == 5 and value(text, "kaizen_process_processes", agent="boss") \
                    and value(text, "kaizen_tool_calls_total", agent="boss", tool="search",
                              status="ok") == 3:
                break
        assert value(text, "kaizen_tool_calls_total", agent="boss", tool="search",
                     status="ok") == 3
        assert value(text, "kaizen_tool_calls_total", agent="helper", tool="fetch",
                     status="ok") == 5
        assert value(text, "kaizen_api_cost_usd_total", agent="boss", provider="anthropic",
                     model="claude-haiku-4-5") == pytest.approx((100 * 1 + 10 * 5) * 3 / 1e6)
        assert value(text, "kaizen_process_resident_memory_bytes", agent="boss") > 0
        # budgets are tracked by the runner over the forwarded calls of every agent
        assert value(text, "kaizen_budget_usd", agent="boss") == 5
        assert value(text, "kaizen_budget_spent_usd", agent="boss") == pytest.approx(
            (100 * 1 + 10 * 5) * 3 / 1e6)
    finally:
        go.touch()
        out, err = runner.communicate(timeout=30)
    assert runner.returncode == 0, err
    assert "agent boss" in out and "tool search" in out


def test_sigterm_is_forwarded_to_the_command(tmp_path: Path) -> None:
    """SIGTERM to the runner reaches the command, which can shut down gracefully."""
    marker = tmp_path / "graceful"
    child = textwrap.dedent(f"""
        import signal, sys, time
        def stop(*_):
            open({str(marker)!r}, "w").close()
            sys.exit(0)
        signal.signal(signal.SIGTERM, stop)
        print("ready", flush=True)
        time.sleep(30)
    """)
    runner = subprocess.Popen([*KP, "run", "--no-profile", "--metrics-addr", ":0", "--out",
                               str(tmp_path / "r"), "--", sys.executable, "-c", child],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert runner.stdout is not None
    while "ready" not in runner.stdout.readline():
        pass
    runner.send_signal(signal.SIGTERM)
    runner.communicate(timeout=20)
    assert marker.exists() and runner.returncode == 0


def test_duration_stops_the_command(tmp_path: Path) -> None:
    """--duration ends the run: the command is terminated and its status reported."""
    start = time.monotonic()
    proc = kp("run", "--no-profile", "--metrics-addr", ":0", "--duration", "1", "--out",
              str(tmp_path / "r"), "--", sys.executable, "-c", "import time; time.sleep(60)")
    assert time.monotonic() - start < 20
    assert proc.returncode == 128 + signal.SIGTERM


def test_cpu_per_agent_matches_getrusage(tmp_path: Path) -> None:
    """The run's CPU seconds agree with the kernel's accounting for the process within 10 %."""
    busy = "import time\nt = time.process_time()\nwhile time.process_time() - t < 2.0: pass"
    out = tmp_path / "r"
    proc = kp("run", "--no-profile", "--metrics-addr", ":0", "--interval", "0.2", "--out",
              str(out), "--", sys.executable, "-c", busy)
    assert proc.returncode == 0
    hooks = json.loads((out / "hooks.json").read_text())
    measured = sum(a["cpu_seconds"] for a in hooks["agents"].values())
    truth = json.loads((out / "run.json").read_text())["children_rusage_cpu_s"]
    assert truth > 1.9
    assert abs(measured - truth) <= 0.1 * truth, (measured, truth)


def test_attach_monitors_a_running_process(tmp_path: Path) -> None:
    """attach samples an existing process until --duration, without touching it."""
    target = subprocess.Popen([sys.executable, "-c",
                               "import time\nt=time.time()\nwhile time.time()-t<20: pass"])
    out = tmp_path / "r"
    try:
        proc = kp("attach", "--no-profile", "--metrics-addr", ":0", "--duration", "1.5",
                  "--interval", "0.25", "--agent-id", "busy", "--out", str(out), str(target.pid))
        assert target.poll() is None  # still running: attach never stops the target
    finally:
        target.kill()
        target.wait()
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((out / "run.json").read_text())
    assert doc["mode"] == "attach" and doc["agents"] == ["busy"]
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert len(lines) >= 4 and json.loads(lines[-1])["cpu_user_s"] > 0.5


def test_attach_to_a_missing_pid_is_a_usage_error(tmp_path: Path) -> None:
    """A PID that does not exist exits 2 with a clear message."""
    proc = kp("attach", "--no-profile", "--out", str(tmp_path / "r"), str(2**22 + 4321))
    assert proc.returncode == 2 and "No process with PID" in proc.stderr


def test_doctor_reports_each_capability() -> None:
    """doctor lists ptrace, eBPF, py-spy and Prometheus findings."""
    proc = kp("doctor", timeout=120)
    assert proc.returncode == 0
    for name in ("py-spy", "eBPF", "prometheus", "promtool", "Pyroscope"):
        assert name in proc.stdout
    if os.geteuid() == 0:
        assert "[ok  ] ptrace (py-spy)" in proc.stdout
