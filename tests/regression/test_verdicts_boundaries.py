"""Verdict and budget rules at their exact boundaries: where each comparison is strict, and the
degenerate inputs (no pairs, zero baselines, zero ratios) a CI run can produce."""

from __future__ import annotations

import math

import pytest

from kaizen_perf.regression.stats import Estimate, quantile_lower_bound, quantile_upper_bound
from kaizen_perf.regression.verdicts import (
    MEMORY_FLOOR_BYTES,
    BoundCheck,
    Parity,
    Verdict,
    absolute_check,
    effective_gate,
    judge,
    overhead_check,
    ratio_check,
)

GATE = 0.03
LIMIT = 1.0 + GATE


def est(ratio: float, low: float, high: float, n: int = 60) -> Estimate:
    return Estimate(ratio, low, high, n=n, win_rate=0.5, mde=0.01)


def test_verdict_and_status_names_are_the_report_contract() -> None:
    """Reports, JSON and JUnit print these exact words; scripts match on them."""
    assert [v.value for v in Verdict] == ["REGRESSION", "IMPROVEMENT", "PASS", "INCONCLUSIVE",
                                          "ERROR", "NEW"]
    assert [p.value for p in Parity] == ["MEETS", "VIOLATES", "UNDETERMINED", "NOT_RUN", "ERROR"]


def test_no_pairs_is_a_harness_error_not_a_verdict() -> None:
    """An estimate from zero pairs is ERROR, whatever its numbers say."""
    assert judge(est(1.5, 1.4, 1.6, n=0), GATE) is Verdict.ERROR
    assert judge(est(1.0, 0.99, 1.01, n=1), GATE) is Verdict.PASS


@pytest.mark.parametrize(("ratio", "low", "high", "verdict"), [
    (1.06, 1.0, 1.08, Verdict.INCONCLUSIVE),           # low exactly 1: "no change" still in
    (1.06, 1.0 + 1e-12, 1.08, Verdict.REGRESSION),     # just above 1
    (LIMIT, 1.01, 1.05, Verdict.INCONCLUSIVE),         # estimate exactly at the gate
    (LIMIT + 1e-9, 1.01, 1.05, Verdict.REGRESSION),    # just beyond it
    (1.01, 0.99, LIMIT, Verdict.INCONCLUSIVE),         # upper end exactly at the gate
    (1.01, 0.99, LIMIT - 1e-9, Verdict.PASS),          # just inside it
    (0.95, 0.93, 1.0, Verdict.PASS),                   # high exactly 1: not an improvement
    (0.95, 0.93, 1.0 - 1e-12, Verdict.IMPROVEMENT),
    (1 / LIMIT, 0.93, 0.99, Verdict.PASS),             # estimate exactly at 1/(1+gate)
    (1 / LIMIT - 1e-9, 0.93, 0.99, Verdict.IMPROVEMENT),
])
def test_every_comparison_is_strict_at_its_boundary(ratio: float, low: float, high: float,
                                                    verdict: Verdict) -> None:
    """A value exactly on a boundary never decides: the interval must be strictly past it."""
    assert judge(est(ratio, low, high), GATE) is verdict


def test_an_improvement_needs_the_whole_interval_below_one() -> None:
    """A low estimate whose interval still reaches above 1 is no IMPROVEMENT."""
    assert judge(est(0.95, 0.90, 1.01), GATE) is Verdict.PASS
    assert judge(est(0.95, 0.90, 1.05), GATE) is Verdict.INCONCLUSIVE


def test_an_improvement_must_exceed_the_gate_too() -> None:
    """A significant but small speed-up (inside the gate) is PASS, not IMPROVEMENT."""
    assert judge(est(0.98, 0.97, 0.99), GATE) is Verdict.PASS
    assert judge(est(0.98, 0.97, 0.99), 0.01) is Verdict.IMPROVEMENT


def test_the_gate_is_added_to_one_not_subtracted() -> None:
    """With a 10 % gate an 8 % slowdown is PASS-able, a 12 % one a REGRESSION."""
    assert judge(est(1.08, 1.05, 1.09), 0.10) is Verdict.PASS
    assert judge(est(1.12, 1.11, 1.13), 0.10) is Verdict.REGRESSION
    assert judge(est(1.12, 1.11, 1.13), 0.20) is Verdict.PASS


def test_throughput_inverts_ratio_and_swaps_the_interval_ends() -> None:
    """For "higher is better", 1/high becomes the lower end: [0.90, 1.0] is not a regression."""
    assert judge(est(0.95, 0.90, 1.0), GATE, "higher") is Verdict.INCONCLUSIVE
    assert judge(est(0.95, 0.90, 0.99), GATE, "higher") is Verdict.REGRESSION
    assert judge(est(1.0, 0.995, 1.005), GATE, "higher") is Verdict.PASS


def test_a_zero_bound_inverts_to_an_unbounded_one() -> None:
    """A throughput interval reaching 0 means the slowdown is unbounded: never PASS."""
    assert judge(est(1.0, 0.0, math.inf), GATE, "higher") is Verdict.INCONCLUSIVE
    assert judge(est(1.0, 0.0, 1.01), GATE, "higher") is Verdict.INCONCLUSIVE


def test_memory_gate_floor_is_exactly_64_kib() -> None:
    """The floor is 64 KiB of the baseline; a zero or negative baseline keeps the plain gate."""
    assert MEMORY_FLOOR_BYTES == 65536
    assert effective_gate(0.01, "bytes", 65536.0) == 1.0
    assert effective_gate(0.5, "bytes", 65536.0) == 1.0
    assert effective_gate(0.5, "bytes", 4 * 65536.0) == 0.5
    assert effective_gate(0.01, "bytes", 0.0) == 0.01
    assert effective_gate(0.01, "bytes", -5.0) == 0.01
    assert effective_gate(0.01, "count", 1.0) == 0.01


def test_overhead_and_ratio_checks_carry_the_estimate_exactly() -> None:
    """Overhead is ratio − 1 (bounds too); a ratio target keeps the ratio itself."""
    o = overhead_check(est(1.02, 1.01, 1.03), 0.05)
    assert (o.value, o.low, o.high, o.budget) == pytest.approx((0.02, 0.01, 0.03, 0.05))
    r = ratio_check(est(1.02, 1.01, 1.03), 1.5)
    assert (r.value, r.low, r.high, r.budget) == (1.02, 1.01, 1.03, 1.5)
    assert r.status is Parity.MEETS


@pytest.mark.parametrize(("low", "high", "status"), [
    (0.5, 1.0, Parity.UNDETERMINED),           # upper end exactly at the budget
    (0.5, 1.0 - 1e-12, Parity.MEETS),
    (1.0, 2.0, Parity.UNDETERMINED),           # lower end exactly at the budget
    (1.0 + 1e-12, 2.0, Parity.VIOLATES),
])
def test_budget_bounds_are_strict(low: float, high: float, status: Parity) -> None:
    """MEETS needs the upper bound strictly inside, VIOLATES the lower strictly outside."""
    assert BoundCheck(0.9, low, high, 1.0).status is status


def test_a_margin_widens_only_the_violation_side() -> None:
    """With a 20 % margin a value must exceed 1.2× the budget to violate; MEETS is unchanged."""
    assert BoundCheck(1.1, 1.1, 1.15, 1.0, margin=0.2).status is Parity.UNDETERMINED
    assert BoundCheck(1.3, 1.2, 1.4, 1.0, margin=0.2).status is Parity.UNDETERMINED
    assert BoundCheck(1.3, 1.21, 1.4, 1.0, margin=0.2).status is Parity.VIOLATES
    assert BoundCheck(0.9, 0.8, 0.99, 1.0, margin=0.2).status is Parity.MEETS


@pytest.mark.parametrize(("low", "high", "margin", "status"), [
    (1.0, 2.0, 0.0, Parity.MEETS),             # a minimum: lower end exactly at it still meets
    (1.0 - 1e-12, 2.0, 0.0, Parity.UNDETERMINED),
    (0.1, 0.5, 0.0, Parity.VIOLATES),
    (0.1, 1.0, 0.0, Parity.UNDETERMINED),      # upper end exactly at the budget
    (0.1, 0.9, 0.25, Parity.UNDETERMINED),     # 0.9 is within a 25 % margin of 1.0 (0.8)
    (0.1, 0.79, 0.25, Parity.VIOLATES),
])
def test_minimum_budgets_mirror_maximum_ones(low: float, high: float, margin: float,
                                             status: Parity) -> None:
    """A throughput floor MEETS when the lower bound reaches it and VIOLATES below it / (1+m)."""
    assert BoundCheck(0.5, low, high, 1.0, bound="min", margin=margin).status is status


def test_absolute_check_takes_the_upper_quantile_index() -> None:
    """The quantile is the sample at index ⌊q·n⌋ (clamped to the last), e.g. 6 of 1..10."""
    xs = [float(i) for i in range(10, 0, -1)]  # unsorted on purpose
    assert absolute_check(xs, 100.0, 0.5).value == 6.0
    assert absolute_check(xs, 100.0, 0.9).value == 10.0
    assert absolute_check(xs, 100.0, 0.05).value == 1.0
    assert absolute_check(xs, 100.0, 1.0).value == 10.0


def test_absolute_check_bounds_are_the_95_percent_order_statistics() -> None:
    """The bounds are the distribution-free bounds at alpha 0.05 (not 0.1), passed through."""
    xs = [float(i) for i in range(1, 101)]
    check = absolute_check(xs, 1000.0, 0.5, bound="min", margin=0.1)
    assert check.high == quantile_upper_bound(xs, 0.5, 0.05) == 59.0
    assert check.low == quantile_lower_bound(xs, 0.5, 0.05) == 42.0
    assert (check.bound, check.margin, check.budget) == ("min", 0.1, 1000.0)
    wider = absolute_check(xs, 1000.0, 0.5, alpha=0.01)
    assert wider.high > check.high and wider.low < check.low


def test_an_empty_sample_is_undetermined_with_unbounded_bounds() -> None:
    """No samples: value NaN, bounds ±∞, status UNDETERMINED, budget settings kept."""
    check = absolute_check([], 2.0, bound="min", margin=0.3)
    assert math.isnan(check.value) and check.low == -math.inf and check.high == math.inf
    assert (check.budget, check.bound, check.margin) == (2.0, "min", 0.3)
    assert check.status is Parity.UNDETERMINED


def test_a_memory_baseline_under_one_byte_still_gets_the_floor() -> None:
    """Any positive baseline gets the 64 KiB floor (a fraction of a byte: a huge gate)."""
    assert effective_gate(0.01, "bytes", 0.5) == 131072.0


def test_defaults_are_the_documented_ones() -> None:
    """Default direction is "lower"; absolute checks bound the median, strictly, with no margin."""
    assert judge(est(1.06, 1.04, 1.08), GATE) is Verdict.REGRESSION
    xs = [float(i) for i in range(1, 11)]
    default = absolute_check(xs, 8.0)
    assert default.value == 6.0 and (default.bound, default.margin) == ("max", 0.0)
    assert BoundCheck(1.0, 1.0, 1.0, 1.0).margin == 0.0
    assert absolute_check([10.0 + i for i in range(40)], 5.0).status is Parity.VIOLATES


def test_bad_directions_and_bounds_are_refused() -> None:
    """A typo in a direction or a bound is an error, not silently "lower" or "max"."""
    with pytest.raises(ValueError, match=r"^Benchmark direction 'faster' is not 'lower' or "
                       r"'higher'\.$"):
        judge(est(1.0, 0.99, 1.01), GATE, "faster")
    with pytest.raises(ValueError, match=r"^Budget bound 'maximum' is not 'max' or 'min'\.$"):
        BoundCheck(1.0, 1.0, 1.0, 1.0, bound="maximum")


def test_budget_checks_are_immutable() -> None:
    """A judged bound cannot be edited after the fact (frozen dataclass)."""
    import dataclasses

    check = BoundCheck(1.0, 0.9, 1.1, 2.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        check.budget = 0.5  # type: ignore[misc]
