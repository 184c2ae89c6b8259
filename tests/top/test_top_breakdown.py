"""`kaizen-perf top` and the report agree on where an agent's time went (one truth)."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from kaizen_perf.cli.top import render
from kaizen_perf.report import breakdown
from kaizen_perf.top import fetch, parse, rows

AGENT = "timed"


def _scrape_when_complete(url: str, deadline_s: float = 60.0) -> str:
    """/metrics once every forwarded hook event of the agent has arrived (6 calls, 6 tools)."""
    end = time.monotonic() + deadline_s
    text = ""
    while time.monotonic() < end:
        text = fetch(url)
        snap = parse(text, 0.0)
        calls = snap.by_agent("kaizen_api_requests_total").get(AGENT, 0)
        tools = snap.by_agent("kaizen_tool_calls_total").get(AGENT, 0)
        if calls == 6 and tools == 6:
            return text
        time.sleep(0.1)
    pytest.fail(f"the agent's hook events did not all reach /metrics in {deadline_s} s:\n{text}")


def test_top_shows_the_reports_time_breakdown(tmp_path: Path) -> None:
    """On one run, top's LLM time, per-tool times and costs equal the report's "Where the
    time went", and the agent's CPU in top is the report's up to what exiting cost."""
    out = tmp_path / "run"
    run = subprocess.Popen(
        [sys.executable, "-m", "kaizen_perf", "run", "--agent-id", AGENT, "--no-profile",
         "--metrics-addr", ":0", "--out", str(out), "--", sys.executable, "-m",
         "tests.top.timed_agent"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert run.stdout is not None and run.stdin is not None
        url = None
        for line in run.stdout:  # "metrics at http://127.0.0.1:PORT/metrics", then "ready"
            found = re.search(r"metrics at (\S+/metrics)", line)
            url = found[1] if found else url
            if line.strip() == "ready":
                break
        assert url is not None, "kaizen-perf run did not say where /metrics is"
        (row,) = [r for r in rows(parse(_scrape_when_complete(url), time.time()), None)
                  if r.agent == AGENT]
        screen = Console(record=True, width=250, file=io.StringIO())
        screen.print(render([row], url, None))
        run.stdin.write("\n")
        run.stdin.flush()
        run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0
    report_agent = json.loads((out / "hooks.json").read_text())["agents"][AGENT]
    in_report = breakdown.parts(report_agent, None)
    assert [p.label for p in row.time_parts] == [p.label for p in in_report] == [
        "LLM calls", "tool web_search", "tool read_file"]
    for top_part, report_part in zip(row.time_parts, in_report, strict=True):
        assert top_part.seconds == pytest.approx(report_part.seconds, rel=1e-9)
        assert (top_part.cost_usd is None) == (report_part.cost_usd is None)
        assert (top_part.cost_usd or 0.0) == pytest.approx(report_part.cost_usd or 0.0, rel=1e-9)
    assert row.time_parts[0].seconds == pytest.approx(3 * (0.4 + 0.25))
    assert row.time_parts[0].cost_usd == pytest.approx(row.cost_usd) and row.cost_usd > 0
    assert row.cpu_seconds is not None
    assert row.cpu_seconds <= report_agent["cpu_seconds"] <= row.cpu_seconds + 0.5
    # the figures top prints are the ones the report prints
    text = screen.export_text()
    page = (out / "report.html").read_text()
    for part in row.time_parts:
        assert f"{part.seconds:.2f} s" in text
        assert f"<td>{part.seconds:.2f} s</td>" in page


def test_time_parts_are_the_hook_sums_longest_tool_first() -> None:
    """top's parts are the LLM calls' and each tool's summed durations (tools longest first,
    each with its cost); an agent with no hook timings has no "where the time went" row."""
    from kaizen_perf import Monitor
    from kaizen_perf.cli.top import time_table
    from kaizen_perf.testing import FakeClock

    clock = FakeClock()
    mon = Monitor("busy", environ={}, clock=clock)
    try:
        for seconds in (0.2, 0.3):
            with mon.tool("fetch"):
                clock.advance(seconds)
        with mon.tool("parse"):
            clock.advance(0.1)
        mon.record_api_call("anthropic", "claude-haiku-4-5", 1000, 100, duration_s=1.5,
                            tool_calls=["parse"])
        (row,) = rows(parse(mon.export_metrics(), 0.0), None)
    finally:
        mon.shutdown(2.0)
    assert [(p.label, round(p.seconds, 6)) for p in row.time_parts] == [
        ("LLM calls", 1.5), ("tool fetch", 0.5), ("tool parse", 0.1)]
    assert row.time_parts[0].cost_usd == pytest.approx(row.cost_usd) and row.cost_usd > 0
    assert row.time_parts[2].cost_usd == pytest.approx(row.cost_usd)  # the call asked for it
    assert row.time_parts[1].cost_usd is None
    assert time_table([row]) is not None
    assert time_table([type(row)("idle", None, None, None, None, 0.0, None, None)]) is None
