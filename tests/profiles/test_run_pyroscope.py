"""`kaizen-perf run --pyroscope URL`: no code changes, agent and tool tags in what is pushed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.profiles.pushreceiver import PushReceiver
from tests.profiles.test_pyroscope import _cpu_by_tool, _need_pyroscope

AGENT = textwrap.dedent("""
    import time
    import kaizen_perf

    def crunch_tool():
        end = time.thread_time() + 1.5
        while time.thread_time() < end:
            pass

    mon = kaizen_perf.get_monitor()
    with mon.tool("crunch"):
        crunch_tool()
""")


def test_run_pushes_tagged_profiles_without_code_changes(tmp_path: Path) -> None:
    """The bootstrap starts Pyroscope in the child; tool() scopes tag its samples."""
    _need_pyroscope()
    script = tmp_path / "agent.py"
    script.write_text(AGENT)
    with PushReceiver() as receiver:
        proc = subprocess.run([sys.executable, "-m", "kaizen_perf", "run", "--no-profile",
                               "--agent-id", "pyro-agent", "--metrics-addr", ":0",
                               "--pyroscope", receiver.url, "--out", str(tmp_path / "r"), "--",
                               sys.executable, str(script)],
                              capture_output=True, text=True, timeout=90, check=False)
        time.sleep(0.2)
    assert proc.returncode == 0, proc.stderr
    series = receiver.received.series
    assert series, "nothing was pushed"
    assert {s.labels["agent"] for s in series} == {"pyro-agent"}
    crunch = _cpu_by_tool(series, "crunch_tool")
    assert set(crunch) == {"crunch"} and crunch["crunch"] > 0.8e9
