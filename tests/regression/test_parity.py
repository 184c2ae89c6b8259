"""Parity targets: every ADR row present, a status per row, NOT_RUN with its reason,
absolute numbers judged so a CI gate is stable, reports grouped by component, and
``check`` comparing two environments (interpreters) of one project."""

from __future__ import annotations

import json
import random
import stat
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from rich.console import Console

from kaizen_perf.cli import exitcodes
from kaizen_perf.cli.main import main
from kaizen_perf.regression import reports
from kaizen_perf.regression.evaluate import Outcome, ParityRow, evaluate_parity
from kaizen_perf.regression.model import BenchInfo, Design, Job, JobSamples, Operand, Pair, Side
from kaizen_perf.regression.results import RunResult
from kaizen_perf.regression.targets import Target, load_targets, parse_targets
from kaizen_perf.regression.verdicts import BoundCheck, Parity, absolute_check
from kaizen_perf.report.regression import render_check_html

ROOT = Path(__file__).resolve().parents[2]
SUITE = "benchmarks/parity"
# The rows of the performance tables of Kaizen's ADR-011..017 (the design note's table;
# ADR-013's memory row has two budgets, programmatic and filesystem).
ADR_ROWS = {"ADR-011": 5, "ADR-012": 6, "ADR-013": 6, "ADR-014": 5, "ADR-015": 3, "ADR-016": 4,
            "ADR-017": 5}


def _result(values: dict[str, list[float]], suite: str = SUITE,
            base: dict[str, list[float]] | None = None) -> RunResult:
    """A run whose head (and optionally base) side sampled each benchmark's values."""
    jobs = []
    for name, ys in values.items():
        xs = (base or {}).get(name)
        job = Job(name, Operand("base", name) if xs else Operand("head", name),
                  Operand("head", name) if xs else None, BenchInfo(name, unit="ms"))
        pairs = [Pair(i, "xy", x, y) for i, (x, y) in enumerate(zip(xs, ys, strict=True))] \
            if xs else [Pair(i, "x", y, None) for i, y in enumerate(ys)]
        jobs.append(JobSamples(job, 1, pairs))
    return RunResult("check" if base else "bench", Design(suite=suite),
                     (Side("head", ROOT),), tuple(jobs), {}, "", 0.0)


def test_targets_file_has_every_adr_row_with_origin_and_component() -> None:
    """No ADR row is left out: each of ADR-011..017's rows is a parity-suite target (ADR-017's
    on a real Kaizen agent), each with its origin and component."""
    targets = load_targets(ROOT).for_suite(SUITE).targets
    counts: dict[str, int] = {}
    for t in targets:
        counts[t.origin] = counts.get(t.origin, 0) + 1
        assert t.component and t.origin.startswith(("ADR-", "claude-agent-sdk")), t
    assert {k: counts.get(k, 0) for k in ADR_ROWS} == ADR_ROWS


def test_every_measured_target_names_a_benchmark_of_the_suite() -> None:
    """A target that is not NOT_RUN by declaration points at a real ``bench_*`` function."""
    import importlib

    for t in load_targets(ROOT).for_suite(SUITE).targets:
        if t.not_run:
            continue
        module, func = t.benchmark.split(".")
        mod = importlib.import_module(f"benchmarks.parity.{module}")
        assert callable(getattr(mod, func, None)), t.benchmark


def test_each_row_gets_a_status_and_unsupported_rows_say_why() -> None:
    """MEETS, VIOLATES, UNDETERMINED and NOT_RUN (declared, or benchmark absent) per row."""
    targets = parse_targets({"absolute_margin": 0.2, "target": [
        {"name": "fast", "kind": "absolute", "benchmark": "m.fast", "budget": 10},
        {"name": "slow", "kind": "absolute", "benchmark": "m.slow", "budget": 10},
        {"name": "near", "kind": "absolute", "benchmark": "m.near", "budget": 10},
        {"name": "gone", "kind": "absolute", "benchmark": "m.gone", "budget": 10},
        {"name": "api", "kind": "absolute", "benchmark": "m.api", "budget": 10,
         "not_run": "no such API in this release"},
        {"name": "elsewhere", "kind": "absolute", "benchmark": "m.fast", "budget": 10,
         "suite": "benchmarks"}]}, "test")
    run = _result({"m.fast": [1.0 + i / 100 for i in range(12)],
                   "m.slow": [30.0 + i / 100 for i in range(12)],
                   "m.near": [10.5 + i / 100 for i in range(12)]})
    rows = {p.target.name: p for p in evaluate_parity(run, targets)}
    assert "elsewhere" not in rows  # another suite's row is listed by that suite
    assert rows["fast"].status is Parity.MEETS and rows["slow"].status is Parity.VIOLATES
    assert rows["near"].status is Parity.UNDETERMINED  # 5 % over: inside the 20 % margin
    assert rows["gone"].status is Parity.NOT_RUN and "not in the suite" in rows["gone"].note
    assert rows["api"].status is Parity.NOT_RUN
    assert rows["api"].note == "no such API in this release"
    assert Outcome((), tuple(rows.values())).exit_code() == exitcodes.CHECK_FAILED


def test_min_bound_targets_judge_throughput_from_below() -> None:
    """A throughput target MEETS when its lower bound reaches the budget, VIOLATES only
    when its upper bound is below the budget shrunk by the margin."""
    high = absolute_check([600.0 + i for i in range(12)], 500, bound="min", margin=0.2)
    low = absolute_check([300.0 + i for i in range(12)], 500, bound="min", margin=0.2)
    near = absolute_check([450.0 + i for i in range(12)], 500, bound="min", margin=0.2)
    assert (high.status, low.status, near.status) == (
        Parity.MEETS, Parity.VIOLATES, Parity.UNDETERMINED)


def test_a_violation_the_baseline_shares_does_not_fail_the_gate() -> None:
    """In ``check``, an absolute VIOLATES fails the run only if the baseline of the same run
    MEETS it; a shared (known) violation is reported but exits 0."""
    targets = parse_targets({"target": [
        {"name": "t", "kind": "absolute", "benchmark": "m.b", "budget": 10}]}, "test")
    slow = [30.0 + i / 10 for i in range(10)]
    known = evaluate_parity(_result({"m.b": slow}, base={"m.b": slow}), targets)[0]
    new = evaluate_parity(_result({"m.b": slow}, base={"m.b": [1.0] * 10}), targets)[0]
    assert known.status is Parity.VIOLATES and not known.gating and "known" in known.note
    assert new.status is Parity.VIOLATES and new.gating
    assert Outcome((), (known,)).exit_code() == exitcodes.OK
    assert Outcome((), (new,)).exit_code() == exitcodes.CHECK_FAILED


def test_identical_noisy_runs_near_a_budget_give_the_same_exit_code() -> None:
    """Two environments with the same code, a noisy number 10 % over its budget: across
    300 simulated checks (lognormal noise, 25 % spread) no absolute target ever gates."""
    targets = parse_targets({"absolute_margin": 0.2, "target": [
        {"name": "t", "kind": "absolute", "benchmark": "m.b", "budget": 10}]}, "test")
    rng = random.Random(7)
    codes = set()
    for _ in range(300):
        def draw() -> list[float]:
            return [11.0 * rng.lognormvariate(0, 0.25) for _ in range(8)]
        row = evaluate_parity(_result({"m.b": draw()}, base={"m.b": draw()}), targets)[0]
        codes.add(Outcome((), (row,)).exit_code())
    assert codes == {exitcodes.OK}


def _grouped() -> Outcome:
    def row(name: str, component: str, status: Parity, base: Parity | None = None) -> ParityRow:
        check = BoundCheck(30.0 if status is Parity.VIOLATES else 1.0, 0.5, 31.0, 10.0)
        ref = None if base is None else BoundCheck(30.0, 29.0, 31.0, 10.0)
        return ParityRow(Target(name, "absolute", f"m.{name}", 10.0, unit="ms",
                                origin="ADR-011" if component == "control" else "ADR-014",
                                component=component), status, check, "", ref)
    return Outcome((), (row("latency", "control", Parity.MEETS),
                        row("init", "control", Parity.VIOLATES, base=Parity.VIOLATES),
                        row("stats", "hooks", Parity.UNDETERMINED)),
                   header=("base: kailash-kaizen 2.45.0", "head: kailash-kaizen 2.46.1"))


def test_reports_group_rows_by_component_in_every_format() -> None:
    """Terminal, Markdown, JSON, JUnit and HTML list the rows under their component, with
    origin and status; a known violation is a skipped JUnit case, not a failure."""
    outcome = _grouped()
    md = reports.render_markdown(outcome)
    assert md.index("#### Parity: control") < md.index("| latency |") < md.index(
        "#### Parity: hooks") < md.index("| stats |")
    assert "kailash-kaizen 2.45.0" in md and "| ADR-011 |" in md
    doc = json.loads(reports.render_json(outcome))
    init = next(p for p in doc["parity"] if p["name"] == "init")
    assert (init["component"], init["origin"], init["status"], init["gating"]) == (
        "control", "ADR-011", "VIOLATES", False)
    assert doc["compared"] == list(outcome.header)
    junit = ET.fromstring(reports.render_junit(outcome))
    cases = {c.get("name"): c for c in junit.iter("testcase")}
    assert cases["init"].get("classname") == "kaizen-perf.parity.control"
    assert cases["init"].find("skipped") is not None and junit.get("failures") == "0"
    html = render_check_html(outcome)
    assert html.index("Parity targets: control") < html.index("Parity targets: hooks")
    console = Console(record=True, width=200)
    reports.render_text(outcome, console)
    text = console.export_text()
    assert "parity: control" in text and "parity: hooks" in text and "UNDETERMINED" in text


def test_per_item_memory_is_shown_in_bytes_and_kib() -> None:
    """Bytes per hook or per connection stay readable instead of rounding to 0.00 MiB."""
    assert reports.quantity(426, "bytes") == "426 B"
    assert reports.quantity(8400, "bytes") == "8.2 KiB"
    assert reports.quantity(5 * 2**20, "bytes") == "5.00 MiB"


def _interpreter(folder: Path, name: str, marker: str) -> Path:
    """A stand-in environment: this interpreter with an environment variable of its own."""
    script = folder / name
    script.write_text(f'#!/bin/sh\nPARITY_ENV_MARK={marker} exec "{sys.executable}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_check_compares_two_interpreters_of_one_project(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--base-python``/``--head-python`` run each side's workers under its own interpreter:
    a value that differs only by environment is a REGRESSION, and the report says which
    interpreter ran which side."""
    project = tmp_path / "proj"
    (project / "benchmarks").mkdir(parents=True)
    (project / "benchmarks" / "bench_env.py").write_text(
        "import os\n\n\ndef bench_footprint():\n"
        "    return 2_000_000 if os.environ.get('PARITY_ENV_MARK') == 'new' else 1_000_000\n\n\n"
        "bench_footprint.__kaizen_bench__ = {'unit': 'bytes'}\n")
    old, new = _interpreter(tmp_path, "old-python", "old"), _interpreter(tmp_path, "new-python",
                                                                         "new")
    code = main(["check", "--head", str(project), "--base-python", str(old), "--head-python",
                 str(new), "--rounds", "6", "--max-rounds", "6", "--seed", "1", "--no-progress",
                 "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == exitcodes.CHECK_FAILED
    assert doc["benchmarks"][0]["verdict"] == "REGRESSION"
    assert doc["benchmarks"][0]["ratio"] == pytest.approx(2.0)
    assert any(str(old) in line for line in doc["compared"])
    assert any(str(new) in line for line in doc["compared"])


def test_an_interpreter_that_does_not_exist_is_a_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A wrong ``--base-python`` exits 2 with a message naming the option."""
    code = main(["check", "--base-python", str(tmp_path / "nope"), "--no-progress"])
    assert code == exitcodes.USAGE and "--base-python" in capsys.readouterr().err


def test_every_timed_parity_benchmark_declares_its_measure() -> None:
    """No timed parity benchmark is left to "auto": the engine could pick callgrind, under
    which importing Kaizen outlasts the worker's request timeout."""
    import importlib

    for path in sorted((ROOT / SUITE).glob("bench_*.py")):
        mod = importlib.import_module(f"benchmarks.parity.{path.stem}")
        for name in dir(mod):
            fn = getattr(mod, name)
            meta = getattr(fn, "__kaizen_bench__", None) or {}
            if name.startswith("bench_") and callable(fn) and meta.get("unit", "s") == "s":
                assert meta.get("measure") in ("wall", "cpu"), f"{path.stem}.{name}"


def test_bench_runs_under_another_interpreter_and_writes_md_and_html(tmp_path: Path) -> None:
    """``bench --python`` spawns its workers with that interpreter (named in the report),
    times a benchmark in the measure it declares; ``--report`` and ``--html`` write the
    Markdown and HTML reports to files."""
    project = tmp_path / "proj"
    (project / "benchmarks").mkdir(parents=True)
    (project / "benchmarks" / "bench_env.py").write_text(
        "import os\n\n\ndef bench_mark():\n"
        "    return 7.0 if os.environ.get('PARITY_ENV_MARK') == 'other' else 1.0\n\n\n"
        "bench_mark.__kaizen_bench__ = {'unit': 'count'}\n\n\n"
        "def bench_spin():\n    sum(range(2000))\n\n\n"
        "bench_spin.__kaizen_bench__ = {'measure': 'cpu'}\n")
    (project / "baselines").mkdir()
    (project / "baselines" / "parity-targets.toml").write_text(
        '[[target]]\nname = "mark"\ncomponent = "env"\nkind = "absolute"\n'
        'benchmark = "bench_env.bench_mark"\nunit = "count"\nbound = "min"\nbudget = 5\n')
    other = _interpreter(tmp_path, "other-python", "other")
    md, html = tmp_path / "bench.md", tmp_path / "bench.html"
    code = main(["bench", "--project", str(project), "--python", str(other), "--rounds", "5",
                 "--seed", "1", "--no-progress", "--out", str(tmp_path / "res.json"),
                 "--format", "md", "--report", str(md), "--html", str(html)])
    text = md.read_text()
    assert code == exitcodes.OK  # 7 >= 5: only the other interpreter's workers give 7
    assert "### kaizen-perf bench" in text and str(other) in text
    assert "#### Parity: env" in text and "| mark | absolute | ≥ 5 count | 7 count |" in text
    assert "Parity targets: env" in html.read_text()
    saved = json.loads((tmp_path / "res.json").read_text())
    spin = next(j for j in saved["jobs"] if j["key"] == "bench_env.bench_spin")
    assert spin["measure"] == "cpu"  # bench honours the declared measure, as check does


def test_an_overhead_row_the_baseline_also_violates_does_not_fail_a_check() -> None:
    """In ``check`` an overhead row is measured on the baseline too (its same-run
    reference): a VIOLATES both environments share is known, one the baseline meets fails."""
    from kaizen_perf.regression.compare import check_jobs
    from kaizen_perf.regression.evaluate import BASE_SUFFIX, PARITY_PREFIX

    infos = [BenchInfo("m.off"), BenchInfo("m.on")]
    targets = parse_targets({"target": [{"name": "o", "kind": "overhead", "benchmark": "m.on",
                                         "reference": "m.off", "budget": 0.02}]}, "test")
    jobs, _, _ = check_jobs(infos, infos, targets, ())
    ref_job = next(j for j in jobs if j.key == PARITY_PREFIX + "o" + BASE_SUFFIX)
    assert ref_job.y is not None and {ref_job.x.side, ref_job.y.side} == {"base"}

    def run(base_on: float) -> Outcome:
        def pairs(on: float) -> list[Pair]:
            return [Pair(i, "xy", 10.0 * (1 + (i % 3) / 1000), on * (1 + (i % 3) / 1000))
                    for i in range(12)]
        by_key = {j.key: j for j in jobs}
        samples = (JobSamples(by_key[PARITY_PREFIX + "o"], 1, pairs(11.0)),
                   JobSamples(ref_job, 1, pairs(base_on)))
        result = RunResult("check", Design(), (Side("base", ROOT), Side("head", ROOT)),
                           samples, {}, "", 0.0)
        return Outcome((), evaluate_parity(result, targets))

    known, new = run(11.0), run(10.0)  # the head is +10 % in both; the baseline +10 % / 0 %
    assert known.parity[0].status is Parity.VIOLATES and not known.parity[0].gating
    assert known.exit_code() == exitcodes.OK and "known" in known.parity[0].note
    assert new.parity[0].gating and new.exit_code() == exitcodes.CHECK_FAILED
