"""``bench --measure`` is check's option: same values, and a stored run compares with a
fresh one only in the measure both took."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kaizen_perf.cli import exitcodes
from kaizen_perf.cli.main import main
from tests.regression.tinyproject import make_project

BENCH = ["--rounds", "3", "--seed", "1", "--no-progress"]


def _measures(results: Path) -> dict[str, str]:
    """The measure each benchmark's job took, from a results JSON."""
    jobs = json.loads(results.read_text())["jobs"]
    return {j["x"]["bench"]: j["measure"] for j in jobs if j["y"] is None}


def test_bench_measure_forces_cpu_time_and_against_compares_like_with_like(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bench --measure cpu stores CPU times for a suite that declares nothing (the summary says
    so); check --against it with --measure cpu compares, while the default (wall) refuses to
    compare wall with CPU time and names the option to pass."""
    base = make_project(tmp_path / "base")
    head = make_project(tmp_path / "head", n=60_000)
    res = tmp_path / "cpu.json"
    assert main(["bench", "--project", str(base), *BENCH, "--measure", "cpu",
                 "--out", str(res)]) == 0
    out = capsys.readouterr().out
    assert "cpu" in next(line for line in out.splitlines() if "bench_work" in line)
    assert "value" in next(line for line in out.splitlines() if "bench_size" in line)
    assert _measures(res)["bench_tiny.bench_work"] == "cpu"
    main(["check", "--against", str(res), "--head", str(head), *BENCH, "--measure", "cpu",
          "--format", "json"])
    work = {r["name"]: r for r in json.loads(capsys.readouterr().out)["benchmarks"]}
    assert work["bench_tiny.bench_work"]["verdict"] == "REGRESSION"
    assert work["bench_tiny.bench_work"]["measure"] == "cpu"  # reports name the measure
    main(["check", "--against", str(res), "--head", str(head), *BENCH, "--format", "json"])
    work = {r["name"]: r for r in json.loads(capsys.readouterr().out)["benchmarks"]}
    assert work["bench_tiny.bench_work"]["verdict"] == "INCONCLUSIVE"
    assert "pass --measure cpu" in work["bench_tiny.bench_work"]["note"]


def test_bench_without_measure_takes_wall_time_or_the_declared_measure(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The default (auto) is the benchmark's declared measure, else wall time."""
    plain = make_project(tmp_path / "plain")
    declared = make_project(tmp_path / "declared",
                            extra="bench_work.__kaizen_bench__ = {'measure': 'cpu'}\n")
    for project, want in ((plain, "wall"), (declared, "cpu")):
        res = tmp_path / f"{project.name}.json"
        assert main(["bench", "--project", str(project), *BENCH, "--out", str(res)]) == 0
        assert _measures(res)["bench_tiny.bench_work"] == want
    capsys.readouterr()


def test_bench_measure_instructions_says_it_stores_cpu_time(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Instruction counts are compared by check only: bench takes CPU time and says so,
    rather than silently storing something else than was asked."""
    res = tmp_path / "r.json"
    assert main(["bench", "--project", str(make_project(tmp_path / "p")), *BENCH,
                 "--bench", "bench_work", "--measure", "instructions", "--out", str(res)]) == 0
    assert _measures(res)["bench_tiny.bench_work"] == "cpu"
    assert "measured in CPU time" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["bench", "check"])
def test_an_unknown_measure_is_a_usage_error_for_both(
        command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """bench and check accept the same --measure values and refuse others the same way."""
    assert main([command, "--measure", "ticks"]) == exitcodes.USAGE
    assert "'ticks' is not one of 'auto', 'wall', 'cpu', 'instructions'" in \
        capsys.readouterr().err
