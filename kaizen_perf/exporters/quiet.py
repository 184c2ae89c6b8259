"""Keep OpenTelemetry's exporters from flooding the agent's log when a backend is down.

The OTLP exporters log an ERROR for every failed batch (every second against a
dead collector). kaizen-perf counts each failure and logs it rate-limited
itself, so their own records are passed at most once a minute per message.
"""

from __future__ import annotations

import logging
import time

_LOGGERS = (
    "opentelemetry.exporter.otlp.common.http",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.exporter.otlp.proto.http._log_exporter",
    "opentelemetry.sdk.metrics._internal.export",
)


class RateLimitFilter(logging.Filter):
    """Pass one record per (logger, message template) per ``period_s``."""

    def __init__(self, period_s: float = 60.0) -> None:
        super().__init__()
        self._period = period_s
        self._last: dict[tuple[str, str], float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg))
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self._period:
            return False
        if len(self._last) > 1000:
            self._last.clear()
        self._last[key] = now
        return True


_FILTER = RateLimitFilter()


def quiet_otel_exporter_logs() -> None:
    """Attach the rate limit to OpenTelemetry's exporter loggers (idempotent)."""
    for name in _LOGGERS:
        log = logging.getLogger(name)
        if _FILTER not in log.filters:
            log.addFilter(_FILTER)
