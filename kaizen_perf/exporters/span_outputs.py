"""How span records reach each kind of exporter, paying only for what that exporter needs.

- An exporter that takes encoded OTLP bytes (:class:`EncodedSpanExporter`, such as
  kaizen-perf's own OTLP/HTTP exporter) gets them from a
  :class:`~kaizen_perf.exporters.otlp_records.RecordEncoder`: no SDK span objects.
- :class:`MemorySpanExporter` (``traces="memory"``) keeps the records and builds
  ``ReadableSpan`` objects only when someone reads them.
- Any other ``SpanExporter`` (console, or one of the user's) gets SDK spans, built
  in its export thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from kaizen_perf.tracing.spans import SpanBuilder, SpanRecord

ToSdk = Callable[[SpanRecord], ReadableSpan]


@runtime_checkable
class EncodedSpanExporter(Protocol):
    """An exporter that sends an encoded OTLP ``ExportTraceServiceRequest`` as it is."""

    def export_encoded(self, body: bytes) -> SpanExportResult:
        """Send one request body."""
        ...


class MemorySpanExporter(SpanExporter):
    """Keeps spans in memory for tests and benchmarks (the API of OpenTelemetry's
    ``InMemorySpanExporter``), storing span records and turning them into
    ``ReadableSpan`` objects only when :meth:`get_finished_spans` is called."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spans: list[ReadableSpan] = []
        self._pending: list[tuple[Sequence[SpanRecord], ToSdk]] = []
        self._stopped = False

    def export_records(self, records: Sequence[SpanRecord], to_sdk: ToSdk) -> bool:
        """Keep records, to be turned into spans by ``to_sdk`` when read."""
        with self._lock:
            if self._stopped:
                return False
            self._pending.append((records, to_sdk))
        return True

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Keep finished SDK spans."""
        with self._lock:
            if self._stopped:
                return SpanExportResult.FAILURE
            self._materialize()
            self._spans.extend(spans)
        return SpanExportResult.SUCCESS

    def get_finished_spans(self) -> tuple[ReadableSpan, ...]:
        """Every span kept so far, oldest first."""
        with self._lock:
            self._materialize()
            return tuple(self._spans)

    def clear(self) -> None:
        """Forget every span kept so far."""
        with self._lock:
            self._spans.clear()
            self._pending.clear()

    def shutdown(self) -> None:
        """Refuse further spans (those kept stay readable)."""
        with self._lock:
            self._stopped = True

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered."""
        return True

    def _materialize(self) -> None:
        for records, to_sdk in self._pending:
            self._spans.extend(to_sdk(r) for r in records)
        self._pending.clear()


def record_export_fn(exporter: SpanExporter,
                     builder: SpanBuilder) -> Callable[[Sequence[SpanRecord]], bool]:
    """``export(records) -> ok`` for one exporter (called in its export thread only)."""
    if isinstance(exporter, EncodedSpanExporter):
        from kaizen_perf.exporters.otlp_records import RecordEncoder
        encoder, send = RecordEncoder(builder), exporter.export_encoded

        def export_encoded(records: Sequence[SpanRecord]) -> bool:
            return send(encoder.request(records)) is SpanExportResult.SUCCESS
        return export_encoded
    to_sdk = builder.to_sdk
    if isinstance(exporter, MemorySpanExporter):
        keep = exporter.export_records

        def export_kept(records: Sequence[SpanRecord]) -> bool:
            return keep(records, to_sdk)
        return export_kept

    def export_sdk(records: Sequence[SpanRecord]) -> bool:
        return exporter.export([to_sdk(r) for r in records]) is SpanExportResult.SUCCESS
    return export_sdk
