"""Metric families other components ask a monitor to serve beside its own.

``kaizen_perf.compat``'s ``MetricsCollector`` bound to a monitor is such a source: users
replacing Kaizen's observability expect the metrics they record through it on the one
endpoint they scrape. A source is held weakly (a manager that is dropped takes its series
with it) and asked, at each scrape, for a snapshot of its families already under valid
Prometheus names (:meth:`FamilySource.prometheus_families`).

Sources are merged so that the exposition stays one valid document:

- one family per name; the series of several sources with equal labels add up (counters,
  histograms) or the last source's value is shown (gauges);
- the label names are the union of the families' (a label a series lacks is ``""``, which
  Prometheus reads as absent), so ``x`` recorded with and without labels is one family;
- left out, and logged once per name: a name the monitor itself exports, a second kind
  under one name (counters compared without their ``_total``, as OpenMetrics names the
  family), and histograms whose buckets differ from the first of that name.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Protocol

from kaizen_perf.metrics import Family, MetricSpec
from kaizen_perf.metrics.exposition import render

if TYPE_CHECKING:
    from prometheus_client.core import Metric

    from kaizen_perf.pipeline import Pipeline

logger = logging.getLogger("kaizen_perf")
_NO_CAP = 2**62  # merged snapshots of already-capped sources: never fold again
_SUFFIXES = ("_bucket", "_count", "_sum", "_created")


class FamilySource(Protocol):
    """What a monitor asks of an extra metric source at each scrape."""

    def prometheus_families(self) -> list[Family]:
        """A snapshot of the source's families under valid Prometheus names."""
        ...


def _base(spec: MetricSpec) -> str:
    """The family name OpenMetrics gives it (a counter's without ``_total``)."""
    return spec.name[:-6] if spec.kind == "counter" and spec.name.endswith("_total") \
        else spec.name


class ExtraMetrics:
    """The extra sources of one monitor, merged into valid families on demand."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sources: list[weakref.ref[FamilySource]] = []
        self._warned: set[str] = set()

    def add(self, source: FamilySource) -> None:
        """Serve ``source``'s families with the monitor's (held weakly; added once)."""
        with self._lock:
            if not any(ref() is source for ref in self._sources):
                self._sources.append(weakref.ref(source))

    def remove(self, source: FamilySource) -> None:
        """Stop serving ``source``."""
        with self._lock:
            self._sources = [r for r in self._sources if r() not in (None, source)]

    def _live(self, without: object) -> list[FamilySource]:
        with self._lock:
            live = [s for s in (r() for r in self._sources) if s is not None]
            if len(live) < len(self._sources):
                self._sources = [weakref.ref(s) for s in live]
        return [s for s in live if s is not without]

    def families(self, own: Mapping[str, Family], *, without: object = None) -> list[Family]:
        """Merged snapshots of every live source's families (but ``without``'s), none of
        them clashing with the monitor's ``own`` families."""
        sources = self._live(without)
        if not sources:
            return []
        reserved = {_base(f.spec) for f in own.values()}
        reserved |= {f.spec.name + s for f in own.values() if f.spec.kind == "histogram"
                     for s in _SUFFIXES}
        groups: dict[str, list[Family]] = {}
        for source in sources:
            try:
                snapshot = source.prometheus_families()
            except Exception as exc:  # one broken source never breaks a scrape
                self._warn(f"source:{type(source).__name__}", f"kaizen-perf: extra metrics "
                           f"from {type(source).__name__} left out of /metrics: {exc!r}")
                continue
            for fam in snapshot:
                groups.setdefault(fam.spec.name, []).append(fam)
        out, taken = [], dict.fromkeys(reserved, "")
        for name, fams in groups.items():
            first = fams[0].spec
            base = _base(first)
            owner = taken.setdefault(base, name)
            if owner != name:
                what = "kaizen-perf's own" if not owner else f"{owner!r}"
                self._warn(name, f"kaizen-perf: metric {name!r} left out of /metrics: its name "
                           f"clashes with {what} metric.")
                continue
            out.append(self._merge(name, fams))
        return out

    def _merge(self, name: str, fams: list[Family]) -> Family:
        first = fams[0].spec
        same = [f for f in fams if f.spec.kind == first.kind and f.spec.buckets == first.buckets]
        if len(same) < len(fams):
            self._warn(f"mixed:{name}", f"kaizen-perf: metric {name!r} was recorded as more "
                       f"than one kind or with other buckets; /metrics shows the {first.kind} "
                       "series of its first kind and buckets only.")
        labels = tuple(dict.fromkeys(n for f in same for n in f.spec.labels))
        merged = Family(MetricSpec(name, first.kind, labels, first.help, first.buckets,
                                   bounded=frozenset()), _NO_CAP)
        for fam in same:
            where = [fam.spec.labels.index(n) if n in fam.spec.labels else -1 for n in labels]
            for key, slot in fam.series.items():
                full = tuple(key[i] if i >= 0 else "" for i in where)
                if first.kind == "counter":
                    merged.inc(full, slot[0])
                elif first.kind == "gauge":
                    merged.set(full, slot[0])
                else:
                    merged.add_buckets(full, tuple(int(c) for c in slot[:-1]), slot[-1])
        return merged

    def _warn(self, key: str, message: str) -> None:
        if key not in self._warned and len(self._warned) < 100:
            self._warned.add(key)
            logger.warning("%s", message)


class _Families(Protocol):
    @property
    def families(self) -> dict[str, Family]: ...


class Exposed(Protocol):
    """What :func:`exposition` needs of a monitor (a protocol: no import of the monitor)."""

    pipeline: Pipeline
    extra_metrics: ExtraMetrics

    @property
    def metrics(self) -> _Families: ...

    def _refresh_self_metrics(self) -> None: ...


def exposition(mon: Exposed, *, openmetrics: bool = False, without: object = None) -> str:
    """The monitor's families and its extra sources' (but ``without``'s) as one document
    (drains the buffer first)."""
    with mon.pipeline.lock:
        mon._refresh_self_metrics()
        own = mon.metrics.families
        families: Iterable[Family] = own.values()
        extra = mon.extra_metrics.families(own, without=without)
        if extra:
            families = [*families, *extra]
        return render(families, openmetrics=openmetrics)


class MonitorCollector:
    """A prometheus-client collector over a monitor's document, to combine it with other
    collectors in a user's registry. It parses what :func:`exposition` renders (the one
    renderer), so both ways of reading a monitor show the same samples."""

    def __init__(self, mon: Exposed) -> None:
        self._mon = weakref.ref(mon)  # the monitor owns the registry that holds us

    def collect(self) -> Iterator[Metric]:
        """Drain, refresh the self-metrics, and yield every family."""
        from prometheus_client.parser import text_string_to_metric_families

        mon = self._mon()
        if mon is None:
            return iter(())
        return iter(text_string_to_metric_families(exposition(mon)))
