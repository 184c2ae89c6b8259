"""Bad configuration never kills the agent: `run` refuses it up front (exit 2, the variable
named); in-process the hooks become no-ops with one warning; typos get the nearest name."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

from kaizen_perf.envcheck import env_problems, unknown_variables

ROOT = Path(__file__).resolve().parents[2]
AGENT = textwrap.dedent("""
    import kaizen_perf
    mon = kaizen_perf.get_monitor()
    for _ in range(3):
        with mon.tool("search"):
            pass
        mon.record_api_call("anthropic", "claude-haiku-4-5", 1, 1)
    assert kaizen_perf.get_monitor() is mon
    print("agent ok", flush=True)
""")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAIZEN_PERF_")}
    return {**env, **extra}


def test_run_refuses_a_bad_variable_with_exit_2_and_starts_nothing(tmp_path: Path) -> None:
    """`kaizen-perf run` names the variable and exits 2 before the command starts."""
    marker = tmp_path / "started"
    proc = subprocess.run(
        [sys.executable, "-m", "kaizen_perf", "run", "--no-profile", "--out",
         str(tmp_path / "r"), "--", sys.executable, "-c", f"open({str(marker)!r}, 'w')"],
        cwd=ROOT, env=_env(KAIZEN_PERF_TRACE_SAMPLE_RATIO="abc"), capture_output=True,
        text=True, timeout=120)
    assert proc.returncode == 2
    assert "KAIZEN_PERF_TRACE_SAMPLE_RATIO='abc'" in proc.stderr
    assert not marker.exists()


def test_in_process_a_bad_variable_turns_hooks_off_with_one_warning() -> None:
    """An agent whose environment holds a bad value runs normally, told once why monitoring
    is off; get_monitor() does not raise."""
    proc = subprocess.run([sys.executable, "-c", AGENT], cwd=ROOT, capture_output=True,
                          text=True, timeout=120,
                          env=_env(KAIZEN_PERF_TRACE_SAMPLE_RATIO="abc"))
    assert proc.returncode == 0, proc.stderr
    assert "agent ok" in proc.stdout
    assert proc.stderr.count("monitoring is OFF") == 1, proc.stderr
    assert "KAIZEN_PERF_TRACE_SAMPLE_RATIO='abc'" in proc.stderr


def test_a_taken_metrics_port_does_not_kill_the_agent() -> None:
    """A /metrics address already in use leaves the agent running, unmonitored, warned once."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run([sys.executable, "-c", AGENT], cwd=ROOT, capture_output=True,
                              text=True, timeout=120,
                              env=_env(KAIZEN_PERF_METRICS_ADDR=f"127.0.0.1:{port}"))
    assert proc.returncode == 0, proc.stderr
    assert "agent ok" in proc.stdout and proc.stderr.count("monitoring is OFF") == 1


def test_unknown_names_get_a_warning_with_the_nearest_real_one() -> None:
    """A mistyped KAIZEN_PERF_* name is reported with the real name it is closest to, in
    `run` and in-process alike."""
    [warning] = unknown_variables({"KAIZEN_PERF_TRACE_SAMPLE_RATI": "0.5", "HOME": "/root"})
    assert "did you mean KAIZEN_PERF_TRACE_SAMPLE_RATIO?" in warning
    proc = subprocess.run([sys.executable, "-c", AGENT], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env=_env(KAIZEN_PERF_SERIES_CAPP="5"))
    assert proc.returncode == 0, proc.stderr
    assert "did you mean KAIZEN_PERF_SERIES_CAP?" in proc.stderr


def test_env_problems_lists_every_bad_variable_by_name() -> None:
    """Each unusable value is reported separately; a clean environment has none."""
    problems = env_problems({"KAIZEN_PERF_BUFFER_SIZE": "lots", "KAIZEN_PERF_ENABLED": "maybe",
                             "KAIZEN_PERF_RUN_DIR_MODE": "0644"})
    assert len(problems) == 3
    assert "KAIZEN_PERF_BUFFER_SIZE='lots'" in problems[0]
    assert env_problems({"KAIZEN_PERF_BUFFER_SIZE": "100"}) == []
