"""The demo's report in a real browser shows the agent, not kaizen-perf, and a comparison of
two identical runs shows no difference."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kaizen_perf.profiles import read_folded
from kaizen_perf.report.build import write_comparison
from tests.report.test_report_browser import _open

#: what `make demo` runs, with a fixed amount of work instead of a duration, so two runs
#: do the same thing (the workload is seeded)
DEMO = [sys.executable, "-m", "benchmarks.workloads.reference_agent", "--iterations", "1500"]
#: code that only kaizen-perf's own threads and start-up run (hooks, such as Pipeline.put,
#: run in the agent's threads: they are the agent's cost and stay)
OWN_CODE = ("Pipeline._run", "Pipeline.drain", "Pipeline._deliver", "ForwardSink.",
            "ForwardReceiver.", "Monitor.__init__", "kaizen_perf/server.py")


#: a CPU-only seeded agent with hooks (tests/report/cpu_agent.py): the same work twice
CPU_AGENT = [sys.executable, "-m", "tests.report.cpu_agent", "2000"]


def _run(out: Path, command: list[str]) -> Path:
    done = subprocess.run([sys.executable, "-m", "kaizen_perf", "run", "--agent-id",
                           "reference-agent", "--metrics-addr", ":0", "--out", str(out), "--",
                           *command], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "hottest functions" in done.stdout, done.stdout  # py-spy sampled the run
    return out


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Path:
    """One run of the demo agent."""
    return _run(tmp_path_factory.mktemp("demo") / "run", DEMO)


@pytest.fixture(scope="module")
def identical_runs(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> tuple[Path, Path]:
    """Two runs of the same CPU-bound work (after one import, so neither compiles modules:
    a real difference in start-up). The demo agent sleeps: on a loaded machine each wake-up
    waits for a CPU as long as the scheduler decides, which is a real difference too."""
    subprocess.run([sys.executable, "-c", "import tests.report.cpu_agent, kaizen_perf.monitor"],
                   check=True, timeout=120)
    tmp = tmp_path_factory.mktemp("identical")
    return _run(tmp / "a", CPU_AGENT), _run(tmp / "b", CPU_AGENT)


def test_demo_report_hottest_functions_are_the_agents(browser: Any, demo_run: Path) -> None:
    """Where the time went is on the page; no function of kaizen-perf's own threads is among
    the hottest functions or in the flame graph; the samples left out are counted."""
    run = demo_run
    page, errors, _ = _open(browser, run / "report.html")
    try:
        split = page.locator(".breakdown").inner_text()
        for part in ("LLM calls", "tool web_search", "tool parse_html", "elsewhere"):
            assert part in split, split
        widths = page.locator(".breakdown .bar div").evaluate_all(
            "els => els.map(e => e.getBoundingClientRect().width)")
        assert len(widths) >= 5 and all(w >= 0 for w in widths) and max(widths) > 10
        section = page.locator("section", has_text="Hottest functions")
        rows = section.locator("tr").all_inner_texts()
        assert rows and any("reference_agent.py" in r for r in rows), rows
        assert not [r for r in rows if any(code in r for code in OWN_CODE)], rows
        names = page.locator("#flame .frame").evaluate_all("els => els.map(e => e.dataset.name)")
        assert names and not [n for n in names if any(code in n for code in OWN_CODE)]
        own = read_folded(run / "profiles" / "kaizen-perf-own.folded").samples
        if own:  # the dispatcher was sampled: the page says how much was left out
            assert f"{own} samples of kaizen-perf's own" in page.inner_text("#own-samples")
        assert errors == []
    finally:
        page.close()


def test_two_identical_runs_compare_as_no_difference(browser: Any, tmp_path: Path,
                                                     identical_runs: tuple[Path, Path]) -> None:
    """The differential flame graph of two runs of the same work colours no frame: same
    frames in both (no PID in them), differences within sampling noise."""
    a, b = identical_runs
    page, errors, _ = _open(browser, write_comparison(a, b, tmp_path / "compare.html"))
    try:
        frames = page.locator("#flame .frame")
        assert frames.count() > 3
        found = frames.evaluate_all("""els => els.map(e => [e.dataset.name,
                                       e.style.background, e.title])""")
        coloured = [(n, c) for n, c, _ in found if c != "rgb(255, 255, 255)"]
        assert coloured == []
        assert not any(n.startswith("process ") and ":" in n.split('"')[0] for n, _, _ in found)
        assert any("within sampling noise" in t for _, _, t in found)
        assert errors == []
    finally:
        page.close()
