"""The results file: round trip, versioning, pytest-benchmark import, name matching."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kaizen_perf.errors import BaselineError
from kaizen_perf.regression import results
from kaizen_perf.regression.model import BenchInfo, Design, Job, JobSamples, Operand, Pair, Side
from kaizen_perf.regression.pytest_import import match_name


def _run() -> results.RunResult:
    job = Job("m.bench_a", Operand("base", "m.bench_a"), Operand("head", "m.bench_a"),
              BenchInfo("m.bench_a", gate=0.05))
    pairs = [Pair(0, "xy", 1.0, 1.1), Pair(1, "yx", 2.0, 2.2)]
    return results.RunResult("check", Design(rounds=2, seed=9), (Side("base", Path("/a")),
                             Side("head", Path("/b"), "HEAD", "abc")),
                             (JobSamples(job, 100, pairs),), results.fingerprint(),
                             results.now_iso(), 1.5, new=("m.bench_new",))


def test_results_round_trip_keeps_raw_samples_design_and_machine(tmp_path: Path) -> None:
    """Everything needed to recompute a verdict survives save and load."""
    path = tmp_path / "r.json"
    results.save(_run(), path)
    back = results.load(path)
    doc = json.loads(path.read_text())
    assert doc["format"] == "kaizen-perf-results" and doc["version"] == 1
    assert doc["machine"]["cpu_count"] and doc["design"]["seed"] == 9
    assert back.jobs[0].pairs == _run().jobs[0].pairs
    assert back.jobs[0].job.info.gate == 0.05 and back.new == ("m.bench_new",)
    assert back.values("head") == {"m.bench_a": [1.1, 2.2]}
    assert back.sides[1].commit == "abc"


def test_other_versions_are_refused_with_the_fix(tmp_path: Path) -> None:
    """A results file from another format version says how to re-create it."""
    path = tmp_path / "r.json"
    results.save(_run(), path)
    doc = json.loads(path.read_text())
    doc["version"] = 99
    path.write_text(json.dumps(doc))
    with pytest.raises(BaselineError, match=r"version 99.*kaizen-perf bench"):
        results.load(path)


def test_missing_and_foreign_files_are_baseline_errors(tmp_path: Path) -> None:
    """A missing file or unrelated JSON is a BaselineError, not a crash."""
    with pytest.raises(BaselineError, match="does not exist"):
        results.load(tmp_path / "nope.json")
    (tmp_path / "x.json").write_text('{"hello": 1}')
    with pytest.raises(BaselineError, match="not a kaizen-perf results file"):
        results.load(tmp_path / "x.json")


def test_pytest_benchmark_json_is_imported_with_raw_data(tmp_path: Path) -> None:
    """pytest-benchmark files (with --benchmark-save-data) become a single-side run."""
    doc = {"machine_info": {"node": "ci"}, "commit_info": {"id": "deadbeef"},
           "datetime": "2026-01-01T00:00:00",
           "benchmarks": [{"name": "test_tool", "stats": {"data": [1e-6, 1.1e-6], "min": 1e-6}},
                          {"name": "test_export", "stats": {"min": 0.1, "median": 0.2,
                                                            "max": 0.3}}]}
    path = tmp_path / "pb.json"
    path.write_text(json.dumps(doc))
    run = results.load(path)
    assert run.kind == "pytest-benchmark" and run.sides[0].commit == "deadbeef"
    assert run.values("head") == {"test_tool": [1e-6, 1.1e-6], "test_export": [0.1, 0.2, 0.3]}


def test_names_match_across_naming_schemes() -> None:
    """A suite benchmark finds its stored twin by full name, function name or test_ prefix."""
    stored = {"bench_hooks.bench_tool", "test_export", "test_x[param]"}
    assert match_name(stored, "bench_hooks.bench_tool") == "bench_hooks.bench_tool"
    assert match_name(stored, "other.bench_export") == "test_export"
    assert match_name(stored, "m.bench_x") == "test_x[param]"
    assert match_name(stored, "m.bench_nothing") is None
