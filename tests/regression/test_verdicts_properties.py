"""Properties of the verdict rules over arbitrary intervals: each verdict implies its
definition, direction is a pure inversion, and more evidence of a slowdown never helps."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kaizen_perf.regression.stats import Estimate
from kaizen_perf.regression.verdicts import BoundCheck, Parity, Verdict, judge

ratios = st.floats(0.2, 5.0, allow_nan=False)
widths = st.floats(0.0, 0.5, allow_nan=False)
gates = st.floats(0.005, 0.3, allow_nan=False)


def est(ratio: float, below: float, above: float) -> Estimate:
    return Estimate(ratio, ratio * (1 - below), ratio * (1 + above), n=30, win_rate=0.5,
                    mde=0.01)


@given(ratios, widths, widths, gates)
def test_each_verdict_implies_its_definition(ratio: float, below: float, above: float,
                                             gate: float) -> None:
    """REGRESSION: low > 1 and ratio > 1+g; IMPROVEMENT: high < 1 and ratio < 1/(1+g);
    PASS: high < 1+g; INCONCLUSIVE: none of these holds."""
    e = est(ratio, below, above)
    v = judge(e, gate)
    regression = e.low > 1 and e.ratio > 1 + gate
    improvement = e.high < 1 and e.ratio < 1 / (1 + gate)
    assert (v is Verdict.REGRESSION) == regression
    assert (v is Verdict.IMPROVEMENT) == (improvement and not regression)
    assert (v is Verdict.PASS) == (e.high < 1 + gate and not regression and not improvement)
    assert v is not Verdict.ERROR


@given(ratios, widths, widths, gates)
def test_higher_is_better_is_the_inverse_problem(ratio: float, below: float, above: float,
                                                 gate: float) -> None:
    """Judging throughput y/x is judging time x/y: the same verdict on the inverted interval."""
    e = est(ratio, below, above)
    inverted = Estimate(1 / e.ratio, 1 / e.high, 1 / e.low, e.n, e.win_rate, e.mde)
    assert judge(e, gate, "higher") is judge(inverted, gate)


@given(ratios, widths, widths, gates, st.floats(1.0, 2.0))
def test_a_slower_candidate_never_gets_a_kinder_verdict(ratio: float, below: float,
                                                        above: float, gate: float,
                                                        factor: float) -> None:
    """Scaling the whole interval up (more slowdown) never moves REGRESSION to anything
    else, nor INCONCLUSIVE to PASS."""
    rank = {Verdict.IMPROVEMENT: 0, Verdict.PASS: 1, Verdict.INCONCLUSIVE: 2,
            Verdict.REGRESSION: 3}
    e = est(ratio, below, above)
    slower = Estimate(e.ratio * factor, e.low * factor, e.high * factor, e.n, 0.5, 0.01)
    before, after = judge(e, gate), judge(slower, gate)
    if before is Verdict.REGRESSION:
        assert after is Verdict.REGRESSION
    if before is Verdict.INCONCLUSIVE:
        assert after is not Verdict.PASS
    assert rank[after] >= rank[before] or before is Verdict.IMPROVEMENT


@given(st.floats(0.0, 10.0), st.floats(0.0, 10.0), st.floats(0.1, 5.0), st.floats(0.0, 1.0))
def test_budget_status_is_meets_xor_violates_or_undetermined(a: float, b: float, budget: float,
                                                             margin: float) -> None:
    """A budget is never both met and violated; MEETS and VIOLATES need the whole interval."""
    low, high = min(a, b), max(a, b)
    status = BoundCheck(low, low, high, budget, margin=margin).status
    if status is Parity.MEETS:
        assert high < budget
    elif status is Parity.VIOLATES:
        assert low > budget * (1 + margin)
    else:
        assert high >= budget and low <= budget * (1 + margin)
