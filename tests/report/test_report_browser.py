"""The HTML report in a real browser: offline, no console errors, a working flame graph."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kaizen_perf.report.build import write_comparison, write_report

PROFILER = [str(Path(sys.executable).parent / "py-spy")]


def _make_run(tmp: Path, name: str, hot_share: float) -> Path:
    """A real run directory of the reference agent, with a real py-spy profile."""
    out = tmp / name
    subprocess.run([sys.executable, "-m", "kaizen_perf", "run", "--no-profile",
                    "--metrics-addr", ":0", "--out", str(out), "--", sys.executable, "-m",
                    "benchmarks.workloads.reference_agent", "--iterations", "60"],
                   check=True, capture_output=True, timeout=120)
    # A deterministic CPU profile on top: two functions in a known proportion.
    (tmp / f"{name}_src").mkdir()
    script = tmp / f"{name}_src" / "cpu_mix.py"  # same file name: same frames in both runs
    script.write_text(
        "import time\n"
        "def hot_parse():\n    s = 0\n    for i in range(20000): s += i * i\n    return s\n"
        "def cold_format():\n    s = 0\n    for i in range(20000): s += i\n    return s\n"
        f"t = time.time()\nwhile time.time() - t < 2.0:\n"
        f"    hot_parse() if (time.time() * 10 % 1) < {hot_share} else cold_format()\n")
    subprocess.run([*PROFILER, "record", "-r", "200", "-f", "raw", "-o",
                    str(out / "profiles" / "profile.folded"), "--", sys.executable, str(script)],
                   check=True, capture_output=True, timeout=60)
    return out


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_run(tmp_path_factory.mktemp("runs"), "a", 0.7)


def _open(browser: Any, path: Path) -> tuple[Any, list[str], list[str]]:
    """Open a file with every network request blocked; collect console errors and requests."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route("**/*", lambda route: (requests.append(route.request.url),
                                      route.abort() if not route.request.url.startswith("file:")
                                      else route.continue_()))
    page.goto(path.as_uri())
    return page, errors, requests


def test_report_renders_offline_without_errors(browser: Any, run_dir: Path,
                                               tmp_path: Path) -> None:
    """The report opens from disk with no network request and no console error."""
    report = write_report(run_dir)
    page, errors, requests = _open(browser, report)
    try:
        assert errors == []
        assert all(u.startswith("file:") for u in requests), requests
        assert page.locator("section.agent").count() >= 1
        assert "parse_html" in page.inner_text("section.agent")
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000  # a blank page compresses to a few KB
    finally:
        page.close()


def test_flame_graph_shows_hot_functions_and_search_highlights(browser: Any,
                                                               run_dir: Path) -> None:
    """The known hot function is a wide frame; search highlights it; click zooms."""
    page, errors, _ = _open(browser, write_report(run_dir))
    try:
        frames = page.locator("#flame .frame")
        names = frames.evaluate_all("els => els.map(e => e.dataset.name)")
        assert any(n.startswith("hot_parse") for n in names)
        widths = page.evaluate("""() => {
            const w = {};
            for (const e of document.querySelectorAll('#flame .frame:not(.ancestor)')) {
                const k = e.dataset.name.split(' ')[0];
                w[k] = (w[k] || 0) + e.getBoundingClientRect().width; }
            return w; }""")
        assert widths["hot_parse"] > widths["cold_format"]
        page.fill("#flame-search", "hot_parse")
        assert page.locator("#flame .frame.match").count() >= 1
        assert "frames match" in page.inner_text("#flame-matches")
        page.locator('#flame .frame[data-name^="hot_parse"]').first.click()
        assert page.inner_text("#flame-info").startswith("hot_parse")
        assert errors == []
    finally:
        page.close()


def test_comparison_has_a_differential_flame_graph(browser: Any, run_dir: Path,
                                                   tmp_path: Path) -> None:
    """report --compare colours functions that gained samples red and lost ones blue."""
    other = _make_run(tmp_path, "b", 0.3)
    page, errors, _ = _open(browser, write_comparison(run_dir, other, tmp_path / "c.html"))
    try:
        colours = page.evaluate("""() => Object.fromEntries([...document.querySelectorAll(
            '#flame .frame')].map(e => [e.dataset.name.split(' ')[0], e.style.background]))""")
        assert colours["hot_parse"].startswith("rgb(") and colours["cold_format"].startswith("rgb(")
        r_hot, _, b_hot = (int(x) for x in colours["hot_parse"][4:-1].split(","))
        r_cold, _, b_cold = (int(x) for x in colours["cold_format"][4:-1].split(","))
        assert b_hot > r_hot  # hot_parse lost share in B: blue
        assert r_cold > b_cold  # cold_format gained: red
        assert errors == []
    finally:
        page.close()


def test_report_data_is_versioned_and_small(run_dir: Path) -> None:
    """run.json carries its format version and the page embeds its data without a CDN."""
    assert json.loads((run_dir / "run.json").read_text())["format_version"] == 1
    text = write_report(run_dir).read_text()
    assert "<script src" not in text and "http://" not in text.split("<main>")[1][:200]


TWO_AGENTS = """
import os, subprocess, sys, time

def spin(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass

def planner_work():
    spin(2.0)

if len(sys.argv) > 1:
    def coder_work():
        spin(2.0)
    coder_work()
else:
    kid = subprocess.Popen([sys.executable, __file__, "child"],
                           env=dict(os.environ, KAIZEN_PERF_AGENT_ID="coder"))
    planner_work()
    kid.wait()
"""


def test_flame_graph_filters_by_agent(browser: Any, tmp_path: Path) -> None:
    """With two agents in one tree, choosing an agent shows only its processes' functions."""
    script = tmp_path / "two.py"
    script.write_text(TWO_AGENTS)
    out = tmp_path / "run"
    # --rate 100: 50 Hz per profile, as many on-CPU samples as a one-profile run had (the
    # per-agent hottest functions need some of each short-lived process on a loaded machine)
    proc = subprocess.run([sys.executable, "-m", "kaizen_perf", "run", "--agent-id", "planner",
                           "--metrics-addr", ":0", "--rate", "100", "--out", str(out), "--",
                           sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "hottest functions" in proc.stdout
    hooks = json.loads((out / "hooks.json").read_text())["agents"]
    assert "top_functions" in hooks.get("coder", {}), (hooks.keys(), proc.stdout)
    assert hooks["coder"]["top_functions"][0][0] == "spin (two.py)"  # self samples, per agent
    coder = (out / "profiles" / "by-agent" / "coder.folded").read_text()
    assert "coder_work" in coder and "planner_work" not in coder
    page, errors, _ = _open(browser, out / "report.html")
    try:
        def names() -> set[str]:
            return {n.split(" ")[0] for n in page.locator("#flame .frame").evaluate_all(
                "els => els.map(e => e.dataset.name)")}
        assert {"planner_work", "coder_work"} <= names()
        page.select_option("#flame-agent", "coder")
        assert "coder_work" in names() and "planner_work" not in names()
        page.select_option("#flame-agent", "planner")
        assert "planner_work" in names() and "coder_work" not in names()
        assert errors == []
    finally:
        page.close()
