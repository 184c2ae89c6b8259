"""The original design's record types (ADR-017), field for field."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

MetricType = Literal["counter", "gauge", "histogram", "summary"]
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
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
    message: str
    context: dict[str, Any] = field(default_factory=dict)
    agent_id: str | None = None
    trace_id: str | None = None
    span_id: str | None = None


@dataclass
class Span:
    """A tracing span (mutable while open: attributes and events are added to it)."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    operation_name: str
    start_time: datetime
    end_time: datetime | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)

    def set_attribute(self, key: str, value: Any) -> None:
        """Set one attribute (the OpenTelemetry span method the original code called)."""
        self.attributes[key] = value


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
        """A JSON-ready dict (timestamp as ISO 8601)."""
        data = asdict(self)
        data["timestamp"] = self.timestamp.isoformat()
        return data

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> AuditEntry:
        """The entry :meth:`to_json_dict` produced."""
        return cls(**{**data, "timestamp": datetime.fromisoformat(data["timestamp"])})
