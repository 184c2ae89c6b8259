"""The one assembly of a monitor's outputs: every pipeline sink, in dispatch order.

:func:`build_sinks` is called once by :class:`~kaizen_perf.monitor.Monitor` at
construction (decide once, so the dispatcher only loops over the sinks that are
really on), like the OpenTelemetry SDK's one processor list or structlog's one
``processors=[…]``. The order is the order every batch is handed out in:

1. the monitor's own sinks: metrics (the aggregates /metrics reads), then the budget
   tracker (its gauges are families of the metrics sink), then the alert engine;
2. the exporters the settings turn on: traces, the hook-event log, StatsD, OTLP metrics;
3. automatic audit entries and forwarding to a ``kaizen-perf run`` parent;
4. the user's sinks, last: they see what every built-in output saw.

What each sink reports (events it dropped, exports that failed) is declared by the
:class:`~kaizen_perf.pipeline.Sink` protocol and merged by the pipeline.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kaizen_perf.config import Settings
from kaizen_perf.pipeline import BatchHandler, Sink, as_sink

if TYPE_CHECKING:
    from kaizen_perf.audit.trail import AuditTrail


@dataclass(frozen=True)
class CoreSinks:
    """The sinks every monitor makes for itself before its outputs are assembled."""

    metrics: BatchHandler
    budget: BatchHandler | None = None
    alerts: BatchHandler | None = None


def build_sinks(settings: Settings, user_sinks: Sequence[BatchHandler] = (), *,
                core: CoreSinks | None = None, to_wall_ns: Callable[[int], int],
                audit: Callable[[], AuditTrail] | None = None,
                environ: Mapping[str, str] | None = None) -> list[Sink]:
    """Every sink of a monitor, in dispatch order (see the module docstring).

    ``to_wall_ns`` converts event times to Unix ns; ``audit`` opens the monitor's trail
    (called only when automatic audit entries are on); ``environ`` (default
    ``os.environ``) holds the standard ``OTEL_*`` variables the exporters read.
    """
    env = os.environ if environ is None else environ
    sinks: list[BatchHandler] = []
    if core is not None:
        sinks += [s for s in (core.metrics, core.budget, core.alerts) if s is not None]
    if settings.enabled:
        sinks += _exporters(settings, to_wall_ns, env)
        if audit is not None and settings.audit_url and settings.audit_auto != "none":
            # automatic entries only once a store is configured: a library import never
            # creates an audit database in the working directory by itself
            from kaizen_perf.audit.sink import AuditSink, parse_auto
            sinks.append(AuditSink(audit(), kinds=parse_auto(settings.audit_auto),
                                   to_wall_ns=to_wall_ns))
    if settings.forward_socket:
        from kaizen_perf.forward import ForwardSink
        sinks.append(ForwardSink(settings.forward_socket))
    sinks += user_sinks
    return [as_sink(s) for s in sinks]  # each reports through the Sink protocol


def _exporters(settings: Settings, to_wall_ns: Callable[[int], int],
               env: Mapping[str, str]) -> list[BatchHandler]:
    """Traces, the hook-event log, StatsD and OTLP metrics, as the settings ask."""
    sinks: list[BatchHandler] = []
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
