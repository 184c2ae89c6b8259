"""Distribution-free statistics for paired benchmark samples.

The estimate is the median of per-pair log ratios ``d_i = ln(y_i / x_i)``; its
95 % confidence interval comes from sign-test order statistics, which assume
only that the ``d_i`` are independent with median ``θ``. Randomising the order
inside each pair (AB or BA) makes drift hit both signs alike, which is what
keeps the false-positive rate at or below alpha on a drifting machine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

Z_POWER = 1.2816  # one-sided z for 90 % power, used for the minimum detectable effect


@dataclass(frozen=True)
class Estimate:
    """A ratio estimate ``y/x`` with its confidence interval (all as ratios, 1.0 = equal)."""

    ratio: float
    low: float
    high: float
    n: int
    win_rate: float  # fraction of pairs where y > x
    mde: float  # smallest change (fraction) this noise lets us detect with ~90 % power
    method: str = "sign test"  # how the interval was made, for reports to say
    coverage: float = 0.95  # its (at least) two-sided coverage; 0 when unbounded

    @property
    def change(self) -> float:
        """The estimated change as a fraction (0.05 = 5 % larger)."""
        return self.ratio - 1.0


@lru_cache(maxsize=4096)
def sign_test_rank(n: int, alpha: float = 0.05) -> int:
    """The 1-based rank ``k`` whose order statistics ``[d_(k), d_(n-k+1)]`` cover the
    median with probability at least ``1 - alpha``; 0 when ``n`` is too small."""
    total, cum, k = 2.0**n, 0.0, 0
    # Largest k with P(Binomial(n, 1/2) <= k - 1) <= alpha / 2.
    while k < n // 2 + 1:
        nxt = cum + math.comb(n, k) / total
        if nxt > alpha / 2:
            break
        cum, k = nxt, k + 1
    return k


def coverage(n: int, k: int) -> float:
    """Exact coverage of the ``[d_(k), d_(n-k+1)]`` interval for the median."""
    tail = sum(math.comb(n, i) for i in range(k)) / 2.0**n
    return 1.0 - 2.0 * tail


def log_ratios(x: Sequence[float], y: Sequence[float]) -> np.ndarray:
    """``ln(y_i / x_i)`` for positive paired values (validated)."""
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if xa.shape != ya.shape or xa.ndim != 1:
        msg = f"Paired samples need equal lengths, got {xa.shape} and {ya.shape}."
        raise ValueError(msg)
    if xa.size and (np.min(xa) <= 0 or np.min(ya) <= 0):
        msg = "Paired samples must be positive to take log ratios; a benchmark returned <= 0."
        raise ValueError(msg)
    return np.asarray(np.log(ya / xa))


def paired_estimate(x: Sequence[float], y: Sequence[float], alpha: float = 0.05, *,
                    clusters: Sequence[int] | None = None) -> Estimate:
    """Median ratio ``y/x`` over pairs with a sign-test confidence interval.

    With ``clusters`` (the worker pair of each pair), the interval is widened to
    also cover the sign-test interval of the per-cluster medians: pairs from one
    worker pair share its layout luck, so they are not fully independent.
    """
    raw = log_ratios(x, y)
    d = np.sort(raw)
    n = int(d.size)
    if n == 0:
        return Estimate(1.0, 0.0, math.inf, 0, 0.0, math.inf, "no pairs", 0.0)
    low, high = _sign_interval(d, alpha)
    k = sign_test_rank(n, alpha)
    cover = coverage(n, k) if k else 0.0
    method = f"sign test over {n} pairs"
    if clusters is not None:
        c_low, c_high = cluster_interval(raw, clusters, alpha)
        low, high = min(low, c_low), max(high, c_high)
        m = len(set(clusters))
        kc = sign_test_rank(m, alpha)
        cover = min(cover, coverage(m, kc)) if kc else 0.0
        # k = 1 is the whole range of the worker-pair medians: say so, it is no narrower.
        method = (f"min–max of {m} worker-pair medians" if kc == 1 else
                  f"sign test over {m} worker pairs" if kc else
                  f"unbounded: {m} worker pairs are too few")
    mid = float(np.median(d))
    return Estimate(ratio=math.exp(mid), low=_exp(low), high=_exp(high), n=n,
                    win_rate=float(np.mean(d > 0)), mde=_mde(low, high, alpha),
                    method=method, coverage=cover)


def range_estimate(x: Sequence[float], y: Sequence[float]) -> Estimate:
    """For counts that repeat (instructions): the ratio of each side's steady count.

    A count is exact except for occasional extra work (a garbage collection, the
    interpreter re-specialising bytecode) that only ever adds instructions, so
    each side's minimum is its steady count. The interval reaches from the
    ratio of minima to each side's median: degenerate when most pairs agree,
    wide when the extra work is common.
    """
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    d = log_ratios(x, y)
    if d.size == 0:
        return Estimate(1.0, 0.0, math.inf, 0, 0.0, math.inf, "no pairs", 0.0)
    x_min, y_min = float(np.min(xa)), float(np.min(ya))
    x_med, y_med = float(np.median(xa)), float(np.median(ya))
    ratio = y_min / x_min
    low, high = min(ratio, y_min / x_med), max(ratio, y_med / x_min)
    return Estimate(ratio=ratio, low=low, high=high, n=int(d.size),
                    win_rate=float(np.mean(d > 0)), mde=math.log(high / low),
                    method=f"steady counts of {d.size} instruction-count pairs",
                    coverage=1.0)


def _sign_interval(d_sorted: np.ndarray, alpha: float) -> tuple[float, float]:
    n = int(d_sorted.size)
    k = sign_test_rank(n, alpha)
    if k == 0:
        return -math.inf, math.inf
    return float(d_sorted[k - 1]), float(d_sorted[n - k])


def cluster_interval(d: np.ndarray, clusters: Sequence[int],
                     alpha: float = 0.05) -> tuple[float, float]:
    """The sign-test interval of per-cluster median log ratios (unbounded below 6 clusters)."""
    labels = np.asarray(clusters)
    medians = np.sort([float(np.median(d[labels == c])) for c in np.unique(labels)])
    return _sign_interval(medians, alpha)


def _exp(v: float) -> float:
    return math.exp(v) if math.isfinite(v) else (math.inf if v > 0 else 0.0)


def _mde(low: float, high: float, alpha: float) -> float:
    if not (math.isfinite(low) and math.isfinite(high)):
        return math.inf
    z = _z(1 - alpha / 2)
    return math.expm1((high - low) / 2 * (z + Z_POWER) / z)


def _z(p: float) -> float:
    # Bisection on erf: exact enough for the two quantiles this module needs.
    lo, hi = -10.0, 10.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def quantile_upper_bound(samples: Sequence[float], q: float, alpha: float = 0.05) -> float:
    """A distribution-free ``1 - alpha`` upper confidence bound on the ``q`` quantile.

    The ``k``-th order statistic bounds the quantile when P(Binomial(n, q) < k) >= 1 - alpha;
    infinity when there are too few samples for that confidence.
    """
    xs = sorted(samples)
    n, cum = len(xs), 0.0
    for k in range(1, n + 1):
        cum += math.comb(n, k - 1) * q ** (k - 1) * (1 - q) ** (n - k + 1)
        if cum >= 1 - alpha:
            return float(xs[k - 1])
    return math.inf


def quantile_lower_bound(samples: Sequence[float], q: float, alpha: float = 0.05) -> float:
    """A distribution-free ``1 - alpha`` lower confidence bound on the ``q`` quantile."""
    return -quantile_upper_bound([-v for v in samples], 1 - q, alpha)


def unpaired_estimate(x: Sequence[float], y: Sequence[float], alpha: float = 0.05, *,
                      resamples: int = 2000, seed: int = 0) -> Estimate:
    """Ratio of medians with a percentile-bootstrap interval, for unpaired stored runs."""
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if xa.size == 0 or ya.size == 0:
        return Estimate(1.0, 0.0, math.inf, 0, 0.0, math.inf, "no samples", 0.0)
    rng = np.random.default_rng(seed)
    bx = np.median(rng.choice(xa, (resamples, xa.size)), axis=1)
    by = np.median(rng.choice(ya, (resamples, ya.size)), axis=1)
    logs = np.log(by / bx)
    low, high = np.quantile(logs, [alpha / 2, 1 - alpha / 2])
    ratio = float(np.median(ya) / np.median(xa))
    win = float(np.mean(ya[:, None] > xa[None, :]))
    return Estimate(ratio, math.exp(low), math.exp(high), int(min(xa.size, ya.size)), win,
                    _mde(float(low), float(high), alpha),
                    "bootstrap of medians, unpaired", 1 - alpha)


def mean_change(x: Sequence[float], y: Sequence[float]) -> float:
    """pytest-benchmark's compare rule input: ``mean(y) / mean(x) - 1``."""
    return float(np.mean(np.asarray(y, dtype=float)) / np.mean(np.asarray(x, dtype=float)) - 1)


def mad_noise(x: Sequence[float], y: Sequence[float]) -> float:
    """Per-pair noise: 1.4826 × MAD of the log ratios (a robust standard deviation)."""
    d = log_ratios(x, y)
    if d.size == 0:
        return math.nan
    return float(1.4826 * np.median(np.abs(d - np.median(d))))
