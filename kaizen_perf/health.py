"""Liveness and readiness: one small check per component, a report that aggregates them.

``/healthz`` answers whether the process serves at all (liveness); ``/readyz``
whether every component is healthy (readiness): the pipeline's dispatcher is
alive and not backlogged, and whatever other checks were added (stuck agents,
exporters that keep failing).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from kaizen_perf.pipeline import Pipeline


@dataclass(frozen=True)
class ComponentStatus:
    """The state of one component."""

    name: str
    ok: bool
    detail: str
    data: dict[str, Any] | None = None


class HealthCheck(Protocol):
    """Returns the current state of one component."""

    def __call__(self) -> ComponentStatus: ...


@dataclass(frozen=True)
class HealthReport:
    """Readiness of all components."""

    ready: bool
    components: tuple[ComponentStatus, ...]

    @classmethod
    def of(cls, statuses: Sequence[ComponentStatus]) -> HealthReport:
        """Ready only when every component is."""
        return cls(all(s.ok for s in statuses), tuple(statuses))

    def to_json(self) -> dict[str, Any]:
        """The JSON body of /readyz."""
        return {"status": "ready" if self.ready else "not_ready",
                "components": {c.name: {k: val for k, val in asdict(c).items()
                                        if k != "name" and val is not None}
                               for c in self.components}}


def pipeline_check(pipeline: Pipeline, backlog_fraction: float) -> Callable[[], ComponentStatus]:
    """Not ready when the dispatcher died or the buffer is fuller than ``backlog_fraction``."""
    limit = max(1, int(pipeline.capacity * backlog_fraction))

    def check() -> ComponentStatus:
        backlog = pipeline.backlog
        data = {"backlog": backlog, "capacity": pipeline.capacity, "dropped": pipeline.dropped}
        if not pipeline.alive:
            return ComponentStatus("pipeline", False, "dispatcher thread is not running", data)
        if backlog >= limit:
            return ComponentStatus("pipeline", False,
                                   f"backlogged: {backlog} events waiting (limit {limit})", data)
        return ComponentStatus("pipeline", True, "dispatching", data)

    return check
