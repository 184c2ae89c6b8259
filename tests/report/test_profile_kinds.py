"""The report of a run with both kinds of profile switches between them in a real browser."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.report.test_report_browser import _open


@pytest.fixture(scope="module")
def both_run(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Path:
    """`kaizen-perf run` (both profiles, the default) of an agent that sleeps and burns."""
    out = tmp_path_factory.mktemp("kinds") / "run"
    done = subprocess.run([sys.executable, "-m", "kaizen_perf", "run", "--metrics-addr", ":0",
                           "--window", "2", "--rate", "100", "--out", str(out), "--",
                           sys.executable, "-m",
                           "tests.report.sleep_burn_agent", "6"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "profiles/wall/" in done.stdout, done.stdout  # the summary names the second kind
    return out


def _hottest(page: Any) -> str:
    """The first row of the hottest-functions table on show."""
    return str(page.locator("table.hottest:visible tr").first.inner_text())


def _widest(page: Any, names: tuple[str, ...]) -> str:
    """Which of ``names`` has the widest frame in the flame graph drawn now."""
    widths = page.locator("#flame .frame").evaluate_all(
        "els => els.map(e => [e.dataset.name, e.getBoundingClientRect().width])")
    best = {n: max((w for f, w in widths if f.startswith(n)), default=0.0) for n in names}
    return max(best, key=lambda n: best[n])


@pytest.mark.e2e
def test_profile_menu_switches_between_on_cpu_and_wall_clock(browser: Any,
                                                             both_run: Path) -> None:
    """The profile menu offers on-CPU and wall-clock; on-CPU the burn is the hottest function
    and the widest frame, wall-clock the sleep, and the hottest-functions table follows."""
    page, errors, _ = _open(browser, both_run / "report.html")
    try:
        options = page.locator("#flame-kind option").all_inner_texts()
        assert options == ["on-CPU", "wall-clock (waits included)"]
        names = ("crunch", "wait_for_llm")
        assert _hottest(page).startswith("crunch"), _hottest(page)
        assert _widest(page, names) == "crunch"
        page.select_option("#flame-kind", "wall")
        assert _hottest(page).startswith("wait_for_llm"), _hottest(page)
        assert _widest(page, names) == "wait_for_llm"
        page.select_option("#flame-kind", "cpu")
        assert _hottest(page).startswith("crunch")
        assert errors == []
    finally:
        page.close()
