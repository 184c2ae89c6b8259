"""`top`'s alerts column: the alerts a live monitor says are firing, and the stuck rule's
threshold taken from the same setting the rule uses."""

from __future__ import annotations

import os
import subprocess
import sys

from rich.console import Console

from kaizen_perf import Monitor
from kaizen_perf.alerts.specs import StuckRule
from kaizen_perf.cli.top import render, stuck_after
from kaizen_perf.testing import FakeClock
from kaizen_perf.top import parse, rows

SAME = {"q": "same question"}


def _text(group: object) -> str:
    console = Console(width=250, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(group)
    return console.export_text()


def _loop(mon: Monitor) -> None:
    with mon.agent_loop():  # a loop series: the agent has a row with or without alerts
        pass
    for _ in range(3):
        with mon.tool("search", arguments=SAME):
            pass
    mon.flush()


def test_firing_alert_is_on_metrics_and_in_the_top_row_until_it_resolves() -> None:
    """A loop alert shows as kaizen_alerts_firing and in top's alerts column; it leaves both
    when the rule resolves."""
    clock = FakeClock()
    mon = Monitor("looper", environ={"KAIZEN_PERF_ALERTS": "1"}, clock=clock)
    try:
        assert mon.alerts is not None
        _loop(mon)
        mon.alerts.evaluate()
        text = mon.export_metrics()
        assert 'kaizen_alerts_firing{agent="looper",alertname="KaizenAgentLoop"} 1.0' in text
        (row,) = rows(parse(text, t=1.0), None)
        assert row.alerts == ("KaizenAgentLoop",)
        assert "KaizenAgentLoop" in _text(render([row], "u", None))
        clock.advance(301.0)  # past the loop rule's 300 s window: it resolves
        mon.alerts.evaluate()
        text = mon.export_metrics()
        assert "KaizenAgentLoop" not in text
        (row,) = rows(parse(text, t=2.0), None)
        assert row.alerts == ()
    finally:
        mon.shutdown(2.0)


def test_top_once_shows_the_firing_alert_of_a_live_monitor() -> None:
    """`kaizen-perf top --once` against a serving monitor prints the alert that fires."""
    mon = Monitor("looper", environ={"KAIZEN_PERF_ALERTS": "1"}, metrics_addr="127.0.0.1:0")
    try:
        assert mon.alerts is not None and mon.server is not None
        _loop(mon)
        mon.alerts.evaluate()
        out = subprocess.run(
            [sys.executable, "-m", "kaizen_perf", "top", "--once", "--interval", "0.2",
             f"127.0.0.1:{mon.server.port}"], capture_output=True, text=True, timeout=60,
            env={**os.environ, "COLUMNS": "250"}, check=True).stdout
    finally:
        mon.shutdown(2.0)
    # the agents table's row (the "where the time went" table below has one too)
    line = next(ln for ln in out.splitlines() if "looper" in ln)
    assert "KaizenAgentLoop" in line


def test_stuck_threshold_is_the_rules() -> None:
    """Without alert series, top marks an agent stuck past the stuck rule's threshold (600 s
    by default, KAIZEN_PERF_STUCK_AFTER_S when set), not before."""
    clock = FakeClock()
    mon = Monitor("slow", environ={}, clock=clock)
    try:
        with mon.agent_loop():
            pass
        mon.flush()
        text = mon.export_metrics()
    finally:
        mon.shutdown(2.0)
    progress = parse(text, t=0.0).by_agent("kaizen_agent_last_progress_timestamp_seconds")["slow"]
    threshold = stuck_after({})
    assert threshold == StuckRule().after_s
    assert stuck_after({"KAIZEN_PERF_STUCK_AFTER_S": "50"}) == 50.0
    (before,) = rows(parse(text, t=progress + threshold - 1), None)
    (after,) = rows(parse(text, t=progress + threshold + 1), None)
    assert "stuck" not in _text(render([before], "u", None, threshold)).split("slow")[1]
    assert "stuck" in _text(render([after], "u", None, threshold)).split("slow")[1]
