"""Metrics: the one table of metric names and the families (``families``), the sink that
aggregates events into them (``sink``), the one text/OpenMetrics renderer (``exposition``),
quantiles from buckets (``summary``) and families other components serve (``extra``).

The names of the table module are re-exported: ``kaizen_perf.metrics.METRICS`` is documented.
"""

from __future__ import annotations

from kaizen_perf.metrics.families import (
    FAST_BUCKETS,
    GENAI_BUCKETS,
    KERNEL_BUCKETS,
    METRICS,
    OVERFLOW,
    SIZE_BUCKETS,
    TASK_BUCKETS,
    Family,
    Kind,
    MetricSpec,
    new_families,
)

__all__ = [
    "FAST_BUCKETS",
    "GENAI_BUCKETS",
    "KERNEL_BUCKETS",
    "METRICS",
    "OVERFLOW",
    "SIZE_BUCKETS",
    "TASK_BUCKETS",
    "Family",
    "Kind",
    "MetricSpec",
    "new_families",
]
