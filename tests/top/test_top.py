"""`kaizen-perf top`: arithmetic on real scrapes, and the live view in a real terminal (tmux)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kaizen_perf import Monitor
from kaizen_perf.testing import FakeClock
from kaizen_perf.top import Poller, parse, rows
from tests.helpers import free_port, need_binary


def test_rates_come_from_two_scrapes() -> None:
    """Loop rate, cost per hour and tool p95 are computed over the window between scrapes."""
    clock = FakeClock()
    mon = Monitor("alpha", environ={}, clock=clock)
    try:
        old = parse(mon.export_metrics(), t=100.0)
        for _ in range(10):
            with mon.agent_loop(), mon.tool("search"):
                clock.advance(0.05)
            mon.record_api_call("anthropic", "claude-haiku-4-5", 1000, 100)
        new = parse(mon.export_metrics(), t=110.0)
    finally:
        mon.shutdown(2.0)
    (row,) = rows(new, old)
    assert row.agent == "alpha"
    assert row.loops_per_s == pytest.approx(1.0)
    cost = 10 * (1000 * 1 + 100 * 5) / 1e6
    assert row.cost_usd == pytest.approx(cost)
    assert row.cost_per_hour == pytest.approx(cost / 10 * 3600)
    assert row.tool_p95_s is not None and 0.04 <= row.tool_p95_s <= 0.08


def test_quantile_matches_the_histogram_quantile_of_a_monitor() -> None:
    """top's p95 from cumulative scrape buckets equals the run summary's from raw buckets."""
    from kaizen_perf.metrics.summary import stats
    from kaizen_perf.top import quantile_from_cumulative

    clock = FakeClock()
    mon = Monitor("q", environ={}, clock=clock)
    try:
        for ms in (1, 3, 3, 8, 30, 30, 60, 200):
            with mon.tool("t"):
                clock.advance(ms / 1000)
        snap = parse(mon.export_metrics(), t=1.0)
        with mon.pipeline.lock:
            expected = stats(mon.metrics.families["kaizen_tool_duration_seconds"]).p95
    finally:
        mon.shutdown(2.0)
    got = quantile_from_cumulative(0.95, snap.buckets("kaizen_tool_duration_seconds", "q"))
    assert got == pytest.approx(expected)
    assert quantile_from_cumulative(0.95, {}) is None


def test_poller_keeps_last_figures_when_the_endpoint_dies() -> None:
    """A failed scrape shows an error but keeps the last figures on screen."""
    texts = iter(['kaizen_api_cost_usd_total{agent="a",provider="p",model="m"} 1.0\n'])

    def get(url: str) -> str:
        try:
            return next(texts)
        except StopIteration:
            raise OSError("connection refused") from None

    poller = Poller("http://x/metrics", get=get, clock=iter([1.0, 2.0, 3.0]).__next__)
    assert poller.poll()[0].cost_usd == 1.0
    assert poller.poll()[0].cost_usd == 1.0 and "connection refused" in (poller.error or "")


SERVER = textwrap.dedent("""
    import sys, time, kaizen_perf
    mon = kaizen_perf.configure(agent_id="tmux-agent", metrics_addr=sys.argv[1])
    end = time.time() + 60
    while time.time() < end:
        with mon.agent_loop(), mon.tool("search"):
            time.sleep(0.01)
        mon.record_api_call("anthropic", "claude-haiku-4-5", 100, 10)
""")


@pytest.fixture
def agent_endpoint(tmp_path: Path) -> Iterator[str]:
    script = tmp_path / "agent.py"
    script.write_text(SERVER)
    addr = f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen([sys.executable, str(script), addr])
    time.sleep(1.5)
    yield addr
    proc.kill()
    proc.wait()


def _capture(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                          text=True, check=False).stdout


def test_top_in_a_real_terminal(agent_endpoint: str) -> None:
    """In tmux, top shows the agent with a loop rate and cost, and quits on q."""
    tmux = need_binary("tmux", "tmux")
    session = f"kp-top-{free_port()}"
    cmd = f"{sys.executable} -m kaizen_perf top {agent_endpoint} --interval 0.5"
    subprocess.run([tmux, "new-session", "-d", "-s", session, "-x", "160", "-y", "30", cmd],
                   check=True)
    try:
        screen, loops, deadline = "", None, time.monotonic() + 20
        while loops is None and time.monotonic() < deadline:
            time.sleep(0.3)
            screen = _capture(session)
            row = [ln for ln in screen.splitlines() if "tmux-agent" in ln]
            cells = row[0].split("│") if row else []
            if len(cells) > 4 and cells[4].strip().replace(".", "", 1).isdigit():
                loops = float(cells[4])  # columns: agent, CPU %, RSS, loops/s, …
        assert loops is not None, screen
        assert loops > 5  # ~ 1 / (10 ms + overhead) per second
        subprocess.run([tmux, "send-keys", "-t", session, "q"], check=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            alive = subprocess.run([tmux, "has-session", "-t", session], capture_output=True,
                                   check=False).returncode == 0
            if not alive:
                break
            time.sleep(0.2)
        assert not alive, "top did not quit on q"
    finally:
        subprocess.run([tmux, "kill-session", "-t", session], capture_output=True, check=False)
