"""The original design's observability API (ADR-017) as a thin facade over kaizen-perf.

Code written against ``kaizen.core.autonomy.observability`` works by changing its
imports to ``kaizen_perf.compat``::

    from kaizen_perf.compat import ObservabilityManager

    obs = ObservabilityManager(service_name="researcher")
    await obs.record_metric("agent_loop_start", 1.0, labels={"agent_id": "researcher"})
    print(await obs.export_metrics())

Differences from the sketch, all deliberate: histograms are real bounded
Prometheus histograms (not every observation kept), audit appends are fsynced, and
nothing creates files or directories until it is first used.
"""

from __future__ import annotations

from kaizen_perf.compat.audit import (
    AuditStorage,
    AuditTrailManager,
    FileAuditStorage,
    TrailStorage,
)
from kaizen_perf.compat.logging import LoggingManager, StructuredLogger
from kaizen_perf.compat.manager import ComponentDisabled, ObservabilityManager
from kaizen_perf.compat.metrics import MetricsCollector
from kaizen_perf.compat.tracing import TracingManager
from kaizen_perf.compat.types import AuditEntry, LogEntry, Metric, MetricType, Span

__all__ = [
    "AuditEntry",
    "AuditStorage",
    "AuditTrailManager",
    "ComponentDisabled",
    "FileAuditStorage",
    "LogEntry",
    "LoggingManager",
    "Metric",
    "MetricType",
    "MetricsCollector",
    "ObservabilityManager",
    "Span",
    "StructuredLogger",
    "TracingManager",
    "TrailStorage",
]
