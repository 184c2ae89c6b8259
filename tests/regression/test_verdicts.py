"""Verdicts, parity statuses and the exit codes they imply."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaizen_perf.cli import exitcodes
from kaizen_perf.regression.evaluate import Outcome, ParityRow, Row
from kaizen_perf.regression.stats import Estimate
from kaizen_perf.regression.targets import Target
from kaizen_perf.regression.verdicts import (
    Parity,
    Verdict,
    absolute_check,
    effective_gate,
    judge,
    overhead_check,
)


def est(ratio: float, low: float, high: float) -> Estimate:
    return Estimate(ratio, low, high, n=60, win_rate=0.5, mde=0.01)


@pytest.mark.parametrize(("ratio", "low", "high", "verdict"), [
    (1.06, 1.04, 1.08, Verdict.REGRESSION),      # surely slower, beyond the gate
    (1.02, 1.01, 1.025, Verdict.PASS),           # surely slower, but inside the 3 % gate
    (1.00, 0.99, 1.01, Verdict.PASS),
    (1.02, 0.99, 1.06, Verdict.INCONCLUSIVE),    # could be a 6 % regression
    (1.04, 1.01, 1.08, Verdict.REGRESSION),
    (1.025, 1.01, 1.05, Verdict.INCONCLUSIVE),   # significant, estimate below the gate
    (0.94, 0.92, 0.96, Verdict.IMPROVEMENT),
])
def test_judge_is_gated_and_three_valued(ratio: float, low: float, high: float,
                                         verdict: Verdict) -> None:
    """REGRESSION needs a CI above 1 and an estimate above the gate; PASS a CI below the gate."""
    assert judge(est(ratio, low, high), 0.03) is verdict


def test_higher_is_better_flips_the_direction() -> None:
    """For throughput benchmarks a drop is the regression."""
    assert judge(est(0.90, 0.88, 0.92), 0.03, "higher") is Verdict.REGRESSION
    assert judge(est(1.10, 1.08, 1.12), 0.03, "higher") is Verdict.IMPROVEMENT


@given(st.floats(0.5, 2.0), st.floats(0.0, 0.2), st.floats(0.0, 0.2))
def test_a_regression_never_has_an_interval_touching_one(ratio: float, a: float,
                                                         b: float) -> None:
    """No REGRESSION verdict is possible while "no change" is inside the interval."""
    e = est(ratio, ratio * (1 - a), ratio * (1 + b))
    if judge(e, 0.03) is Verdict.REGRESSION:
        assert e.low > 1.0 and e.ratio > 1.03


def test_memory_gate_has_a_64_kib_floor() -> None:
    """A 1 % gate on a 1 MiB peak becomes 64 KiB (6.25 %); on 100 MiB it stays 1 %."""
    assert effective_gate(0.01, "bytes", 2**20) == pytest.approx(0.0625)
    assert effective_gate(0.01, "bytes", 100 * 2**20) == 0.01
    assert effective_gate(0.01, "s", 2**20) == 0.01


def test_overhead_is_non_inferiority() -> None:
    """MEETS only when the upper bound is inside the budget; VIOLATES when the lower is outside."""
    assert overhead_check(est(1.005, 0.99, 1.015), 0.02).status is Parity.MEETS
    assert overhead_check(est(1.01, 0.995, 1.03), 0.02).status is Parity.UNDETERMINED
    assert overhead_check(est(1.05, 1.03, 1.07), 0.02).status is Parity.VIOLATES


def test_absolute_budget_uses_order_statistic_bounds() -> None:
    """A median well under budget MEETS; one above it VIOLATES; too few samples stay open."""
    assert absolute_check([0.1 + i * 1e-3 for i in range(30)], 1.0).status is Parity.MEETS
    assert absolute_check([2.0 + i * 1e-3 for i in range(30)], 1.0).status is Parity.VIOLATES
    assert absolute_check([0.1, 0.2], 1.0).status is Parity.UNDETERMINED
    assert math.isnan(absolute_check([], 1.0).value)


def _outcome(*verdicts: Verdict, parity: Parity | None = None) -> Outcome:
    rows = tuple(Row(f"b{i}", "s", v, 0.03) for i, v in enumerate(verdicts))
    target = Target("t", "absolute", "b0", 1.0)
    return Outcome(rows, (ParityRow(target, parity),) if parity else ())


def test_exit_codes_follow_the_contract() -> None:
    """0 pass, 1 regression or violation, 3 harness error first, 4 inconclusive only if strict."""
    assert _outcome(Verdict.PASS, Verdict.NEW).exit_code() == exitcodes.OK
    assert _outcome(Verdict.PASS, Verdict.REGRESSION).exit_code() == exitcodes.CHECK_FAILED
    assert _outcome(Verdict.PASS, parity=Parity.VIOLATES).exit_code() == exitcodes.CHECK_FAILED
    assert _outcome(Verdict.REGRESSION, Verdict.ERROR).exit_code() == exitcodes.RUNTIME
    assert _outcome(Verdict.INCONCLUSIVE).exit_code() == exitcodes.OK
    assert _outcome(Verdict.INCONCLUSIVE).exit_code(strict=True) == exitcodes.INCONCLUSIVE
    assert _outcome(parity=Parity.UNDETERMINED).exit_code(strict=True) == exitcodes.INCONCLUSIVE
    assert _outcome(parity=Parity.NOT_RUN).exit_code(strict=True) == exitcodes.OK
