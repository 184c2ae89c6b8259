"""A real agent process that sleeps inside a tool: stuck alert by webhook, /readyz not ready."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

from tests.alerts.test_webhook import Receiver, receiver  # noqa: F401 (fixture)
from tests.helpers import free_port

AGENT = textwrap.dedent("""
    import time
    from kaizen_perf import Monitor

    mon = Monitor("sleeper")
    with mon.agent_loop():
        pass
    print("looping", flush=True)
    with mon.agent_loop():
        with mon.tool("sleepy_tool"):
            time.sleep(60)
""")


def _get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_sleeping_agent_is_reported_stuck_with_its_stack(
        receiver: Receiver, tmp_path: Path) -> None:  # noqa: F811
    """After 1 s without progress the webhook gets a stuck alert naming the sleeping tool."""
    script = tmp_path / "sleeper.py"
    script.write_text(AGENT)
    port = free_port()
    env = {**os.environ, "KAIZEN_PERF_STUCK_AFTER_S": "1", "KAIZEN_PERF_ALERT_WEBHOOK":
           receiver.url, "KAIZEN_PERF_METRICS_ADDR": f"127.0.0.1:{port}"}
    proc = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "looping"
        receiver.wait_for(1, timeout_s=20)
        status, body = _get(f"http://127.0.0.1:{port}/readyz")
        alive, _ = _get(f"http://127.0.0.1:{port}/healthz")
    finally:
        proc.kill()
        proc.wait(10)
    alert = next(b for b in receiver.bodies if b["rule"] == "KaizenAgentStuck")
    assert alert["labels"] == {"agent": "sleeper"} and alert["status"] == "firing"
    snap = alert["snapshot"]
    assert snap["pid"] == proc.pid
    assert snap["tools_in_progress"][0]["tool"] == "sleepy_tool"
    frames = [f for t in snap["threads"] for f in t["frames"]]
    assert any("sleeper.py" in f for f in frames), frames
    assert snap["source"] in ("py-spy", "sys._current_frames")  # py-spy needs ptrace
    assert status == 503 and alive == 200
    components = body["components"]
    assert isinstance(components, dict) and components["agents"]["ok"] is False


def test_py_spy_dump_reads_a_sleeping_process() -> None:
    """The snapshot's py-spy path returns the stack of a real sleeping Python process."""
    from kaizen_perf.alerts.snapshot import find_py_spy, py_spy_threads
    from tests.helpers import need
    exe = find_py_spy()
    need(exe is not None, "py-spy not installed (pip install py-spy)")
    assert exe is not None
    proc = subprocess.Popen([sys.executable, "-c", "import time\ndef nap():\n time.sleep(30)\n"
                             "print('x', flush=True)\nnap()"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "x"
        threads = py_spy_threads(proc.pid, py_spy=exe)
    finally:
        proc.kill()
        proc.wait(10)
    need(threads is not None, "py-spy cannot attach here (ptrace not permitted)")
    assert threads is not None
    assert any("nap" in f for t in threads for f in t["frames"])
