"""The lazy bootstrap of `kaizen-perf run`: nothing of kaizen-perf at start-up, LLM clients
instrumented at their first import, hooks working when the agent uses them."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

CHILD = textwrap.dedent("""
    import json, sys
    at_start = sorted(m for m in sys.modules if m.startswith("kaizen_perf"))
    import openai  # the agent's own import of an LLM client
    from kaizen_perf.integrations import openai as kp_openai
    import kaizen_perf
    with kaizen_perf.get_monitor().tool("lazy_tool"):
        pass
    print("RESULT " + json.dumps({"at_start": at_start,
                                  "instrumented": kp_openai.is_instrumented()}), flush=True)
""")


def _run(tmp_path: Path, script: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "kaizen_perf", "run", "--no-profile",
                           "--metrics-addr", ":0", "--agent-id", "lazy", "--out", str(out), "--",
                           sys.executable, "-c", script],
                          capture_output=True, text=True, timeout=120, check=False)
    return proc, out


def test_bootstrap_loads_nothing_until_the_agent_uses_it(tmp_path: Path) -> None:
    """A child starts with no kaizen_perf module loaded; its openai import is instrumented,
    and its hooks still reach the runner."""
    proc, out = _run(tmp_path, CHILD)
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    assert result == {"at_start": [], "instrumented": True}
    tools = json.loads((out / "hooks.json").read_text())["agents"]["lazy"]["tools"]
    assert tools["lazy_tool"]["calls"] == 1


def test_a_process_that_never_uses_kaizen_perf_never_loads_it(tmp_path: Path) -> None:
    """A plain Python child (a helper script, a test worker) ends without loading kaizen-perf."""
    script = ("import sys, json\n"
              "print('LOADED', json.dumps(sorted(m for m in sys.modules "
              "if m.startswith('kaizen_perf'))))")
    proc, _ = _run(tmp_path, script)
    assert proc.returncode == 0, proc.stderr
    assert "LOADED []" in proc.stdout
