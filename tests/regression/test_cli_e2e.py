"""End to end: the CLI runs a tiny real suite in real worker processes on two projects."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from kaizen_perf.cli import exitcodes
from kaizen_perf.cli.main import main
from tests.helpers import need
from tests.regression.tinyproject import make_project

# Eight worker pairs, one look: the fewest for which the per-worker-pair interval is bounded
# at 95 %; CPU time, so the timed path (rounds, pair order) is what these tests exercise.
FAST = ["--rounds", "8", "--max-rounds", "8", "--seed", "1", "--no-progress", "--measure", "cpu"]
BENCH = ["--rounds", "8", "--seed", "1", "--no-progress"]  # bench: one side, fixed rounds


@pytest.fixture
def fast_slow(tmp_path: Path) -> tuple[Path, Path]:
    """A baseline project and a candidate whose bench_work does 40 % more work."""
    return make_project(tmp_path / "base"), make_project(tmp_path / "head", n=28_000)


def test_check_flags_an_injected_slowdown_and_keeps_raw_samples(
        fast_slow: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A 40 % slower candidate is a REGRESSION (exit 1); the results file holds every pair."""
    base, head = fast_slow
    res, junit = tmp_path / "res.json", tmp_path / "junit.xml"
    code = main(["check", "--base", str(base), "--head", str(head), *FAST, "--format", "json",
                 "--results", str(res)])
    doc = json.loads(capsys.readouterr().out)
    rows = {r["name"]: r for r in doc["benchmarks"]}
    assert code == exitcodes.CHECK_FAILED and doc["exit_code"] == 1
    assert rows["bench_tiny.bench_work"]["verdict"] == "REGRESSION"
    assert rows["bench_tiny.bench_work"]["ratio"] > 1.2
    assert rows["bench_tiny.bench_size"]["verdict"] == "PASS"
    saved = json.loads(res.read_text())
    work = next(j for j in saved["jobs"] if j["key"] == "bench_tiny.bench_work")
    assert len(work["pairs"]) >= 16 and {p[1] for p in work["pairs"]} == {"xy", "yx"}
    assert len({p[0] for p in work["pairs"]}) >= 8  # several worker pairs (rounds)
    assert work["measure"] == "cpu" and rows["bench_tiny.bench_work"]["measure"] == "cpu"
    code = main(["check", "--base", str(base), "--head", str(head), *FAST, "--format", "junit",
                 "--out", str(junit)])
    assert code == 1 and ET.parse(junit).getroot().get("failures") == "1"


def test_same_code_on_both_sides_is_not_a_regression(
        fast_slow: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """An A/A check never fails: PASS or INCONCLUSIVE, exit 0."""
    base, _ = fast_slow
    # With the progress bar on (rich, on stderr) to exercise that path too.
    code = main(["check", "--base", str(base), "--head", str(base), "--rounds", "8",
                 "--max-rounds", "8", "--seed", "1", "--format", "md"])
    out = capsys.readouterr().out
    assert code == exitcodes.OK and "REGRESSION |" not in out and "bench_tiny.bench_work" in out


def test_a_crashing_benchmark_is_exit_3_never_a_regression(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A benchmark that raises makes the check exit 3 with ERROR; the others still compare."""
    base = make_project(tmp_path / "b", extra="def bench_boom():\n    return 1\n")
    head = make_project(tmp_path / "h", n=28_000,
                        extra="def bench_boom():\n    raise RuntimeError('kaputt')\n")
    code = main(["check", "--base", str(base), "--head", str(head), *FAST, "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    rows = {r["name"]: r for r in doc["benchmarks"]}
    assert code == exitcodes.RUNTIME
    assert rows["bench_tiny.bench_boom"]["verdict"] == "ERROR"
    assert "kaputt" in rows["bench_tiny.bench_boom"]["note"]
    assert rows["bench_tiny.bench_work"]["verdict"] == "REGRESSION"


def test_check_between_git_refs_uses_temporary_worktrees(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """--base/--head accept git refs; the worktrees are gone afterwards."""
    need(shutil.which("git") is not None, "git not found on PATH (apt-get install git)")
    repo = make_project(tmp_path / "repo")

    def git(*args: str) -> str:
        return subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args],
                              cwd=repo, check=True, capture_output=True, text=True).stdout

    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "fast")
    make_project(repo, n=28_000)
    git("commit", "-qam", "slow")
    monkeypatch.chdir(repo)
    code = main(["check", "--base", "HEAD~1", "--head", "HEAD", *FAST, "--bench", "*work",
                 "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == exitcodes.CHECK_FAILED
    assert [r["verdict"] for r in doc["benchmarks"]] == ["REGRESSION"]
    assert git("worktree", "list").count("\n") == 1


def test_bench_baseline_and_against(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bench writes results; baseline save/show store them; check --against says low confidence."""
    # CPU time, declared: an unpaired comparison of wall times taken minutes apart on a busy
    # machine is exactly the low-confidence case this command warns about.
    cpu = "bench_work.__kaizen_bench__ = {'measure': 'cpu'}\n"
    base = make_project(tmp_path / "base", extra=cpu)
    head = make_project(tmp_path / "head", n=28_000, extra=cpu)
    res = tmp_path / "bench.json"
    assert main(["bench", "--project", str(base), *BENCH, "--out", str(res)]) == 0
    assert json.loads(res.read_text())["kind"] == "bench"
    assert main(["baseline", "save", "--project", str(base), "--from", str(res)]) == 0
    assert main(["baseline", "show", "main", "--project", str(base)]) == 0
    assert "bench_tiny.bench_work" in capsys.readouterr().out
    code = main(["check", "--against", str(base / "baselines" / "main.json"),
                 "--head", str(head), *BENCH, "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["low_confidence"] is True
    assert {r["name"]: r["verdict"] for r in doc["benchmarks"]}["bench_tiny.bench_work"] \
        == "REGRESSION" and code == 1
    # A stored run in CPU time is not compared with a fresh one in wall time: it says so.
    main(["check", "--against", str(base / "baselines" / "main.json"), "--head", str(head),
          *BENCH, "--measure", "wall", "--format", "json"])
    work = {r["name"]: r for r in json.loads(capsys.readouterr().out)["benchmarks"]}
    assert work["bench_tiny.bench_work"]["verdict"] == "INCONCLUSIVE"
    assert "stored run measured cpu, this run wall" in work["bench_tiny.bench_work"]["note"]


@pytest.mark.parametrize(("args", "code", "message"), [
    (["check", "--head", "."], exitcodes.USAGE, "exactly one of --base"),
    (["check", "--base", ".", "--gate", "lots"], exitcodes.USAGE, "not a percentage"),
    (["check", "--base", "no-such-ref-xyz"], exitcodes.USAGE, "neither a directory"),
    (["calibrate"], exitcodes.USAGE, "--aa N"),
])
def test_usage_errors_exit_2_with_the_fix(args: list[str], code: int, message: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Bad options are usage errors (exit 2) that say what to do."""
    assert main(args) == code
    assert message in capsys.readouterr().err


def test_a_project_without_the_suite_is_a_harness_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No suite directory on a side is exit 3, not a regression."""
    (tmp_path / "empty").mkdir()
    code = main(["check", "--base", str(tmp_path / "empty"), "--head", str(tmp_path / "empty"),
                 *FAST])
    assert code == exitcodes.RUNTIME and "does not exist" in capsys.readouterr().err


def test_calibrate_measures_false_positives_and_power(
        fast_slow: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """calibrate --aa/--inject report A/A regression rate and power from real pools."""
    base, _ = fast_slow
    code = main(["calibrate", "--project", str(base), "--aa", "200", "--inject", "50",
                 "--pool-rounds", "8", "--rounds", "8", "--bench", "*work", "--no-progress",
                 "--format", "json"])
    rows = {r["inject"]: r for r in json.loads(capsys.readouterr().out)}
    assert code == 0
    # rates over 200 experiments resampled from one small real pool: allow a couple of misses
    # under a loaded CI machine, but a broken detector (no power, or alarms on A/A) fails
    assert rows[0.0]["regression"] <= 0.02
    assert rows[0.5]["regression"] >= 0.97 and rows[0.5]["pytest_fail"] >= 0.97
