"""``TracingManager.span``: the original's async span, joined to kaizen-perf's trace context.

Inside ``span()`` the kaizen-perf scope is set to the new span, so tools, loops and
LLM calls recorded in the block become its children. The span is also started with
the OpenTelemetry API (a no-op unless the application configured an SDK), and the
last finished spans are kept (bounded) for inspection.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

from kaizen_perf._context import CURRENT, new_span_id, new_trace_id
from kaizen_perf.compat.types import Span


class TracingManager:
    """Creates spans; ``finished`` holds the last ``keep`` ones."""

    def __init__(self, service_name: str = "kaizen-agent", *, keep: int = 1000) -> None:
        self.service_name = service_name
        self.tracer = trace.get_tracer("kaizen_perf.compat")
        self.finished: deque[Span] = deque(maxlen=keep)

    @asynccontextmanager
    async def span(self, operation_name: str,
                   attributes: Mapping[str, Any] | None = None) -> AsyncIterator[Span]:
        """A span around the block; an exception marks it (``error``, ``error.message``)."""
        parent = CURRENT.get()
        trace_id = parent[0] if parent else new_trace_id()
        span = Span(f"{trace_id:032x}", f"{new_span_id():016x}",
                    f"{parent[1]:016x}" if parent else None, operation_name,
                    datetime.now(UTC), attributes=dict(attributes or {}))
        token = CURRENT.set((trace_id, int(span.span_id, 16), parent[2] if parent else None))
        with self.tracer.start_as_current_span(operation_name) as otel:
            for key, value in span.attributes.items():
                otel.set_attribute(key, value if isinstance(value, str | bool | int | float)
                                   else str(value))
            try:
                yield span
            except BaseException as exc:
                span.set_attribute("error", True)
                span.set_attribute("error.message", str(exc))
                otel.set_attribute("error", True)
                raise
            finally:
                span.end_time = datetime.now(UTC)
                self.finished.append(span)
                CURRENT.reset(token)
