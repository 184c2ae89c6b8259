"""OpenTelemetry traces from hook events, and trace context for subprocesses.

:class:`TraceSink` runs on the dispatcher thread: it turns each batch of hook
events into span records (``invoke_agent``, ``execute_tool``, ``chat`` … see
:mod:`kaizen_perf.tracing.spans`), samples them, and offers them to one
:class:`~kaizen_perf.exporters.batch.BatchExporter` per exporter, whose thread
encodes them for OTLP or builds SDK spans for the others
(:mod:`kaizen_perf.exporters.span_outputs`). Nothing here
runs on the agent's thread, nothing blocks the dispatcher, and every drop or
failed export is counted (``export_errors``, ``dropped_events``).

Which exporters: ``KAIZEN_PERF_TRACES`` if set, else the standard
``OTEL_TRACES_EXPORTER`` (``otlp``, ``console``, ``none``; a set
``OTEL_EXPORTER_OTLP[_TRACES]_ENDPOINT`` alone means ``otlp``), else none.
``OTEL_SDK_DISABLED=true`` turns them off. ``OTEL_SEMCONV_STABILITY_OPT_IN`` chooses the
GenAI names (:class:`kaizen_perf.tracing.genai.Conventions`), once, when the sink is built.

Subprocesses: :func:`child_env` returns an environment with the current span as
``TRACEPARENT``, which a monitored child (and the Claude Agent SDK) turns into
its root parent, so a multi-process agent shows one trace.
:func:`propagate_to_subprocesses` does that for every ``subprocess.Popen``
(opt-in, ``KAIZEN_PERF_PROPAGATE_SUBPROCESS=1``): it never overrides a
``TRACEPARENT`` the caller set explicitly.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import SpanExporter

from kaizen_perf._context import current_traceparent, parse_traceparent
from kaizen_perf._ratelimit import RateLimitedLog
from kaizen_perf.config import Settings
from kaizen_perf.errors import ConfigError
from kaizen_perf.events import Event
from kaizen_perf.exporters.batch import BatchExporter
from kaizen_perf.exporters.span_outputs import MemorySpanExporter, record_export_fn
from kaizen_perf.pipeline import SinkBase
from kaizen_perf.redact import Redactor, default_redactor
from kaizen_perf.tracing import genai as g
from kaizen_perf.tracing.spans import SpanBuilder, SpanRecord

_FORCED_MAX = 10_000


class Sampler:
    """Keep a ratio of traces (by trace id, so a trace is kept whole), plus every error and
    every slow span, and the rest of a trace once it has shown an error or a slow span."""

    def __init__(self, ratio: float, slow_threshold_s: float) -> None:
        self._bound = int(ratio * (1 << 64))
        self._slow_ns = int(slow_threshold_s * 1e9)
        self._forced: dict[int, None] = {}
        self.kept_forced = 0  # spans kept only because of an error or slowness

    def keep(self, trace_id: int, duration_ns: int, error: str | None) -> bool:
        """True when the span belongs in the export."""
        if (trace_id & 0xFFFFFFFFFFFFFFFF) < self._bound or trace_id in self._forced:
            return True
        if error is None and duration_ns < self._slow_ns:
            return False
        # parents end after their children: keeping the trace from here keeps the path up
        if len(self._forced) >= _FORCED_MAX:
            self._forced.pop(next(iter(self._forced)))
        self._forced[trace_id] = None
        self.kept_forced += 1
        return True


class TraceSink(SinkBase):
    """Pipeline sink: events → spans → one export queue per exporter."""

    def __init__(self, exporters: Sequence[tuple[str, SpanExporter]], *,
                 to_wall_ns: Callable[[int], int], resource: Resource | None = None,
                 sampler: Sampler | None = None, root: tuple[int, int] | None = None,
                 redactor: Redactor | None = None, max_queue: int = 8192,
                 max_batch: int = 2048, interval_s: float = 1.0,
                 log: RateLimitedLog | None = None,
                 conventions: g.Conventions = g.DEFAULT) -> None:
        self._to_wall_ns = to_wall_ns
        self._builder = SpanBuilder(resource=resource or Resource.create({}),
                                    redactor=redactor or default_redactor(), root=root,
                                    conventions=conventions)
        self._sampler = sampler
        self._keep = None if sampler is None or sampler._bound >= 1 << 64 else sampler.keep
        self.exporters = dict(exporters)
        self._queues = [
            BatchExporter[SpanRecord](f"traces-{name}", record_export_fn(exp, self._builder),
                                      shutdown=exp.shutdown, max_queue=max_queue,
                                      max_batch=max_batch, interval_s=interval_s, log=log)
            for name, exp in exporters]
        self.spans_built = 0
        self.shed_events = 0

    #: under overload the pipeline may skip this sink's batches: spans are sampled, metrics
    #: are not (kaizen_perf_events_dropped_total{sink="traces-shed"} counts the events)
    sheddable = True

    def shed(self, batch: Sequence[Event]) -> None:
        """Skip a batch the dispatcher has no time for (counted)."""
        self.shed_events += len(batch)

    def handle(self, batch: Sequence[Event]) -> None:
        """Turn the span events of a batch into records and queue them (dispatcher thread)."""
        offset = self._to_wall_ns(0)  # one clock read per batch, not per span
        records = self._builder.records(batch, offset, self._keep)
        if records:
            self.spans_built += len(records)
            for queue in self._queues:
                queue.offer(records)

    @property
    def export_errors(self) -> dict[str, int]:
        """Failed export calls per exporter (``traces-otlp``…), for
        ``kaizen_perf_export_errors_total{exporter}``."""
        return {q.name: q.export_errors for q in self._queues}

    @property
    def dropped_events(self) -> dict[str, int]:
        """Spans lost per exporter (queue full, or in a failed export), and hook events
        skipped under overload (``traces-shed``)."""
        lost = {q.name: q.dropped for q in self._queues}
        if self.shed_events:
            lost["traces-shed"] = self.shed_events
        return lost

    @property
    def exported_spans(self) -> dict[str, int]:
        """Spans a backend accepted, per exporter."""
        return {q.name: q.exported for q in self._queues}

    def close(self, timeout_s: float) -> None:
        """Export what is queued, within the deadline shared by all exporters.

        A slice of the time (20 %, at most 0.25 s) is left unused so that sinks
        closed after this one still get to stop their threads when a backend is dead.
        """
        import time
        deadline = time.monotonic() + timeout_s - min(0.25, timeout_s * 0.2)
        for queue in self._queues:
            queue.close(max(0.0, deadline - time.monotonic()))

    def after_fork(self) -> None:
        """In a forked child: fresh queues (the parent's spans are the parent's to send)."""
        self._builder.tool_requests.clear()  # the parent's responses ask the parent's tools
        for queue in self._queues:
            queue.after_fork()


# -- configuration ------------------------------------------------------------------------------
def exporter_kinds(settings: Settings, environ: Mapping[str, str]) -> list[str]:
    """The span exporters asked for: ``KAIZEN_PERF_TRACES``, else the OTEL_* variables."""
    if settings.traces is not None:
        raw = settings.traces
    elif environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    elif environ.get("OTEL_TRACES_EXPORTER", "").strip():
        raw = environ["OTEL_TRACES_EXPORTER"].strip().lower()
    elif (environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
          or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")):
        raw = "otlp"
    else:
        return []
    kinds = [k.strip() for k in raw.split(",") if k.strip() and k.strip() != "none"]
    for kind in kinds:
        if kind not in ("otlp", "console", "memory"):
            msg = (f"OTEL_TRACES_EXPORTER={raw!r} names an exporter kaizen-perf does not "
                   f"have ({kind!r}); use otlp, console, memory or none.")
            raise ConfigError(msg)
    return list(dict.fromkeys(kinds))


def make_exporter(kind: str, settings: Settings) -> SpanExporter:
    """A span exporter of one kind; OTLP reads OTEL_EXPORTER_OTLP_* (endpoint, headers, TLS,
    compression) like OpenTelemetry's own, with a 4x cheaper encoder (exporters.otlp_wire)."""
    if kind == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter
        return ConsoleSpanExporter()
    if kind == "memory":
        return MemorySpanExporter()
    from kaizen_perf.exporters.otlp_wire import OtlpHttpSpanExporter
    endpoint = None
    if settings.otlp_endpoint is not None:
        endpoint = settings.otlp_endpoint.rstrip("/") + "/v1/traces"
    return OtlpHttpSpanExporter(endpoint=endpoint, timeout_s=settings.export_timeout_s)


def resource_for(settings: Settings, environ: Mapping[str, str]) -> Resource:
    """``service.name`` from OTEL_SERVICE_NAME (or OTEL_RESOURCE_ATTRIBUTES), else the agent."""
    has_service = "OTEL_SERVICE_NAME" in environ or "service.name=" in environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", "")
    return Resource.create({} if has_service else {"service.name": settings.agent_id})


def trace_sink(settings: Settings, *, to_wall_ns: Callable[[int], int],
               environ: Mapping[str, str]) -> TraceSink | None:
    """The trace sink the settings and OTEL_* variables ask for, or None."""
    kinds = exporter_kinds(settings, environ)
    if not kinds:
        return None
    sampler = Sampler(settings.trace_sample_ratio, settings.slow_threshold_s)
    return TraceSink([(k, make_exporter(k, settings)) for k in kinds], to_wall_ns=to_wall_ns,
                     resource=resource_for(settings, environ), sampler=sampler,
                     root=parse_traceparent(environ.get("TRACEPARENT")),
                     conventions=g.Conventions.from_env(environ))


# -- subprocess propagation ------------------------------------------------------------------------
def child_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment for a subprocess that continues the current trace (``TRACEPARENT``).

    Outside any scope the inherited ``TRACEPARENT`` (if any) is passed on unchanged.
    """
    env = dict(os.environ if base is None else base)
    parent = current_traceparent()
    if parent is not None:
        env["TRACEPARENT"] = parent
    return env


_patch_lock = threading.Lock()
_original_init: Callable[..., None] | None = None


def propagate_to_subprocesses() -> None:
    """Make every ``subprocess.Popen`` started from now on inherit the current trace context.

    Idempotent. A ``TRACEPARENT`` already in an explicit ``env=`` is kept.
    """
    global _original_init
    with _patch_lock:
        if _original_init is not None:
            return
        original = subprocess.Popen.__init__
        _original_init = original

        def __init__(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> None:
            if current_traceparent() is not None:
                env = kwargs.get("env")
                if env is None or "TRACEPARENT" not in env:
                    kwargs["env"] = child_env(env)
            original(self, *args, **kwargs)

        subprocess.Popen.__init__ = __init__  # type: ignore[method-assign]


def stop_propagating_to_subprocesses() -> None:
    """Undo :func:`propagate_to_subprocesses`."""
    global _original_init
    with _patch_lock:
        if _original_init is not None:
            subprocess.Popen.__init__ = _original_init  # type: ignore[method-assign]
            _original_init = None
