"""``MetricsCollector`` with Kaizen's API, on kaizen-perf's bounded metric families.

Kaizen's collector keeps every observation twice (a ``Metric`` in ``_metrics`` and
the raw value in ``_histograms``) for as long as the process lives, and exports
p50/p95/p99 computed from them. Over a 30-hour agent run that memory only grows,
and quantiles cannot be aggregated across agents. Here:

- each series lives in a :class:`kaizen_perf.metrics.Family` (one number per
  counter or gauge series; fixed buckets plus sum for a histogram), with the
  same series cap and ``__overflow__`` folding as kaizen-perf's own metrics;
- ``get_histogram_values()`` and the exported ``_p50``/``_p95``/``_p99`` come from
  the last ``window`` observations of the series (default 512; exact Kaizen
  figures until a series has seen more than that);
- ``_metrics`` holds the last ``recent`` observations (default 1,000), while
  ``get_metric_count()`` still counts every one since the last ``reset()``;
- ``export()`` adds ``# TYPE`` lines and real ``_bucket``/``_sum``/``_count``
  histograms (in ms, as ``timer()`` observes) to Kaizen's lines;
- bound to a kaizen-perf monitor (``monitor=``, which ``ObservabilityManager(monitor=…)``
  passes), the series are also on that monitor's ``/metrics`` and ``export_metrics()``
  (:meth:`prometheus_families`; counters there end in ``_total``, as prometheus-client
  names them, and there are no ``_p50``/``_p95``/``_p99`` lines).
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from array import array
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kaizen_perf._ratelimit import RateLimitedLog
from kaizen_perf.compat.types import Metric
from kaizen_perf.metrics import OVERFLOW, Family, MetricSpec
from kaizen_perf.metrics.exposition import _escape, _num

if TYPE_CHECKING:
    from kaizen_perf.monitor import Monitor

logger = logging.getLogger(__name__)
_log = RateLimitedLog(log=logger)

#: milliseconds, 1 ms … 1 h (``timer()`` observes milliseconds, as Kaizen's does)
DEFAULT_BUCKETS_MS: tuple[float, ...] = (
    1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000,
    120_000, 300_000, 600_000, 1_800_000, 3_600_000)
_KINDS = ("counter", "gauge", "histogram")
_BAD_NAME = re.compile(r"[^a-zA-Z0-9_:]")
_BAD_LABEL = re.compile(r"[^a-zA-Z0-9_]")
Labels = Mapping[str, Any] | None
FamilyKey = tuple[str, str, tuple[str, ...]]  # kind, name, label names


class _Window:
    """The last ``size`` observations of one series: a ring of C doubles (8 bytes each)."""

    __slots__ = ("pos", "size", "values")

    def __init__(self, size: int) -> None:
        self.values, self.pos, self.size = array("d"), 0, size

    def add(self, value: float) -> None:
        if len(self.values) < self.size:
            self.values.append(value)
        else:
            self.values[self.pos] = value
            self.pos = (self.pos + 1) % self.size

    def ordered(self) -> list[float]:
        """Oldest first."""
        v = self.values
        return list(v[self.pos:]) + list(v[:self.pos])


class MetricsCollector:
    """Counters, gauges and histograms, exported in the Prometheus text format."""

    def __init__(self, backend: str = "prometheus", *,
                 buckets: Sequence[float] = DEFAULT_BUCKETS_MS, max_series: int = 10_000,
                 window: int = 512, recent: int = 1_000,
                 clock: Callable[[], float] = time.perf_counter,
                 wall_clock: Callable[[], float] = time.time,
                 monitor: Monitor | None = None) -> None:
        self.backend = backend
        self.buckets = tuple(sorted(float(b) for b in buckets))
        self.max_series, self.window = max_series, max(1, window)
        self._clock, self._wall = clock, wall_clock
        self._lock = threading.Lock()
        self._recent: deque[tuple[str, float, str, float, Mapping[str, Any]]] = deque(
            maxlen=max(1, recent))
        self._families: dict[FamilyKey, Family] = {}
        self._windows: dict[tuple[FamilyKey, tuple[str, ...]], _Window] = {}
        self._count = 0
        if monitor is not None:  # held weakly by the monitor: dropping us drops the series
            monitor.extra_metrics.add(self)
        logger.debug("MetricsCollector initialized with backend=%s", backend)

    # -- recording (Kaizen's API) --------------------------------------------------------
    def counter(self, name: str, value: float = 1.0, labels: Labels = None) -> None:
        """Increase a counter (by a finite value of 0 or more)."""
        if not (value >= 0 and math.isfinite(value)):
            _log("compat-counter", f"kaizen-perf: counter {name!r} can only increase by a "
                 f"finite value >= 0, got {value!r}; ignored (a Prometheus counter never "
                 "goes down: use a gauge).")
            return
        self._record("counter", name, value, labels)

    def gauge(self, name: str, value: float, labels: Labels = None) -> None:
        """Set a gauge."""
        self._record("gauge", name, value, labels)

    def histogram(self, name: str, value: float, labels: Labels = None) -> None:
        """Observe one value."""
        if not math.isfinite(value):
            _log("compat-hist", f"kaizen-perf: histogram {name!r} got {value!r}; ignored.")
            return
        self._record("histogram", name, value, labels)

    @asynccontextmanager
    async def timer(self, name: str, labels: Labels = None) -> AsyncIterator[None]:
        """Time the block; observe its duration in milliseconds (also when it raises)."""
        start = self._clock()
        try:
            yield
        finally:
            self.histogram(name, (self._clock() - start) * 1000, labels)

    @contextmanager
    def timer_sync(self, name: str, labels: Labels = None) -> Iterator[None]:
        """:meth:`timer` for synchronous code."""
        start = self._clock()
        try:
            yield
        finally:
            self.histogram(name, (self._clock() - start) * 1000, labels)

    def _record(self, kind: str, name: str, value: float, labels: Labels) -> None:
        names, values = _split(labels)
        fkey: FamilyKey = (kind, name, names)
        with self._lock:
            fam = self._families.get(fkey)
            if fam is None:
                spec = MetricSpec(name, kind, names, "",  # type: ignore[arg-type]
                                  self.buckets if kind == "histogram" else (),
                                  bounded=frozenset())
                fam = self._families[fkey] = Family(spec, self.max_series)
            if kind == "counter":
                fam.inc(values, value)
            elif kind == "gauge":
                fam.set(values, value)
            else:
                fam.observe(values, value)
                self._window(fkey, fam, values).add(value)
            self._count += 1
            self._recent.append((name, value, kind, self._wall(), labels or {}))

    def _window(self, fkey: FamilyKey, fam: Family, values: tuple[str, ...]) -> _Window:
        # an observation folded into __overflow__ by the family goes to that series' window
        skey = values if values in fam.series else tuple(OVERFLOW for _ in values)
        win = self._windows.get((fkey, skey))
        if win is None:
            win = self._windows[(fkey, skey)] = _Window(self.window)
        return win

    # -- reading (Kaizen's API) ----------------------------------------------------------
    def get_metric_count(self) -> int:
        """Observations recorded since construction or the last :meth:`reset`."""
        return self._count

    def get_counter_value(self, name: str, labels: Labels = None) -> float:
        """The counter's total (0.0 if never incremented)."""
        slot = self._slot("counter", name, labels)
        return 0.0 if slot is None else float(slot[0])

    def get_gauge_value(self, name: str, labels: Labels = None) -> float | None:
        """The gauge's value (None if never set)."""
        slot = self._slot("gauge", name, labels)
        return None if slot is None else slot[0]

    def get_histogram_values(self, name: str, labels: Labels = None) -> list[float]:
        """The series' last ``window`` observations, oldest first ([] if none)."""
        names, values = _split(labels)
        with self._lock:
            win = self._windows.get((("histogram", name, names), values))
            return [] if win is None else win.ordered()

    def _slot(self, kind: str, name: str, labels: Labels) -> list[float] | None:
        names, values = _split(labels)
        with self._lock:
            fam = self._families.get((kind, name, names))
            return None if fam is None else fam.series.get(values)

    def reset(self) -> None:
        """Forget every series and observation."""
        with self._lock:
            self._families.clear()
            self._windows.clear()
            self._recent.clear()
            self._count = 0

    # -- Kaizen's internals that code (and Kaizen's own tests) read ------------------------
    def _metric_key(self, name: str, labels: Mapping[str, Any]) -> str:
        """Kaizen's series key: ``name{a="1",b="2"}``, labels sorted."""
        if not labels:
            return name
        return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"

    def _split_metric_key(self, key: str) -> tuple[str, str]:
        """``(name, "{…}")`` of a key made by :meth:`_metric_key`."""
        brace = key.find("{")
        return (key, "") if brace == -1 else (key[:brace], key[brace:])

    def _calculate_percentile(self, values: Sequence[float], percentile: float) -> float:
        """Kaizen's linearly interpolated percentile of sorted ``values`` (0.0 if empty)."""
        if not values:
            return 0.0
        index = (len(values) - 1) * percentile
        lower = int(index)
        upper = min(lower + 1, len(values) - 1)
        return values[lower] + (values[upper] - values[lower]) * (index - lower)

    @property
    def _metrics(self) -> list[Metric]:
        """The last ``recent`` observations as Kaizen's ``Metric`` records."""
        with self._lock:
            recent = list(self._recent)
        return [Metric(n, v, k, datetime.fromtimestamp(t, UTC), dict(lbl))  # type: ignore[arg-type]
                for n, v, k, t, lbl in recent]

    @property
    def _counters(self) -> dict[str, float]:
        return {k: float(v[0]) for k, v in self._series("counter")}

    @property
    def _gauges(self) -> dict[str, float]:
        return {k: v[0] for k, v in self._series("gauge")}

    @property
    def _histograms(self) -> dict[str, list[float]]:
        with self._lock:
            return {self._metric_key(f[1], dict(zip(f[2], s, strict=True))): w.ordered()
                    for (f, s), w in self._windows.items()}

    def _series(self, kind: str) -> list[tuple[str, list[float]]]:
        with self._lock:
            return [(self._metric_key(name, dict(zip(names, key, strict=True))), slot)
                    for (k, name, names), fam in self._families.items() if k == kind
                    for key, slot in fam.series.items()]

    # -- export ---------------------------------------------------------------------------
    async def export(self) -> str:
        """Every series in the Prometheus text format ("" when nothing was recorded)."""
        return self.render()

    def render(self) -> str:
        """The exposition text (the synchronous form of :meth:`export`)."""
        out: list[str] = []
        with self._lock:
            for prom, (kind, fams) in self._groups().items():
                out.append(f"# TYPE {prom} {kind}\n")
                for fam in fams:
                    self._render(fam, prom, out)
                if kind == "histogram":
                    self._render_quantiles(prom, fams, out)
            overflow = sum(f.overflowed for f in self._families.values())
        if overflow:
            out.append("# TYPE kaizen_compat_series_overflow_total counter\n"
                       f"kaizen_compat_series_overflow_total {overflow}\n")
        return "".join(out)

    def prometheus_families(self) -> list[Family]:
        """A snapshot of every series under a valid Prometheus name and label names, for a
        monitor's exposition (:mod:`kaizen_perf.metrics.extra`): counters are named
        ``…_total`` (as prometheus-client names them, and as OpenMetrics requires)."""
        out: list[Family] = []
        with self._lock:
            for (kind, name, names), fam in self._families.items():
                if not fam.series:
                    continue
                prom = _prom_name(name)
                if kind == "counter" and not prom.endswith("_total"):
                    prom += "_total"
                spec = MetricSpec(prom, fam.spec.kind, tuple(map(_label_name, names)),
                                  f"Recorded through kaizen_perf.compat as {name!r}.",
                                  fam.spec.buckets, bounded=frozenset())
                snap = Family(spec, fam.cap)
                snap.series = {key: list(slot) for key, slot in fam.series.items()}
                out.append(snap)
        return out

    def _groups(self) -> dict[str, tuple[str, list[Family]]]:
        """Families by exported name (all lines of a name must be one group), counters first."""
        groups: dict[str, tuple[str, list[Family]]] = {}
        for (kind, name, _), fam in sorted(self._families.items(),
                                           key=lambda kv: _KINDS.index(kv[0][0])):
            prom = _prom_name(name)
            first, fams = groups.setdefault(prom, (kind, []))
            if first != kind:
                _log(f"compat-kind:{prom}", f"kaizen-perf: metric {name!r} is both a {first} "
                     f"and a {kind}; only the {first} is exported.")
                continue
            fams.append(fam)
        return groups

    def _render(self, fam: Family, prom: str, out: list[str]) -> None:
        kind = fam.spec.kind
        for key, slot in fam.series.items():
            lbl = _label_text(fam, key)
            if kind == "counter":
                out.append(f"{prom}{_braces(lbl)} {_num(float(slot[0]))}\n")
            elif kind == "gauge":
                out.append(f"{prom}{_braces(lbl)} {_num(slot[0])}\n")
            else:
                sep, running = "," if lbl else "", 0
                for le, count in zip(fam.le_strings(), slot, strict=False):
                    running += int(count)
                    out.append(f'{prom}_bucket{{{lbl}{sep}le="{le}"}} {running}\n')
                out.append(f"{prom}_sum{_braces(lbl)} {_num(float(slot[-1]))}\n")
                out.append(f"{prom}_count{_braces(lbl)} {running}\n")

    def _render_quantiles(self, prom: str, fams: list[Family], out: list[str]) -> None:
        """Kaizen's ``name_p50{…}`` lines, over each series' recent window."""
        series = [(fam, key, sorted(w.ordered())) for fam in fams for key in fam.series
                  if (w := self._windows.get(((fam.spec.kind, fam.spec.name, fam.spec.labels),
                                              key))) is not None]
        for suffix, p in (("_p50", 0.50), ("_p95", 0.95), ("_p99", 0.99)):
            out.append(f"# TYPE {prom}{suffix} gauge\n")
            for fam, key, ordered in series:
                value = self._calculate_percentile(ordered, p)
                out.append(f"{prom}{suffix}{_braces(_label_text(fam, key))} {_num(value)}\n")


def _label_text(fam: Family, key: tuple[str, ...]) -> str:
    return ",".join(f'{_label_name(n)}="{_escape(v)}"'
                    for n, v in zip(fam.spec.labels, key, strict=True))


def _label_name(name: str) -> str:
    """A valid Prometheus label name (not starting with a digit or ``__``, reserved)."""
    clean = _BAD_LABEL.sub("_", name) or "_"
    if clean[0].isdigit():
        clean = "_" + clean
    return "x" + clean if clean.startswith("__") else clean


def _split(labels: Labels) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Label names and values, sorted by name (values as strings, as Kaizen's key has them)."""
    if not labels:
        return (), ()
    items = sorted((str(k), str(v)) for k, v in labels.items())
    return tuple(k for k, _ in items), tuple(v for _, v in items)


def _prom_name(name: str) -> str:
    """A valid Prometheus metric name (Kaizen exports any name as given)."""
    clean = _BAD_NAME.sub("_", name) or "_"
    return "_" + clean if clean[0].isdigit() else clean


def _braces(lbl: str) -> str:
    return f"{{{lbl}}}" if lbl else ""
