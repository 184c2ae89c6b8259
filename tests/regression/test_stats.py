"""Statistics of the regression engine: sign-test intervals, estimates, quantile bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaizen_perf.regression.stats import (
    coverage,
    mad_noise,
    mean_change,
    paired_estimate,
    quantile_lower_bound,
    quantile_upper_bound,
    sign_test_rank,
    unpaired_estimate,
)

positive = st.floats(min_value=1e-6, max_value=1e3, allow_nan=False, allow_infinity=False)


def test_sign_test_rank_matches_the_binomial_table() -> None:
    """For 15 pairs the 95 % interval is [d_(4), d_(12)], as in published sign-test tables."""
    assert sign_test_rank(15) == 4
    assert sign_test_rank(60) == 22
    assert sign_test_rank(5) == 0  # five pairs cannot give 95 % confidence


@given(st.integers(min_value=6, max_value=400))
def test_sign_test_interval_is_the_tightest_with_95_percent_coverage(n: int) -> None:
    """The chosen rank covers the median with >= 95 % and the next rank would not."""
    k = sign_test_rank(n)
    assert coverage(n, k) >= 0.95
    assert coverage(n, k + 1) < 0.95


@given(st.lists(st.tuples(positive, positive), min_size=8, max_size=80),
       st.floats(min_value=0.01, max_value=100))
def test_estimate_is_scale_invariant(pairs: list[tuple[float, float]], scale: float) -> None:
    """Measuring in other units (both sides scaled alike) does not change the ratio."""
    x, y = [p[0] for p in pairs], [p[1] for p in pairs]
    a = paired_estimate(x, y)
    b = paired_estimate([v * scale for v in x], [v * scale for v in y])
    assert a.ratio == pytest.approx(b.ratio, rel=1e-9)
    assert a.low == pytest.approx(b.low, rel=1e-9)


@given(st.lists(st.tuples(positive, positive), min_size=8, max_size=80))
def test_swapping_sides_inverts_the_ratio_and_interval(pairs: list[tuple[float, float]]) -> None:
    """Comparing A with B is the reciprocal of comparing B with A."""
    x, y = [p[0] for p in pairs], [p[1] for p in pairs]
    ab, ba = paired_estimate(x, y), paired_estimate(y, x)
    assert ab.ratio * ba.ratio == pytest.approx(1.0, rel=1e-9)
    assert ab.low * ba.high == pytest.approx(1.0, rel=1e-9)
    assert ab.low <= ab.ratio <= ab.high


def test_identical_sides_give_ratio_one_with_a_point_interval() -> None:
    """Equal samples estimate no change with zero width and no wins."""
    est = paired_estimate([1.0] * 20, [1.0] * 20)
    assert (est.ratio, est.low, est.high, est.win_rate) == (1.0, 1.0, 1.0, 0.0)


def test_too_few_pairs_give_an_unbounded_interval() -> None:
    """With fewer than six pairs no 95 % interval exists, so nothing can be concluded."""
    est = paired_estimate([1.0] * 4, [2.0] * 4)
    assert est.low == 0.0 and math.isinf(est.high) and math.isinf(est.mde)


def test_non_positive_samples_are_rejected_with_a_clear_message() -> None:
    """A benchmark that reports zero time cannot be compared by ratio."""
    with pytest.raises(ValueError, match="positive"):
        paired_estimate([1.0, 0.0], [1.0, 1.0])


@given(st.lists(positive, min_size=1, max_size=200), st.floats(min_value=0.05, max_value=0.95))
def test_quantile_bounds_bracket_the_sample_quantile(xs: list[float], q: float) -> None:
    """The lower bound never exceeds the sample quantile, the upper bound never falls below."""
    sample_q = float(np.quantile(xs, q, method="inverted_cdf"))
    assert quantile_lower_bound(xs, q) <= sample_q <= quantile_upper_bound(xs, q)


def test_upper_bound_of_the_median_has_95_percent_coverage() -> None:
    """Over many exponential samples the bound misses the true median <= 5 % of the time."""
    rng = np.random.default_rng(3)
    misses = sum(quantile_upper_bound(list(rng.exponential(1.0, 30)), 0.5) < math.log(2)
                 for _ in range(2000))
    assert misses / 2000 <= 0.05 + 0.015


def test_unpaired_estimate_finds_a_clear_shift() -> None:
    """Stored-run comparisons still detect a 20 % slowdown."""
    rng = np.random.default_rng(1)
    x, y = rng.normal(1.0, 0.01, 40), rng.normal(1.2, 0.01, 40)
    est = unpaired_estimate(list(x), list(y))
    assert 1.15 < est.low < est.ratio < est.high < 1.25


def test_mean_change_and_noise() -> None:
    """pytest-benchmark's mean rule input and the robust noise estimate are what they say."""
    assert mean_change([1.0, 1.0], [1.1, 1.3]) == pytest.approx(0.2)
    rng = np.random.default_rng(2)
    x = np.ones(4000)
    y = np.exp(rng.normal(0, 0.02, 4000))
    assert mad_noise(list(x), list(y)) == pytest.approx(0.02, rel=0.1)


@given(st.lists(st.tuples(positive, positive), min_size=12, max_size=80),
       st.integers(min_value=1, max_value=12))
def test_worker_pair_clusters_only_widen_the_interval(pairs: list[tuple[float, float]],
                                                      groups: int) -> None:
    """Accounting for worker pairs never makes the interval narrower than pair-level."""
    x, y = [p[0] for p in pairs], [p[1] for p in pairs]
    clusters = [i % groups for i in range(len(pairs))]
    flat, clustered = paired_estimate(x, y), paired_estimate(x, y, clusters=clusters)
    assert clustered.ratio == flat.ratio
    assert clustered.low <= flat.low and clustered.high >= flat.high
    if groups < 6:  # too few worker pairs for a 95 % sign-test interval over them
        assert clustered.low == 0.0 and math.isinf(clustered.high)

