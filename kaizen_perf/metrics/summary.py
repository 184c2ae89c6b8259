"""Human-readable figures from aggregated families: counts, quantiles, cost.

Quantiles are estimated from histogram buckets by linear interpolation inside
the bucket, exactly as Prometheus's ``histogram_quantile()`` does, so the
numbers printed here match what a Grafana panel shows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from kaizen_perf.metrics import Family


def histogram_quantile(q: float, bounds: Sequence[float], counts: Sequence[float]) -> float:
    """The q-quantile from per-bucket (non-cumulative) counts; ``counts[-1]`` is +Inf."""
    total = sum(counts)
    if total == 0:
        return math.nan
    rank, running = q * total, 0.0
    for i, count in enumerate(counts):
        if running + count >= rank and count > 0:
            if i == len(bounds):  # +Inf bucket: the highest finite bound, like Prometheus
                return bounds[-1]
            lower = bounds[i - 1] if i > 0 else 0.0
            return lower + (bounds[i] - lower) * (rank - running) / count
        running += count
    return bounds[-1]


@dataclass(frozen=True)
class SeriesStats:
    """Count, mean and quantiles of one histogram series."""

    count: int
    mean: float
    p50: float
    p95: float
    p99: float


def stats(fam: Family, match: dict[str, str] | None = None) -> SeriesStats:
    """Merge every series of a histogram family whose labels match, and summarise it."""
    idx = {name: i for i, name in enumerate(fam.spec.labels)}
    merged = [0.0] * (len(fam.buckets) + 2)
    for key, slot in fam.series.items():
        if match and any(key[idx[k]] != val for k, val in match.items()):
            continue
        for i, value in enumerate(slot):
            merged[i] += value
    counts, total_sum = merged[:-1], merged[-1]
    n = int(sum(counts))
    return SeriesStats(n, total_sum / n if n else math.nan,
                       *(histogram_quantile(q, fam.buckets, counts) for q in (0.5, 0.95, 0.99)))


def total(fam: Family, match: dict[str, str] | None = None) -> float:
    """Sum of a counter or gauge family over the series whose labels match (scaled)."""
    idx = {name: i for i, name in enumerate(fam.spec.labels)}
    return sum(slot[0] for key, slot in fam.series.items()
               if not match or all(key[idx[k]] == val for k, val in match.items())
               ) / fam.spec.divisor


def label_values(fam: Family, label: str) -> list[str]:
    """The distinct values a label takes in a family, sorted."""
    i = fam.spec.labels.index(label)
    return sorted({key[i] for key in fam.series})


def cost_text(usd: float | None, unpriced: int, *, digits: int = 4) -> str:
    """A cost as people should read it: ``$0.0123``, or, when some calls had no price,
    ``unknown (3 unpriced calls)`` (with the priced part, if any): never ``$0``."""
    if unpriced <= 0:
        return f"${usd or 0.0:.{digits}f}"
    text = f"unknown ({unpriced} unpriced call{'' if unpriced == 1 else 's'}"
    return text + (f"; ${usd:.{digits}f} priced)" if usd else ")")
