"""The record types of ``kaizen.core.autonomy.observability.types``, field for field.

Kaizen's dataclasses are mutable; these are frozen, since an observation or an
audit entry that changes after it was recorded is not a record. Kaizen has no
``Span`` type (spans are OpenTelemetry's), and neither has this module.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

MetricType = Literal["counter", "gauge", "histogram", "summary"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
AuditResult = Literal["success", "failure", "denied"]


@dataclass(frozen=True)
class Metric:
    """A single metric observation."""

    name: str
    value: float
    type: MetricType
    timestamp: datetime
    labels: dict[str, str] = field(default_factory=dict)
    unit: str | None = None


@dataclass(frozen=True)
class LogEntry:
    """A structured log entry."""

    timestamp: datetime
    level: LogLevel
    message: str
    context: dict[str, Any] = field(default_factory=dict)
    agent_id: str | None = None
    trace_id: str | None = None
    span_id: str | None = None


@dataclass(frozen=True)
class AuditEntry:
    """An immutable audit trail entry."""

    timestamp: datetime
    agent_id: str
    action: str
    details: dict[str, Any]
    result: AuditResult
    user_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json_dict(self) -> dict[str, Any]:
        """The line Kaizen's ``FileAuditStorage`` writes: the fields, timestamp in ISO 8601."""
        data = asdict(self)
        data["timestamp"] = self.timestamp.isoformat()
        return data

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> AuditEntry:
        """The entry :meth:`to_json_dict` produced."""
        return cls(**{**data, "timestamp": datetime.fromisoformat(data["timestamp"])})


__all__ = ["AuditEntry", "AuditResult", "LogEntry", "LogLevel", "Metric", "MetricType"]
