"""Alerts that fire under `kaizen-perf run` reach alerts.jsonl, the report's data and its HTML."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from kaizen_perf.alerts.jsonl import JsonlNotifier
from kaizen_perf.alerts.model import Alert
from kaizen_perf.report import data
from kaizen_perf.report.build import write_report

#: calls one tool with the same arguments three times in a row: the built-in loop alert
LOOPING_AGENT = textwrap.dedent("""
    import kaizen_perf
    mon = kaizen_perf.get_monitor()
    for _ in range(3):
        with mon.agent_loop(), mon.tool("search", arguments={"q": "same question"}):
            pass
""")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("alerts")
    agent = tmp / "looping_agent.py"
    agent.write_text(LOOPING_AGENT)
    out = tmp / "run"
    subprocess.run([sys.executable, "-m", "kaizen_perf", "run", "--no-profile",
                    "--metrics-addr", ":0", "--agent-id", "looper", "--out", str(out), "--",
                    sys.executable, str(agent)], check=True, capture_output=True, timeout=120)
    return out


def _loop_alerts(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if d.get("rule") == "KaizenAgentLoop"]


def test_run_writes_the_alert_that_fired_to_alerts_jsonl(run_dir: Path) -> None:
    """The loop alert that fired during the run is a line of alerts.jsonl, readable only by
    the owner like the rest of the run directory."""
    path = run_dir / "alerts.jsonl"
    docs = [json.loads(line) for line in path.read_text().splitlines()]
    (alert,) = _loop_alerts(docs)
    assert alert["status"] == "firing" and alert["version"] == 1
    assert alert["labels"] == {"agent": "looper", "tool": "search"}
    assert "3 times in a row" in alert["summary"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_report_data_and_html_show_the_alert(run_dir: Path) -> None:
    """The report's loader returns the alert and the written HTML lists it, not 'No alert'."""
    loaded = data.load(run_dir)
    assert [a["labels"]["tool"] for a in _loop_alerts(loaded.alerts)] == ["search"]
    page = write_report(run_dir).read_text()
    section = page[page.index("<section id=alerts>"):]
    section = section[:section.index("</section>")]
    assert "KaizenAgentLoop" in section and "looper" in section and "firing" in section
    assert "No alert fired" not in page


def test_report_in_chromium_shows_the_alert_row(browser: Any, run_dir: Path) -> None:
    """In a real browser the Alerts table has a firing KaizenAgentLoop row for the agent."""
    page = browser.new_page()
    try:
        page.goto(write_report(run_dir).as_uri())
        row = page.locator("#alerts tr.alert-firing").first
        assert "KaizenAgentLoop" in row.inner_text() and "looper" in row.inner_text()
    finally:
        page.close()


def test_notifier_redacts_and_appends(tmp_path: Path) -> None:
    """Each notification is appended as its own line, with secrets in it redacted."""
    path = tmp_path / "alerts.jsonl"
    notifier = JsonlNotifier(path, file_mode=0o640)
    secret = "sk-ant-api03-" + "A" * 90
    for status in ("firing", "resolved"):
        notifier.notify(Alert("R", "latency", "warning", status,  # type: ignore[arg-type]
                              {"agent": "a"}, 2.0, 1.0, f"slow call with key {secret}",
                              1.0, 2.0))
    lines = path.read_text().splitlines()
    assert [json.loads(x)["status"] for x in lines] == ["firing", "resolved"]
    assert secret not in path.read_text() and "REDACTED" in lines[0]
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
