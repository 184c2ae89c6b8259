"""The sinks a monitor gets from its settings besides metrics (traces, logs, StatsD…).

``default_sinks`` is called once by :class:`~kaizen_perf.monitor.Monitor` at
construction: decide once which outputs exist, so the dispatcher only loops
over the sinks that are really on. Each sink with export failures exposes them
as ``export_errors: dict[str, int]`` (exporter name → failed exports), which
:func:`export_errors` merges for ``kaizen_perf_export_errors_total{exporter}``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping

from kaizen_perf.config import Settings
from kaizen_perf.pipeline import Sink


def default_sinks(settings: Settings, *, to_wall_ns: Callable[[int], int],
                  environ: Mapping[str, str] | None = None) -> list[Sink]:
    """Sinks enabled by ``settings`` (and the standard ``OTEL_*`` variables in ``environ``,
    default ``os.environ``); ``to_wall_ns`` converts event times to Unix ns."""
    env = os.environ if environ is None else environ
    sinks: list[Sink] = []
    if not settings.enabled:
        return sinks
    from kaizen_perf.tracing import propagate_to_subprocesses, trace_sink
    traces = trace_sink(settings, to_wall_ns=to_wall_ns, environ=env)
    if traces is not None:
        sinks.append(traces)
    if settings.propagate_subprocess:
        propagate_to_subprocesses()
    if settings.log_events != "off" or settings.log_file is not None:
        from kaizen_perf.logs import EventLogSink, configure_logging
        configure_logging(settings)
        if settings.log_events != "off":
            sinks.append(EventLogSink(errors_only=settings.log_events == "errors",
                                      to_wall_ns=to_wall_ns))
    if settings.statsd_addr is not None:
        from kaizen_perf.exporters.statsd import StatsdSink
        sinks.append(StatsdSink.from_settings(settings))
    from kaizen_perf.exporters.otlp_metrics import otlp_metrics_sink
    metrics = otlp_metrics_sink(settings, environ=env)
    if metrics is not None:
        sinks.append(metrics)
    return sinks


def dropped_events(sinks: Iterable[object]) -> dict[str, int]:
    """Events dropped inside sinks, per sink (for ``kaizen_perf_events_dropped_total``):
    each sink may expose a ``dropped_events`` (or, for the trace sink, ``dropped_spans``) dict."""
    merged: dict[str, int] = {}
    for sink in sinks:
        dropped = getattr(sink, "dropped_events", None) or getattr(sink, "dropped_spans", None)
        if isinstance(dropped, dict):
            for name, count in dropped.items():
                merged[name] = merged.get(name, 0) + count
    return merged


def export_errors(sinks: Iterable[object]) -> dict[str, int]:
    """Failed exports per exporter across ``sinks`` (for ``kaizen_perf_export_errors_total``)."""
    merged: dict[str, int] = {}
    for sink in sinks:
        errors = getattr(sink, "export_errors", None)
        if isinstance(errors, dict):
            for name, count in errors.items():
                merged[name] = merged.get(name, 0) + count
    return merged
