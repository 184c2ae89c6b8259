"""``ObservabilityManager``: the original design's single entry point, over kaizen-perf."""

from __future__ import annotations

from collections.abc import Mapping

from kaizen_perf.compat.audit import AuditStorage, AuditTrailManager
from kaizen_perf.compat.logging import LoggingManager, StructuredLogger
from kaizen_perf.compat.metrics import MetricsCollector
from kaizen_perf.compat.tracing import TracingManager
from kaizen_perf.compat.types import MetricType
from kaizen_perf.errors import KaizenPerfError
from kaizen_perf.monitor import Monitor


class ComponentDisabled(KaizenPerfError, RuntimeError):
    """A component switched off at construction was asked for."""


class ObservabilityManager:
    """Metrics, logs, traces and audit for one service, each optional.

    ``export_metrics()`` returns the manager's own metrics followed, when a
    ``monitor`` is given, by that monitor's (``kaizen_*``) metrics.
    """

    def __init__(self, service_name: str = "kaizen-agent", enable_metrics: bool = True,
                 enable_logging: bool = True, enable_tracing: bool = True,
                 enable_audit: bool = True, *, monitor: Monitor | None = None,
                 audit_storage: AuditStorage | None = None) -> None:
        self.service_name, self.monitor = service_name, monitor
        self.metrics = MetricsCollector() if enable_metrics else None
        self.logging = LoggingManager(agent_id=service_name) if enable_logging else None
        self.tracing = TracingManager(service_name) if enable_tracing else None
        self.audit = AuditTrailManager(audit_storage) if enable_audit else None

    def get_logger(self, name: str) -> StructuredLogger:
        """The structured logger for a component."""
        if self.logging is None:
            msg = (f"Logging is disabled for {self.service_name!r}; create the "
                   "ObservabilityManager with enable_logging=True to get a logger.")
            raise ComponentDisabled(msg)
        return self.logging.get_logger(name)

    async def record_metric(self, name: str, value: float, type: MetricType = "counter",
                            labels: Mapping[str, str] | None = None) -> None:
        """Record a counter increment, a gauge value or a histogram observation."""
        if self.metrics is None:
            return
        if type == "counter":
            self.metrics.counter(name, value, labels)
        elif type == "gauge":
            self.metrics.gauge(name, value, labels)
        else:  # "histogram", and "summary", which the original also left as a histogram
            self.metrics.histogram(name, value, labels)

    async def export_metrics(self) -> str:
        """Every metric in the Prometheus text format ("" when metrics are disabled)."""
        own = await self.metrics.export() if self.metrics is not None else ""
        return own + (self.monitor.export_metrics() if self.monitor is not None else "")
