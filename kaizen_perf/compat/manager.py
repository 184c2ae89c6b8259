"""``ObservabilityManager`` with Kaizen's API: metrics, logs, traces and audit, each optional.

Kaizen's positional parameters, in Kaizen's order, then keyword-only additions:

- ``monitor``: a kaizen-perf :class:`~kaizen_perf.Monitor`. The metrics recorded here
  are then also on the monitor's ``/metrics`` (one endpoint to scrape);
  ``export_metrics()`` appends the monitor's families (its ``kaizen_*`` and other
  sources', not this manager's twice); the audit trail defaults to the
  monitor's durable, hash-chained trail (``KAIZEN_PERF_AUDIT_URL``) instead of
  ``.kaizen/audit.jsonl``; it is opened on the first audit entry, not before.
- ``audit_storage``: any :class:`~kaizen_perf.compat.audit.AuditStorage`.
- ``exporter``: the span exporter of the tracing component (default: OTLP gRPC to
  ``jaeger_host:jaeger_port``, as in Kaizen).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kaizen_perf.compat.audit import AuditStorage, AuditTrailManager, TrailStorage
from kaizen_perf.compat.logging import LoggingManager, StructuredLogger
from kaizen_perf.compat.metrics import MetricsCollector
from kaizen_perf.compat.tracing_manager import TracingManager
from kaizen_perf.compat.types import AuditEntry, AuditResult, MetricType

if TYPE_CHECKING:
    from kaizen_perf.monitor import Monitor

logger = logging.getLogger(__name__)


class ObservabilityManager:
    """Metrics, logs, traces and audit for one service, each optional."""

    def __init__(self, service_name: str = "kaizen-agent", enable_metrics: bool = True,
                 enable_logging: bool = True, enable_tracing: bool = True,
                 enable_audit: bool = True, jaeger_host: str = "localhost",
                 jaeger_port: int = 4317, insecure: bool = True, *,
                 monitor: Monitor | None = None, audit_storage: AuditStorage | None = None,
                 exporter: object | None = None) -> None:
        self.service_name, self.monitor = service_name, monitor
        self.metrics = MetricsCollector(monitor=monitor) if enable_metrics else None
        self.logging = LoggingManager() if enable_logging else None
        self.tracing = (TracingManager(service_name, jaeger_host=jaeger_host,
                                       jaeger_port=jaeger_port, insecure=insecure,
                                       exporter=exporter) if enable_tracing else None)
        self.audit = self._audit(audit_storage) if enable_audit else None
        # "audit" reports what was installed, not what was asked for (as in Kaizen)
        self._enabled_components = {"metrics": enable_metrics, "logging": enable_logging,
                                    "tracing": enable_tracing, "audit": self.audit is not None}

    def _audit(self, storage: AuditStorage | None) -> AuditTrailManager | None:
        if storage is None and self.monitor is not None:
            mon = self.monitor
            storage = TrailStorage(lambda: mon.audit)
        try:
            return AuditTrailManager(storage)
        except OSError as exc:  # the default file could not be made: audit alone is off
            logger.warning("Audit trail is enabled but its storage could not be opened, so "
                           "NOTHING will be recorded: %s: %s. Pass audit_storage= with "
                           "writable storage, or enable_audit=False.", type(exc).__name__, exc)
            return None

    # -- logging ----------------------------------------------------------------------------
    def get_logger(self, name: str) -> StructuredLogger | None:
        """The structured logger for a component (None, with a warning, if logging is off)."""
        if self.logging is None:
            logger.warning("Logging not enabled")
            return None
        return self.logging.get_logger(name)

    # -- metrics ----------------------------------------------------------------------------
    async def record_metric(self, name: str, value: float, type: MetricType = "counter",
                            labels: Mapping[str, str] | None = None) -> None:
        """A counter increment, a gauge value or a histogram observation (``summary`` is
        not supported, as in Kaizen: logged and ignored)."""
        if self.metrics is None:
            return
        if type == "counter":
            self.metrics.counter(name, value, labels)
        elif type == "gauge":
            self.metrics.gauge(name, value, labels)
        elif type == "histogram":
            self.metrics.histogram(name, value, labels)
        else:
            logger.warning("Unsupported metric type: %s", type)

    async def export_metrics(self) -> str:
        """The Prometheus text of the metrics, then of the monitor's (if any, without this
        manager's metrics a second time); "" if off."""
        if self.metrics is None:
            return ""
        own = await self.metrics.export()
        if self.monitor is None:
            return own
        from kaizen_perf.metrics.extra import exposition
        return own + exposition(self.monitor, without=self.metrics)

    # -- tracing ----------------------------------------------------------------------------
    def get_tracing_manager(self) -> TracingManager | None:
        """The tracing component (None, with a warning, if tracing is off)."""
        if self.tracing is None:
            logger.warning("Tracing not enabled")
            return None
        return self.tracing

    # -- audit ------------------------------------------------------------------------------
    async def record_audit(self, agent_id: str, action: str, details: dict[str, Any],
                           result: AuditResult, user_id: str | None = None,
                           metadata: dict[str, Any] | None = None) -> None:
        """Record one audit entry (nothing if audit is off)."""
        if self.audit is not None:
            await self.audit.record(agent_id=agent_id, action=action, details=details,
                                    result=result, user_id=user_id, metadata=metadata)

    async def query_audit_by_agent(self, agent_id: str) -> list[AuditEntry]:
        """The agent's audit entries ([] if audit is off)."""
        return [] if self.audit is None else await self.audit.query_by_agent(agent_id)

    async def query_audit_by_action(self, action: str) -> list[AuditEntry]:
        """The action's audit entries ([] if audit is off)."""
        return [] if self.audit is None else await self.audit.query_by_action(action)

    # -- status -----------------------------------------------------------------------------
    def is_component_enabled(self, component: str) -> bool:
        """Whether ``metrics``, ``logging``, ``tracing`` or ``audit`` is on."""
        return self._enabled_components.get(component, False)

    def get_enabled_components(self) -> list[str]:
        """The names of the components that are on."""
        return [name for name, on in self._enabled_components.items() if on]

    def get_service_name(self) -> str:
        """The service name."""
        return self.service_name

    def shutdown(self) -> None:
        """Flush and stop tracing, clear logging contexts. The monitor, if any, is not
        stopped: it belongs to whoever passed it."""
        if self.tracing is not None:
            try:
                self.tracing.shutdown()
            except Exception as exc:  # as in Kaizen: cleanup never raises
                logger.warning("Error shutting down tracing: %s", exc)
        if self.logging is not None:
            self.logging.clear_all_context()


__all__ = ["ObservabilityManager"]
