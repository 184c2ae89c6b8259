"""Write report files: one run, or a comparison of two."""

from __future__ import annotations

from pathlib import Path

from kaizen_perf.profiles.folded import Profile, strip_lines
from kaizen_perf.profiles.own import without_pids
from kaizen_perf.report.data import load
from kaizen_perf.report.flame import diff_tree, load_profile
from kaizen_perf.report.html import render_compare, render_run


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Render ``run_dir`` to ``out`` (default ``run_dir/report.html``); returns the path."""
    data = load(run_dir)
    path = Path(out) if out else data.path / "report.html"
    path.write_text(render_run(data), encoding="utf-8")
    return path


def write_comparison(a_dir: str | Path, b_dir: str | Path, out: str | Path) -> Path:
    """Render runs A and B side by side with a differential flame graph."""
    a, b = load(a_dir), load(b_dir)
    prof_a = _comparable(load_profile(a.path / "profiles" / "profile.folded"))
    prof_b = _comparable(load_profile(b.path / "profiles" / "profile.folded"))
    diff = diff_tree(prof_a, prof_b) if prof_a.samples and prof_b.samples else None
    path = Path(out)
    path.write_text(render_compare(a, b, diff), encoding="utf-8")
    return path


def _comparable(profile: Profile) -> Profile:
    """Frames that mean the same code in both runs: no PID (it differs in every run), and no
    line number (an edit above a function moves its lines; and on a loaded machine samples
    of one tight loop wander between its lines in runs of descheduled time)."""
    return without_pids(strip_lines(profile))
