"""``MetricsCollector``: the original design's metric calls, with bounded memory.

The original kept every observation in a list and exported p50/p95/p99 computed
from them: memory grew for as long as the agent ran (30+ hours) and quantiles
cannot be aggregated across agents. Here a counter or gauge is one float per series
and a histogram is fixed buckets plus sum and count (Prometheus ``_bucket``/``_sum``/
``_count``), so ``histogram_quantile()`` works in PromQL. The number of series is
capped; past the cap new series are dropped and counted.

``timer()`` observes milliseconds, as the original did (``agent_loop_duration``
values are ms); the default buckets are therefore in ms.
"""

from __future__ import annotations

import bisect
import math
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from kaizen_perf.integrations._calls import _log

#: milliseconds, 1 ms … 1 h
DEFAULT_BUCKETS_MS: tuple[float, ...] = (
    1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000,
    120_000, 300_000, 600_000, 1_800_000, 3_600_000)
_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
Key = tuple[str, tuple[tuple[str, str], ...]]


@dataclass
class _Histogram:
    counts: list[int]
    sum: float = 0.0
    count: int = 0


@dataclass
class _Family:
    kind: str
    series: dict[tuple[tuple[str, str], ...], float | _Histogram] = field(default_factory=dict)


class MetricsCollector:
    """Counters, gauges and histograms exported in the Prometheus text format."""

    def __init__(self, backend: str = "prometheus", *,
                 buckets: Sequence[float] = DEFAULT_BUCKETS_MS, max_series: int = 10_000,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.backend = backend
        self.buckets = tuple(sorted(float(b) for b in buckets))
        self.max_series, self.dropped = max_series, 0
        self._clock = clock
        self._families: dict[str, _Family] = {}
        self._series = 0
        self._lock = threading.Lock()

    # -- the original API ------------------------------------------------------------
    def counter(self, name: str, value: float = 1.0,
                labels: Mapping[str, str] | None = None) -> None:
        """Increase a counter (by a value of 0 or more)."""
        if value < 0 or not math.isfinite(value):
            _log("compat-counter", f"kaizen-perf: counter {name!r} can only increase by a "
                 f"finite value >= 0, got {value!r}; ignored.")
            return
        self._update("counter", name, labels,
                     lambda old: (old if isinstance(old, float) else 0.0) + value)

    def gauge(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        """Set a gauge."""
        self._update("gauge", name, labels, lambda old: float(value))

    def histogram(self, name: str, value: float,
                  labels: Mapping[str, str] | None = None) -> None:
        """Observe one value."""
        if not math.isfinite(value):
            _log("compat-hist", f"kaizen-perf: histogram {name!r} got {value!r}; ignored.")
            return

        def observe(old: float | _Histogram | None) -> _Histogram:
            h = old if isinstance(old, _Histogram) else _Histogram([0] * len(self.buckets))
            i = bisect.bisect_left(self.buckets, value)
            if i < len(h.counts):
                h.counts[i] += 1
            h.sum += value
            h.count += 1
            return h
        self._update("histogram", name, labels, observe)

    @asynccontextmanager
    async def timer(self, name: str,
                    labels: Mapping[str, str] | None = None) -> AsyncIterator[None]:
        """Time the block and observe its duration in milliseconds (even if it raises)."""
        start = self._clock()
        try:
            yield
        finally:
            self.histogram(name, (self._clock() - start) * 1000, labels)

    async def export(self) -> str:
        """Every metric in the Prometheus text format (version 0.0.4)."""
        return self.render()

    # -- the original's internals that its own tests read ----------------------------
    @property
    def _counters(self) -> dict[str, float]:
        return self._flat("counter")

    @property
    def _gauges(self) -> dict[str, float]:
        return self._flat("gauge")

    def _flat(self, kind: str) -> dict[str, float]:
        with self._lock:
            return {_metric_key(name, labels): v for name, fam in self._families.items()
                    if fam.kind == kind for labels, v in fam.series.items()
                    if isinstance(v, float)}

    # -- internals -------------------------------------------------------------------
    def _update(self, kind: str, name: str, labels: Mapping[str, str] | None,
                update: Callable[[float | _Histogram | None], float | _Histogram]) -> None:
        key = _label_key(labels)
        if not _NAME.match(name) or not all(_LABEL.match(k) for k, _ in key):
            _log(f"compat-name:{name}", f"kaizen-perf: metric {name!r} (labels {key}) is not a "
                 "valid Prometheus name: use letters, digits and _ only; ignored.")
            return
        with self._lock:
            fam = self._families.setdefault(name, _Family(kind))
            if fam.kind != kind:
                _log(f"compat-kind:{name}", f"kaizen-perf: metric {name!r} is a {fam.kind}, "
                     f"not a {kind}; this observation is ignored.")
                return
            old = fam.series.get(key)
            if old is None:
                if self._series >= self.max_series:
                    self.dropped += 1
                    return
                self._series += 1
            fam.series[key] = update(old)

    def render(self) -> str:
        """The exposition text (synchronous form of :meth:`export`)."""
        lines: list[str] = []
        with self._lock:
            for name, fam in sorted(self._families.items()):
                lines.append(f"# TYPE {name} {fam.kind}")
                for labels, v in sorted(fam.series.items()):
                    if isinstance(v, _Histogram):
                        lines.extend(self._histogram_lines(name, labels, v))
                    else:
                        lines.append(f"{name}{_fmt_labels(labels)} {_num(v)}")
            if self.dropped:
                lines.append("# TYPE kaizen_compat_series_dropped_total counter")
                lines.append(f"kaizen_compat_series_dropped_total {self.dropped}")
        return "\n".join(lines) + "\n" if lines else ""

    def _histogram_lines(self, name: str, labels: tuple[tuple[str, str], ...],
                         h: _Histogram) -> list[str]:
        out, running = [], 0
        for bound, n in zip(self.buckets, h.counts, strict=True):
            running += n
            out.append(f"{name}_bucket{_fmt_labels((*labels, ('le', _num(bound))))} {running}")
        out.append(f"{name}_bucket{_fmt_labels((*labels, ('le', '+Inf')))} {h.count}")
        out.append(f"{name}_sum{_fmt_labels(labels)} {_num(h.sum)}")
        out.append(f"{name}_count{_fmt_labels(labels)} {h.count}")
        return out


def _label_key(labels: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in (labels or {}).items()))


def _metric_key(name: str, labels: tuple[tuple[str, str], ...]) -> str:
    """The original's key format: ``name{k=v,…}``."""
    inner = ",".join(f"{k}={v}" for k, v in labels)
    return f"{name}{{{inner}}}" if inner else name


def _fmt_labels(labels: tuple[tuple[str, str], ...]) -> str:
    if not labels:
        return ""
    esc = (v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"') for _, v in labels)
    return "{" + ",".join(f'{k}="{e}"' for (k, _), e in zip(labels, esc, strict=True)) + "}"


def _num(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else f"{value:.1f}"
