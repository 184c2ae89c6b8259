"""History of main-branch ratios and change-point detection."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kaizen_perf.errors import BaselineError
from kaizen_perf.regression import history
from kaizen_perf.regression.evaluate import Outcome, Row
from kaizen_perf.regression.stats import Estimate
from kaizen_perf.regression.verdicts import Verdict


def _entries(series: list[float]) -> list[dict[str, object]]:
    return [{"commit": f"c{i}", "ratios": {"b.bench_x": v}} for i, v in enumerate(series)]


def test_a_step_is_found_where_it_happened() -> None:
    """A 4 % level shift after ten quiet runs is located at run 10."""
    rng = np.random.default_rng(0)
    series = list(np.exp(rng.normal(0, 0.01, 20)) * np.r_[np.ones(10), np.full(10, 1.04)])
    (cp,) = history.change_points(_entries(series))
    assert cp.index == 10 and cp.shift == pytest.approx(0.04, abs=0.015)


def test_slow_creep_below_any_gate_is_flagged() -> None:
    """Twenty commits each 0.3 % slower (none near a 3 % gate) add up to a change point."""
    rng = np.random.default_rng(1)
    series = list(np.exp(rng.normal(0, 0.005, 20) + 0.003 * np.arange(20)))
    found = history.change_points(_entries(series))
    assert found and found[0].shift > 0.02


def test_pure_noise_has_no_change_point() -> None:
    """Quiet noise around the reference is not reported."""
    rng = np.random.default_rng(2)
    series = list(np.exp(rng.normal(0, 0.01, 25)))
    assert history.change_points(_entries(series)) == []


def test_history_file_appends_and_reads_back(tmp_path: Path) -> None:
    """`check --history` appends one line per run; reading returns them oldest first."""
    path = tmp_path / "h.jsonl"
    row = Row("b.bench_x", "s", Verdict.PASS, 0.03, Estimate(1.01, 1.0, 1.02, 60, 0.5, 0.01))
    for commit in ("a", "b"):
        history.append(path, Outcome((row,), ()), commit=commit, reference="v1",
                       created="now")
    entries = history.read(path)
    assert [e["commit"] for e in entries] == ["a", "b"]
    assert entries[0]["ratios"] == {"b.bench_x": 1.01} and entries[0]["reference"] == "v1"
    with pytest.raises(BaselineError, match="does not exist"):
        history.read(tmp_path / "missing.jsonl")


def test_baseline_history_command_reports_a_slowdown_with_exit_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`kaizen-perf baseline history FILE` names the commit where a level shift began."""
    from kaizen_perf.cli.main import main

    rng = np.random.default_rng(3)
    series = np.exp(rng.normal(0, 0.005, 16)) * np.r_[np.ones(8), np.full(8, 1.05)]
    path = tmp_path / "h.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in _entries(list(series))))
    assert main(["baseline", "history", str(path)]) == 1
    out = capsys.readouterr().out
    assert "CHANGE b.bench_x" in out and "from c8" in out
    path.write_text("".join(json.dumps(e) + "\n" for e in _entries([1.0] * 10)))
    assert main(["baseline", "history", str(path)]) == 0
