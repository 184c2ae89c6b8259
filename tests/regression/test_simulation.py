"""The simulation harness: under randomised pair order the false-positive rate stays
<= alpha on drifting noise; without randomisation it does not (the harness has teeth)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kaizen_perf.regression.stats import paired_estimate, sign_test_rank
from kaizen_perf.regression.verdicts import judge

ALPHA = 0.05
N_PAIRS = 60
SIMS = 3000


def _drift(rng: np.random.Generator, steps: int, walk: float, wave: float, period: float,
           trend: float) -> np.ndarray:
    """Log-scale machine slowness over time: random walk, periodic load and a steady trend."""
    t = np.arange(steps)
    walk_part = np.cumsum(rng.normal(0, walk, (SIMS, steps)), axis=1)
    phase = rng.uniform(0, 2 * np.pi, (SIMS, 1))
    return walk_part + wave * np.sin(2 * np.pi * t / period + phase) + trend * t


def _aa_log_ratios(rng: np.random.Generator, walk: float, wave: float, period: float,
                   noise: float, randomise: bool, effect: float = 0.0,
                   trend: float = 0.0) -> np.ndarray:
    """Per-pair ln(candidate/baseline) for SIMS simulated A/A (or A/B) runs."""
    drift = _drift(rng, 2 * N_PAIRS, walk, wave, period, trend)
    first, second = drift[:, 0::2], drift[:, 1::2]
    eps = rng.normal(0, noise, (SIMS, 2 * N_PAIRS))
    swap = rng.random((SIMS, N_PAIRS)) < 0.5 if randomise else np.zeros((SIMS, N_PAIRS), bool)
    base = np.where(swap, second, first) + eps[:, 0::2]
    cand = np.where(swap, first, second) + eps[:, 1::2] + effect
    return np.asarray(cand - base)


def _rejections(d: np.ndarray) -> float:
    """Fraction of runs whose sign-test interval excludes zero (either side)."""
    k = sign_test_rank(d.shape[1], ALPHA)
    s = np.sort(d, axis=1)
    return float(np.mean((s[:, k - 1] > 0) | (s[:, d.shape[1] - k] < 0)))


@settings(max_examples=15, deadline=None)
@given(walk=st.floats(0.0, 0.02), wave=st.floats(0.0, 0.2), period=st.floats(3.0, 200.0),
       noise=st.floats(0.001, 0.05), trend=st.floats(-0.01, 0.01),
       seed=st.integers(0, 2**32 - 1))
def test_false_positive_rate_stays_below_alpha_under_drift(walk: float, wave: float,
                                                           period: float, noise: float,
                                                           trend: float, seed: int) -> None:
    """Whatever the drift, randomised order keeps A/A rejections at or below alpha."""
    d = _aa_log_ratios(np.random.default_rng(seed), walk, wave, period, noise, randomise=True,
                       trend=trend)
    # 3000 runs: binomial standard error at 5 % is 0.4 %, so 1.2 % covers three of them.
    assert _rejections(d) <= ALPHA + 0.012


def test_fixed_order_under_drift_gives_false_positives() -> None:
    """Without randomisation a steady drift makes most A/A runs "significant"."""
    # The candidate always runs second on a machine that keeps slowing down.
    d = _aa_log_ratios(np.random.default_rng(7), 0.0, 0.0, 10.0, 0.01, randomise=False,
                       trend=0.006)
    assert _rejections(d) > 0.5


def test_gated_verdict_detects_a_five_percent_slowdown_at_realistic_noise() -> None:
    """At 3 % per-pair noise and 60 pairs, a 5 % slowdown is a REGRESSION >= 90 % of the time."""
    rng = np.random.default_rng(11)
    d = _aa_log_ratios(rng, 0.002, 0.05, 40.0, 0.03 / np.sqrt(2), True, np.log(1.05))
    hits = 0
    for row in d[:1000]:
        est = paired_estimate([1.0] * N_PAIRS, list(np.exp(row)))
        hits += judge(est, 0.03).value == "REGRESSION"
    assert hits / 1000 >= 0.9
