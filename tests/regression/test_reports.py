"""Reports: Markdown for PRs, JSON, JUnit XML and the terminal table."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from rich.console import Console

from kaizen_perf.regression import reports
from kaizen_perf.regression.evaluate import Outcome, ParityRow, Row
from kaizen_perf.regression.stats import Estimate
from kaizen_perf.regression.targets import Target
from kaizen_perf.regression.verdicts import BoundCheck, Parity, Verdict

OUTCOME = Outcome(
    rows=(Row("b.bench_slow", "s", Verdict.REGRESSION, 0.03,
              Estimate(1.08, 1.06, 1.10, 60, 0.95, 0.012, "sign test over 15 worker pairs",
                       0.965), 0.02, 0.079, measure="cpu"),
          Row("b.bench_ok", "s", Verdict.PASS, 0.03,
              Estimate(1.0, 0.99, 1.01, 60, 0.5, 0.01, "min–max of 8 worker-pair medians",
                       0.992), measure="wall"),
          Row("b.bench_boom", "s", Verdict.ERROR, 0.03, note="ZeroDivisionError: boom")),
    parity=(ParityRow(Target("export", "absolute", "b.bench_ok", 1.0), Parity.MEETS,
                      BoundCheck(0.05, 0.049, 0.052, 1.0)),
            ParityRow(Target("overhead", "overhead", "b.x", 0.02, reference="b.y"),
                      Parity.NOT_RUN, note="not in the suite")))


def test_markdown_shows_ratio_interval_verdict_and_mde() -> None:
    """The PR comment has one row per benchmark with change, CI, MDE and verdict."""
    md = reports.render_markdown(OUTCOME)
    assert "| b.bench_slow | REGRESSION | cpu | +8.0% | [+6.0%, +10.0%] | 1.2% | 60 |" in md
    assert "| export | absolute | 1 s | 50 ms |" in md and "1 REGRESSION" in md


def test_reports_name_the_measure_the_interval_method_and_one_overall_verdict() -> None:
    """A PASS reads as a one-sided bound, each interval says how it was made, one verdict leads."""
    md = reports.render_markdown(OUTCOME)
    assert "| b.bench_ok | PASS | wall | +0.0% | ≤ +1.0% (one-sided) |" in md
    assert "interval: min–max of 8 worker-pair medians, ≥ 99.2% coverage (b.bench_ok)" in md
    assert md.splitlines()[2] == "**ERROR: the harness failed; nothing was judged a regression**"
    doc = json.loads(reports.render_json(OUTCOME))
    assert doc["benchmarks"][0]["measure"] == "cpu"
    assert doc["benchmarks"][0]["interval"] == "sign test over 15 worker pairs"


def test_json_report_carries_the_exit_code_and_pytest_rule_input() -> None:
    """The JSON summary is machine-readable, with the exit code CI will see."""
    doc = json.loads(reports.render_json(OUTCOME))
    assert doc["exit_code"] == 3  # the harness error wins over the regression
    slow = doc["benchmarks"][0]
    assert slow["verdict"] == "REGRESSION" and slow["pytest_benchmark_mean_change"] == 0.079
    assert doc["parity"][0]["status"] == "MEETS"


def test_junit_marks_regressions_as_failures_and_crashes_as_errors() -> None:
    """CI test UIs show a regression as a failed test and a crash as an error."""
    root = ET.fromstring(reports.render_junit(OUTCOME))
    assert root.get("tests") == "5" and root.get("failures") == "1"
    assert root.get("errors") == "1" and root.get("skipped") == "1"
    slow = root.find("testcase[@name='b.bench_slow']")
    assert slow is not None and slow.find("failure") is not None


def test_terminal_table_renders_every_row() -> None:
    """The rich table lists every benchmark and target."""
    console = Console(record=True, width=200)
    reports.render_text(Outcome(OUTCOME.rows, OUTCOME.parity, low_confidence=True), console)
    text = console.export_text()
    assert "b.bench_boom" in text and "NOT_RUN" in text and "Low confidence" in text


def test_units_are_readable() -> None:
    """Seconds, milliseconds, microseconds and MiB are chosen by magnitude."""
    assert reports.quantity(2.5e-6, "s") == "2.5 µs"
    assert reports.quantity(0.012, "s") == "12 ms"
    assert reports.quantity(5 * 2**20, "bytes") == "5.00 MiB"
    assert reports.pct(float("inf")) == "+∞"


def test_html_report_leads_with_the_verdict_and_shows_no_raw_floats() -> None:
    """The HTML page names the overall verdict and measures, and prints percentages and units."""
    import re

    from kaizen_perf.report.regression import render_check_html

    html = render_check_html(OUTCOME)
    assert "ERROR: the harness failed; nothing was judged a regression" in html
    assert "<td>b.bench_slow</td><td>cpu</td><td>+8.00%</td>" in html
    assert not re.search(r"\d\.\d+e-\d\d", html)  # no 2.723e-06 style numbers
