"""Kaizen's ``kaizen.core.autonomy.observability`` API, on kaizen-perf.

A drop-in for kailash-kaizen 2.46's observability package: the same modules
(``audit``, ``logging``, ``manager``, ``metrics``, ``tracing_manager``,
``types``), classes, methods, arguments and return shapes, so code written
against Kaizen works with its imports changed::

    from kaizen_perf.compat import ObservabilityManager

    obs = ObservabilityManager(service_name="researcher")
    await obs.record_metric("agent_loop_start", 1.0, labels={"agent_id": "researcher"})
    print(await obs.export_metrics())

Kaizen's own ``TracingHook`` runs on :class:`TracingManager`, and
:func:`kaizen_perf.compat.agent.replace_observability` makes
``BaseAgent.enable_observability()`` return this package's manager. Where it
deliberately differs (bounded memory instead of per-observation lists, fsynced
audit appends, spans joined to kaizen-perf's trace) is listed in
docs/integrations.md and in each module's docstring.
"""

from __future__ import annotations

from kaizen_perf.compat.audit import (
    AuditStorage,
    AuditTrailManager,
    FileAuditStorage,
    TrailStorage,
)
from kaizen_perf.compat.logging import LoggingManager, StructuredLogger
from kaizen_perf.compat.manager import ObservabilityManager
from kaizen_perf.compat.metrics import MetricsCollector
from kaizen_perf.compat.tracing_manager import TracingManager
from kaizen_perf.compat.types import (
    AuditEntry,
    AuditResult,
    LogEntry,
    LogLevel,
    Metric,
    MetricType,
)

__all__ = [
    "AuditEntry",
    "AuditResult",
    "AuditStorage",
    "AuditTrailManager",
    "FileAuditStorage",
    "LogEntry",
    "LogLevel",
    "LoggingManager",
    "Metric",
    "MetricType",
    "MetricsCollector",
    "ObservabilityManager",
    "StructuredLogger",
    "TracingManager",
    "TrailStorage",
]
