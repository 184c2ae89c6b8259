"""`kaizen-perf check --html`: the comparison as a chart, checked in a real browser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kaizen_perf.cli.main import main
from tests.regression.tinyproject import make_project


def test_check_html_charts_ratios_with_intervals(browser: Any, tmp_path: Path) -> None:
    """A 40 % slower candidate shows as a red REGRESSION dot right of zero, with its CI line."""
    base, head = make_project(tmp_path / "base"), make_project(tmp_path / "head", n=28_000)
    html = tmp_path / "check.html"
    code = main(["check", "--base", str(base), "--head", str(head), "--rounds", "6", "--seed",
                 "1", "--no-progress", "--format", "json", "--out", str(tmp_path / "c.json"),
                 "--html", str(html)])
    assert code == 1
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(html.as_uri())
        dots = page.evaluate("""() => [...document.querySelectorAll('circle.est')].map(c => (
            {bench: c.dataset.bench, verdict: c.dataset.verdict, cx: +c.getAttribute('cx')}))""")
        zero = float(page.locator("svg line").first.get_attribute("x1") or 0)
        work = next(d for d in dots if d["bench"].endswith("bench_work"))
        assert work["verdict"] == "REGRESSION" and work["cx"] > zero
        assert page.locator("line.ci").count() == len(dots) >= 2
        assert "REGRESSION" in page.inner_text("table")
        assert errors == []
    finally:
        page.close()
