"""AuditSink: automatic audit entries from hook events, on the dispatcher thread.

Tool executions, permission decisions (granted or denied, with the reason),
checkpoint saves/loads and interrupts become entries without any call in agent
code. The sink submits a whole dispatcher batch to the trail (one group
commit) and waits for it up to ``wait_s``; it never raises: failures are
counted in ``failed`` and logged rate-limited.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

from kaizen_perf._ratelimit import RateLimitedLog
from kaizen_perf.audit.model import AuditEntry, Draft
from kaizen_perf.audit.trail import AuditTrail
from kaizen_perf.cost import usd
from kaizen_perf.errors import ConfigError
from kaizen_perf.events import (
    ApiCallEvent,
    CheckpointEvent,
    Event,
    InterruptEvent,
    PermissionEvent,
    ToolEvent,
)

AUTO_KINDS = ("tool", "permission", "checkpoint", "interrupt", "api_call")
#: on unless chosen otherwise; LLM API calls (with their cost) are opt-in
DEFAULT_KINDS = AUTO_KINDS[:4]


def parse_auto(raw: str) -> tuple[str, ...]:
    """``"tool,permission"`` → ('tool', 'permission'); ``"none"`` → ()."""
    kinds = tuple(k.strip() for k in raw.split(",") if k.strip())
    if kinds == ("none",):
        return ()
    bad = [k for k in kinds if k not in AUTO_KINDS]
    if bad or not kinds:
        raise ValueError(f"a comma-separated list of {', '.join(AUTO_KINDS)}, or none")
    return kinds


def _tool(e: ToolEvent) -> tuple[str, dict[str, Any], str]:
    details = {"tool": e.tool, "duration_s": (e.end_ns - e.start_ns) / 1e9, "error": e.error}
    return "tool_execute", details, "failure" if e.error else "success"


def _permission(e: PermissionEvent) -> tuple[str, dict[str, Any], str]:
    details = {"tool": e.tool, "decision": e.decision, "reason": e.reason}
    return "permission_check", details, "denied" if e.decision == "denied" else "success"


def _checkpoint(e: CheckpointEvent) -> tuple[str, dict[str, Any], str]:
    details = {"op": e.op, "size_bytes": e.size_bytes, "error": e.error}
    return f"checkpoint_{e.op}", details, "failure" if e.error else "success"


def _interrupt(e: InterruptEvent) -> tuple[str, dict[str, Any], str]:
    details = {"kind": e.kind} if e.source is None else {"kind": e.kind, "source": e.source}
    return "interrupt", details, "success"


def _api_call(e: ApiCallEvent) -> tuple[str, dict[str, Any], str]:
    # cost_usd is None for an unpriced call (never $0); cost_pico keeps the exact integer
    details = {"provider": e.provider, "model": e.model, "input_tokens": e.input_tokens,
               "output_tokens": e.output_tokens, "cache_read_tokens": e.cache_read_tokens,
               "cache_write_tokens": e.cache_write_tokens, "duration_s": e.duration_s,
               "cost_usd": usd(e.cost_pico) if e.cost_pico >= 0 else None,
               "cost_pico": e.cost_pico if e.cost_pico >= 0 else None, "error": e.error}
    return "api_call", details, "failure" if e.error else "success"


_BUILDERS: dict[str, tuple[type, Callable[[Any], tuple[str, dict[str, Any], str]]]] = {
    "tool": (ToolEvent, _tool), "permission": (PermissionEvent, _permission),
    "checkpoint": (CheckpointEvent, _checkpoint), "interrupt": (InterruptEvent, _interrupt),
    "api_call": (ApiCallEvent, _api_call),
}


class AuditSink:
    """A pipeline sink that records the chosen kinds of hook events in an audit trail."""

    def __init__(self, trail: AuditTrail, *, kinds: Sequence[str] = DEFAULT_KINDS,
                 to_wall_ns: Callable[[int], int] | None = None, wait_s: float = 5.0,
                 log: RateLimitedLog | None = None) -> None:
        unknown = sorted(set(kinds) - set(AUTO_KINDS))
        if unknown:
            msg = f"Automatic audit kind {unknown[0]!r} is not valid: expected {AUTO_KINDS}."
            raise ConfigError(msg)
        self.trail, self._wait, self._to_wall = trail, wait_s, to_wall_ns
        self._map = {_BUILDERS[k][0]: _BUILDERS[k][1] for k in kinds}
        self._log = log or RateLimitedLog()
        self.recorded = 0
        self.failed = 0

    def handle(self, batch: Sequence[Event]) -> None:
        """Record every chosen event of the batch; wait for the group commit; never raise."""
        try:
            pending = [self.trail.submit(d) for d in map(self._draft, batch) if d is not None]
            self._await(pending)
        except Exception as exc:  # the dispatcher must survive anything we do
            self.failed += 1
            self._log("audit-sink", f"kaizen-perf automatic audit entries failed: {exc!r}")

    def _draft(self, event: Event) -> Draft | None:
        build = self._map.get(type(event))
        if build is None:
            return None
        action, details, result = build(event)
        end_ns = getattr(event, "end_ns", None)
        unix_ns = self._to_wall(end_ns) if self._to_wall and end_ns is not None else None
        return self.trail.draft(action, details, result, agent_id=event.agent, unix_ns=unix_ns)

    def _await(self, pending: list[Future[AuditEntry]]) -> None:
        deadline = time.monotonic() + self._wait
        for fut in pending:
            try:
                fut.result(timeout=max(0.0, deadline - time.monotonic()))
                self.recorded += 1
            except Exception as exc:
                self.failed += 1
                self._log("audit-sink", f"kaizen-perf automatic audit entry not recorded: {exc}")
