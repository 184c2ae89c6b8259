"""The data of alerting: findings (a condition true now), alerts (what notifiers get), roles."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")
Status = Literal["firing", "resolved"]


@dataclass(frozen=True)
class Finding:
    """One instance of a rule's condition that holds right now (one agent, one tool…)."""

    key: tuple[str, ...]
    labels: Mapping[str, str]
    value: float
    threshold: float
    summary: str
    severity: str | None = None  #: overrides the rule's severity (budget thresholds)


@dataclass(frozen=True)
class Alert:
    """A notification: an alert started firing, or resolved."""

    rule: str
    kind: str
    severity: str
    status: Status
    labels: Mapping[str, str]
    value: float
    threshold: float
    summary: str
    started_at: float  #: Unix seconds when the condition was first seen
    at: float  #: Unix seconds of this notification
    snapshot: Mapping[str, Any] | None = field(default=None)

    def to_json(self) -> dict[str, Any]:
        """The JSON document a webhook receives."""
        doc: dict[str, Any] = {
            "rule": self.rule, "kind": self.kind, "severity": self.severity,
            "status": self.status, "labels": dict(self.labels), "value": self.value,
            "threshold": self.threshold, "summary": self.summary,
            "started_at": self.started_at, "at": self.at}
        if self.snapshot is not None:
            doc["snapshot"] = self.snapshot
        return doc


class Notifier(Protocol):
    """Receives alerts on the alert thread; must not block for long."""

    def notify(self, alert: Alert) -> None: ...
