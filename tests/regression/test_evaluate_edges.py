"""The verdicts a check gives when sampling did not go to plan: a worker that failed, a
budget that ran out before a benchmark's first round, a parity row whose benchmarks are
not in the suite; and what each does to the exit code."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaizen_perf.cli import exitcodes
from kaizen_perf.regression.evaluate import (
    BASE_SUFFIX,
    PARITY_PREFIX,
    compare_row,
    evaluate_check,
    evaluate_parity,
)
from kaizen_perf.regression.model import BenchInfo, Design, Job, JobSamples, Operand, Pair, Side
from kaizen_perf.regression.results import RunResult
from kaizen_perf.regression.targets import Target, Targets
from kaizen_perf.regression.verdicts import Parity, Verdict

TRACEBACK = "Traceback (most recent call last):\n  File 'bench.py', line 3\nZeroDivisionError"


def _paired(name: str, xs: list[float], ys: list[float], *, key: str | None = None,
            measure: str = "wall", error: str | None = None) -> JobSamples:
    job = Job(key or name, Operand("base", name), Operand("head", name), BenchInfo(name),
              measure)
    pairs = [Pair(i, "xy" if i % 2 else "yx", x, y)
             for i, (x, y) in enumerate(zip(xs, ys, strict=True))]
    return JobSamples(job, 1, pairs, error)


def _single(name: str, values: list[float], error: str | None = None) -> JobSamples:
    job = Job(name, Operand("head", name), None, BenchInfo(name))
    return JobSamples(job, 1, [Pair(i, "x", v, None) for i, v in enumerate(values)], error)


def _run(*jobs: JobSamples) -> RunResult:
    return RunResult("check", Design(), (Side("base", Path(".")), Side("head", Path("."))),
                     jobs, {}, "", 0.0)


def test_a_failed_worker_is_an_error_row_with_the_first_line_and_exit_3() -> None:
    """A benchmark whose worker failed is ERROR (never a regression), its note the first line
    of the failure, and the check exits 3 whatever else it found."""
    failed = _paired("m.broken", [], [], error=TRACEBACK)
    slow = _paired("m.slow", [1.0] * 12, [2.0] * 12)
    outcome = evaluate_check(_run(failed, slow), Targets())
    rows = {r.name: r for r in outcome.rows}
    assert (rows["m.broken"].verdict, rows["m.broken"].note) == (
        Verdict.ERROR, "Traceback (most recent call last):")
    assert rows["m.slow"].verdict is Verdict.REGRESSION
    assert outcome.exit_code() == exitcodes.RUNTIME


def test_a_benchmark_the_budget_never_reached_is_inconclusive_not_an_error() -> None:
    """No pairs and no error: sampling stopped first. INCONCLUSIVE, said so; exit 0 unless
    --strict (exit 4)."""
    row = compare_row(_paired("m.late", [], [], measure="cpu"), Targets())
    assert (row.verdict, row.note, row.measure) == (Verdict.INCONCLUSIVE, "no samples taken",
                                                    "cpu")
    outcome = evaluate_check(_run(_paired("m.late", [], [])), Targets())
    assert outcome.exit_code() == exitcodes.OK
    assert outcome.exit_code(strict=True) == exitcodes.INCONCLUSIVE


def test_instruction_counts_are_judged_from_the_counts_themselves() -> None:
    """Counts repeat exactly: a 10 % rise in every pair is a regression at a 3 % gate, and
    identical counts pass, from as few as two pairs."""
    up = compare_row(_paired("m.hook", [1000.0, 1000.0], [1100.0, 1100.0],
                             measure="instructions"), Targets(gate=0.03))
    same = compare_row(_paired("m.hook", [1000.0, 1000.0], [1000.0, 1000.0],
                               measure="instructions"), Targets(gate=0.03))
    assert up.verdict is Verdict.REGRESSION and up.estimate is not None
    assert up.estimate.ratio == pytest.approx(1.1)
    assert same.verdict is Verdict.PASS


def _overhead(name: str = "ovh") -> Target:
    return Target(name, "overhead", "m.with", 0.05, reference="m.without")


def test_a_paired_parity_row_says_why_it_has_no_status() -> None:
    """An overhead row is NOT_RUN when its benchmarks are not in the suite, ERROR (exit 3)
    when their worker failed, UNDETERMINED when the budget stopped sampling first."""
    targets = Targets(targets=(_overhead(),))
    missing = evaluate_parity(_run(), targets)[0]
    assert (missing.status, missing.note) == (
        Parity.NOT_RUN, "m.with or m.without not in the suite (or not selected)")
    failed = evaluate_parity(_run(_paired("m.with", [], [], key=PARITY_PREFIX + "ovh",
                                          error=TRACEBACK)), targets)[0]
    assert (failed.status, failed.note) == (Parity.ERROR, "Traceback (most recent call last):")
    empty = evaluate_parity(_run(_paired("m.with", [], [], key=PARITY_PREFIX + "ovh")),
                            targets)[0]
    assert (empty.status, empty.note) == (Parity.UNDETERMINED, "no samples taken")


def test_an_overhead_violation_the_baseline_shares_does_not_gate() -> None:
    """20 % overhead against a 5 % budget VIOLATES; when the baseline measured in the same run
    violates it too, the row says so and the check does not fail on it."""
    targets = Targets(targets=(_overhead(),))
    head = _paired("m.with", [1.0] * 12, [1.2] * 12, key=PARITY_PREFIX + "ovh")
    base = _paired("m.with", [1.0] * 12, [1.2] * 12, key=PARITY_PREFIX + "ovh" + BASE_SUFFIX)
    alone = evaluate_parity(_run(head), targets)[0]
    assert alone.status is Parity.VIOLATES and alone.gating
    shared = evaluate_parity(_run(head, base), targets)[0]
    assert shared.status is Parity.VIOLATES and not shared.gating
    assert shared.note == "baseline VIOLATES too: known, not gating"


def test_an_absolute_row_whose_benchmark_failed_is_an_error() -> None:
    """An absolute budget cannot be judged from a benchmark that crashed: ERROR, exit 3."""
    targets = Targets(targets=(Target("lat", "absolute", "m.call", 0.01),))
    row = evaluate_parity(_run(_single("m.call", [], error="worker died\nmore")), targets)[0]
    assert (row.status, row.note) == (Parity.ERROR, "worker died")
