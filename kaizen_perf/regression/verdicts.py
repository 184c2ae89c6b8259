"""Verdicts: gated three-valued comparisons and non-inferiority tests of parity targets."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from kaizen_perf.regression.stats import (
    Estimate,
    quantile_lower_bound,
    quantile_upper_bound,
)

MEMORY_FLOOR_BYTES = 64 * 1024  # memory gate floor: a few allocator pages are not a regression


class Verdict(StrEnum):
    """The outcome of one baseline/candidate comparison."""

    REGRESSION = "REGRESSION"
    IMPROVEMENT = "IMPROVEMENT"
    PASS = "PASS"
    INCONCLUSIVE = "INCONCLUSIVE"
    ERROR = "ERROR"  # the harness failed: never a regression (exit 3)
    NEW = "NEW"  # only the candidate has this benchmark


class Parity(StrEnum):
    """The outcome of a parity target (a non-inferiority test against a budget)."""

    MEETS = "MEETS"
    VIOLATES = "VIOLATES"
    UNDETERMINED = "UNDETERMINED"
    NOT_RUN = "NOT_RUN"  # the benchmark is not in the suite (yet)
    ERROR = "ERROR"  # the harness failed while measuring it (exit 3)


def effective_gate(gate: float, unit: str, base_median: float) -> float:
    """The gate as a fraction; memory gates never go below 64 KiB of the baseline."""
    if unit == "bytes" and base_median > 0:
        return max(gate, MEMORY_FLOOR_BYTES / base_median)
    return gate


def judge(est: Estimate, gate: float, direction: str = "lower") -> Verdict:
    """REGRESSION if the whole CI is worse and the estimate exceeds the gate; PASS if
    the CI excludes a change as large as the gate; otherwise INCONCLUSIVE."""
    if direction not in ("lower", "higher"):
        msg = f"Benchmark direction {direction!r} is not 'lower' or 'higher'."
        raise ValueError(msg)
    if est.n == 0:
        return Verdict.ERROR
    ratio, low, high = est.ratio, est.low, est.high
    if direction == "higher":  # a drop in throughput is the slowdown
        ratio, low, high = _inv(ratio), _inv(high), _inv(low)
    limit = 1.0 + gate
    if low > 1.0 and ratio > limit:
        return Verdict.REGRESSION
    if high < 1.0 and ratio < 1.0 / limit:
        return Verdict.IMPROVEMENT
    if high < limit:
        return Verdict.PASS
    return Verdict.INCONCLUSIVE


def _inv(v: float) -> float:
    return math.inf if v == 0 else 1.0 / v


@dataclass(frozen=True)
class BoundCheck:
    """A measured quantity against a budget: the point value and its confidence bounds.

    ``bound`` "max" means the quantity must stay under the budget, "min" at or
    above it (throughput, concurrency). ``margin`` widens the budget for the
    VIOLATES side only: a machine-dependent absolute number is called a
    violation only when it misses the budget by more than the spread between
    machines, so a CI gate does not flip on a near-budget value.
    """

    value: float
    low: float
    high: float
    budget: float
    bound: str = "max"
    margin: float = 0.0

    def __post_init__(self) -> None:
        if self.bound not in ("max", "min"):
            msg = f"Budget bound {self.bound!r} is not 'max' or 'min'."
            raise ValueError(msg)

    @property
    def status(self) -> Parity:
        """MEETS only when the whole interval is inside the budget; VIOLATES only
        when it is wholly past the budget widened by the margin."""
        if self.bound == "min":
            if self.low >= self.budget:
                return Parity.MEETS
            if self.high < self.budget / (1.0 + self.margin):
                return Parity.VIOLATES
            return Parity.UNDETERMINED
        if self.high < self.budget:
            return Parity.MEETS
        if self.low > self.budget * (1.0 + self.margin):
            return Parity.VIOLATES
        return Parity.UNDETERMINED


def overhead_check(est: Estimate, budget: float) -> BoundCheck:
    """Overhead ``on/off - 1`` against a fractional budget (non-inferiority)."""
    return BoundCheck(est.ratio - 1, est.low - 1, est.high - 1, budget)


def ratio_check(est: Estimate, budget: float) -> BoundCheck:
    """A paired ratio (e.g. Kaizen over the Claude Agent SDK) against a maximum ratio."""
    return BoundCheck(est.ratio, est.low, est.high, budget)


def absolute_check(samples: Sequence[float], budget: float, quantile: float = 0.5,
                   alpha: float = 0.05, *, bound: str = "max",
                   margin: float = 0.0) -> BoundCheck:
    """The ``quantile`` of the samples against an absolute budget, with order-statistic bounds."""
    xs = sorted(samples)
    if not xs:
        return BoundCheck(math.nan, -math.inf, math.inf, budget, bound, margin)
    value = xs[min(len(xs) - 1, int(quantile * len(xs)))]
    return BoundCheck(value, quantile_lower_bound(xs, quantile, alpha),
                      quantile_upper_bound(xs, quantile, alpha), budget, bound, margin)
