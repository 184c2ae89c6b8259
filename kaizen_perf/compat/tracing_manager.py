"""``TracingManager`` with Kaizen's API: OpenTelemetry spans from hook contexts.

Like Kaizen's, it owns an OpenTelemetry SDK ``TracerProvider`` (resource
``service.name``) with a ``BatchSpanProcessor``, exporting over OTLP gRPC to
``jaeger_host:jaeger_port`` unless an ``exporter`` is given, and Kaizen's own
``TracingHook`` drives it unchanged. Differences, all deliberate:

- A span created without an explicit parent becomes a child of the active
  kaizen-perf scope (the agent loop or tool kaizen-perf is timing), so hook spans
  land in the same trace as kaizen-perf's own spans.
- ``shutdown(timeout)`` honours its deadline even when the collector is
  unreachable, and returns whether it finished (Kaizen returns ``None``).
- A missing OTLP exporter package is logged, not raised: spans are still made.
- ``span()`` (not in Kaizen) wraps a block in a span and makes it the current
  kaizen-perf scope and OpenTelemetry context.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import context as context_api
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    Status,
    StatusCode,
    TraceFlags,
    set_span_in_context,
)

from kaizen_perf._context import CURRENT

if TYPE_CHECKING:
    from opentelemetry.context import Context

logger = logging.getLogger(__name__)
_PRIMITIVE = (str, int, float, bool)


class TracingManager:
    """Creates OpenTelemetry spans from Kaizen ``HookContext`` events."""

    def __init__(self, service_name: str, jaeger_host: str = "localhost",
                 jaeger_port: int = 4317, insecure: bool = True, batch_size: int = 512,
                 batch_timeout_ms: int = 5000, max_export_batch_size: int = 512,
                 exporter: object | None = None) -> None:
        self.service_name = service_name
        self.jaeger_host, self.jaeger_port, self.insecure = jaeger_host, jaeger_port, insecure
        self.batch_size, self.batch_timeout_ms = batch_size, batch_timeout_ms
        # OpenTelemetry requires max_export_batch_size <= max_queue_size (Kaizen clamps too)
        self.max_export_batch_size = min(max_export_batch_size, batch_size)
        resource = Resource.create(attributes={"service.name": service_name})
        self.tracer_provider = TracerProvider(resource=resource)
        span_exporter = exporter if exporter is not None else self._otlp_exporter()
        self._processor: BatchSpanProcessor | None = None
        if span_exporter is not None:
            self._processor = BatchSpanProcessor(
                span_exporter,  # type: ignore[arg-type]
                max_queue_size=batch_size, schedule_delay_millis=batch_timeout_ms,
                max_export_batch_size=self.max_export_batch_size)
            self.tracer_provider.add_span_processor(self._processor)
        self.tracer = self.tracer_provider.get_tracer(__name__)
        self._lock = threading.Lock()
        logger.info("TracingManager initialized: service=%s, endpoint=%s:%s", service_name,
                    jaeger_host, jaeger_port)

    def _otlp_exporter(self) -> SpanExporter | None:
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        except ImportError:
            logger.warning("kaizen-perf: spans of %r are not exported: the OTLP gRPC exporter "
                           "is not installed (pip install 'kailash-kaizen[observability]', or "
                           "pass exporter=).", self.service_name)
            return None
        return OTLPSpanExporter(endpoint=f"{self.jaeger_host}:{self.jaeger_port}",
                                insecure=self.insecure)

    # -- Kaizen's API ---------------------------------------------------------------------
    def create_span_from_context(self, context: Any, parent_span: Span | None = None) -> Span:
        """A started span named after the event (``pre_tool_use`` …), attributes from the
        context: ``agent_id``, ``event_type``, ``trace_id`` and every primitive value of its
        ``data`` and ``metadata`` (``parent_span_id`` excepted)."""
        event = context.event_type.value.lower()
        attributes: dict[str, Any] = {"agent_id": context.agent_id, "event_type": event,
                                      "trace_id": context.trace_id or ""}
        for key, value in (context.data or {}).items():
            if isinstance(value, _PRIMITIVE):
                attributes[key] = value
        for key, value in (context.metadata or {}).items():
            if key != "parent_span_id" and isinstance(value, _PRIMITIVE):
                attributes[key] = value
        parent = (set_span_in_context(parent_span) if parent_span is not None
                  else self._scope_context())
        return self.tracer.start_span(event, context=parent, attributes=attributes)

    def update_span_from_result(self, span: Span, result: Any) -> None:
        """Status OK for a successful hook result, else ERROR with its error message."""
        if result.success:
            span.set_status(Status(StatusCode.OK))
        else:
            span.set_status(Status(StatusCode.ERROR,
                                   description=result.error or "Hook execution failed"))

    def record_exception(self, span: Span, exception: BaseException) -> None:
        """Add the exception as a span event and set status ERROR."""
        span.record_exception(exception)
        span.set_status(Status(StatusCode.ERROR, description=str(exception)))

    def force_flush(self, timeout: int = 30) -> bool:
        """Export pending spans; False if that failed or ran out of time."""
        try:
            return bool(self.tracer_provider.force_flush(timeout_millis=int(timeout * 1000)))
        except Exception as exc:  # an exporter's failure must not reach the agent
            logger.error("Force flush failed: %s", exc)
            return False

    def shutdown(self, timeout: int = 30) -> bool:
        """Export what is pending and stop, within ``timeout`` seconds; True if it finished."""
        # The SDK's BatchSpanProcessor.shutdown() takes no timeout and waits up to 30 s for a
        # collector that does not answer; its inner batch processor does take one.
        inner = getattr(self._processor, "_batch_processor", None)
        worker = getattr(inner, "_worker_thread", None)
        try:
            if inner is not None and "timeout_millis" in inspect.signature(
                    inner.shutdown).parameters:
                inner.shutdown(timeout_millis=max(0.0, timeout * 1000))
            self.tracer_provider.shutdown()
        except Exception as exc:  # an exporter's failure must not reach the agent
            logger.error("Shutdown failed: %s", exc)
            return False
        return worker is None or not worker.is_alive()

    # -- kaizen-perf additions --------------------------------------------------------------
    @asynccontextmanager
    async def span(self, operation_name: str,
                   attributes: Mapping[str, Any] | None = None) -> AsyncIterator[Span]:
        """A span around the block (ERROR with the exception if it raises); kaizen-perf
        scopes and spans started inside it are its children."""
        attrs = {k: v if isinstance(v, _PRIMITIVE) else str(v)
                 for k, v in (attributes or {}).items()}
        span = self.tracer.start_span(operation_name, context=self._scope_context(),
                                      attributes=attrs)
        ctx, scope = span.get_span_context(), CURRENT.get()
        token = CURRENT.set((ctx.trace_id, ctx.span_id, None if scope is None else scope[2]))
        otel_token = context_api.attach(set_span_in_context(span))
        try:
            yield span
        except Exception as exc:
            self.record_exception(span, exc)
            raise
        finally:
            context_api.detach(otel_token)
            CURRENT.reset(token)
            span.end()

    @staticmethod
    def _scope_context() -> Context | None:
        """The active kaizen-perf scope as a parent context (None: OpenTelemetry's current)."""
        scope = CURRENT.get()
        if scope is None:
            return None
        parent = SpanContext(scope[0], scope[1], is_remote=False,
                             trace_flags=TraceFlags(TraceFlags.SAMPLED))
        return set_span_in_context(NonRecordingSpan(parent))


__all__ = ["TracingManager"]
