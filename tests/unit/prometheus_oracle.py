"""A test oracle: a monitor's families rendered by prometheus-client's own code.

kaizen-perf has one renderer (:mod:`kaizen_perf.metrics.exposition`). This independent
conversion to prometheus-client metric families (cumulative buckets, ``le`` values,
dollar divisors) lets tests compare our output with the reference implementation's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from kaizen_perf.metrics import Family


def to_prometheus(fam: Family) -> Metric:
    """One aggregated family as a prometheus-client family."""
    spec, divisor = fam.spec, fam.spec.divisor
    labels = list(spec.labels)
    if spec.kind == "histogram":
        hist = HistogramMetricFamily(spec.name, spec.help, labels=labels)
        les = [repr(float(b)) for b in spec.buckets] + ["+Inf"]
        for key, slot in fam.series.items():
            cumulative, running = [], 0.0
            for le, count in zip(les, slot[:-1], strict=True):
                running += count
                cumulative.append((le, running))
            hist.add_metric(list(key), cumulative, slot[-1] / divisor)
        return hist
    cls = CounterMetricFamily if spec.kind == "counter" else GaugeMetricFamily
    family = cls(spec.name, spec.help, labels=labels)
    for key, slot in fam.series.items():
        family.add_metric(list(key), slot[0] / divisor)
    return family


class _Families:
    def __init__(self, families: Iterable[Family]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        return (to_prometheus(f) for f in self._families if f.series)


def reference_text(families: Iterable[Family]) -> str:
    """The families in the Prometheus text format, as prometheus-client writes it."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return generate_latest(registry).decode()
