"""The point hooks of a monitor, and what every hook does with a value it cannot use.

A point hook (a permission decision, a checkpoint, a user hook, an interrupt, a control
request, a task) validates its arguments cheaply and enqueues one event stamped with
the current scope's trace ids. Hooks never raise into agent code: an unusable value is
counted in ``kaizen_perf_invalid_events_total`` and logged once per reason, unless
``strict`` is set (our tests), in which case it raises ``ValueError``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from kaizen_perf import _validate as v
from kaizen_perf._context import CURRENT, new_span_id
from kaizen_perf._validate import MAX_TEXT
from kaizen_perf.events import (
    CheckpointEvent,
    ControlEvent,
    Event,
    HookEvent,
    InterruptEvent,
    InvalidInput,
    PermissionEvent,
    TaskEvent,
)

logger = logging.getLogger("kaizen_perf")


class PointHooks:
    """Base of :class:`~kaizen_perf.monitor.Monitor`: the point hooks and invalid input."""

    agent_id: str
    _enabled: bool
    _strict: bool
    _clock: Callable[[], int]
    _put: Callable[[Event], None]
    _warned: set[str]

    def permission_check(self, tool: str, decision: str, reason: str | None = None,
                         duration_s: float = 0.0) -> None:
        """Record a permission decision: ``approved`` or ``denied``."""
        if self._enabled and self._ok(
                v.label(tool, "tool"), v.one_of(decision, v.DECISIONS, "decision"),
                v.duration(duration_s),
                None if reason is None or type(reason) is str else v.opt_text(reason, "reason")):
            if len(tool) > MAX_TEXT or not tool.isascii():
                tool = v.cut(tool)
            if reason is not None and (len(reason) > MAX_TEXT or not reason.isascii()):
                reason = v.cut(reason)
            self._point(PermissionEvent, tool, decision, reason, float(duration_s))

    def checkpoint(self, op: str, size_bytes: int = 0, duration_s: float = 0.0,
                   error: object = None) -> None:
        """Record a checkpoint ``save`` or ``load``."""
        if self._enabled and self._ok(v.one_of(op, v.CHECKPOINT_OPS, "op"),
                                      v.count(size_bytes, "size_bytes"), v.duration(duration_s)):
            self._point(CheckpointEvent, op, size_bytes, float(duration_s), v.error_name(error))

    def hook_executed(self, hook: str, duration_s: float = 0.0, ok: bool = True) -> None:
        """Record that a user hook ran."""
        if self._enabled and self._ok(v.label(hook, "hook"), v.duration(duration_s)):
            self._point(HookEvent, v.cut(hook), float(duration_s),
                        None if v.truth(ok) else "error")

    def interrupt(self, kind: str = "graceful", *, source: str | None = None) -> None:
        """Record an interrupt: ``graceful`` or ``immediate``; ``source`` (what asked for it)
        goes to the event log, the span and the audit entry, not to the metric's labels."""
        if self._enabled and self._ok(v.one_of(kind, v.INTERRUPT_KINDS, "kind"),
                                      v.opt_text(source, "source")):
            self._point(InterruptEvent if source is None else
                        functools.partial(InterruptEvent, source=v.cut(source)), kind)

    def control_request(self, kind: str, duration_s: float = 0.0, outcome: str = "ok") -> None:
        """Record a control-protocol request: outcome ``ok``, ``timeout`` or ``error``."""
        if self._enabled and self._ok(v.label(kind, "kind"), v.duration(duration_s),
                                      v.one_of(outcome, v.OUTCOMES, "outcome")):
            self._point(ControlEvent, v.cut(kind), float(duration_s), outcome)

    def task(self, task_type: str, complexity: str = "unknown", duration_s: float = 0.0,
             ok: bool = True) -> None:
        """Record a finished task (business metric: duration and success by complexity)."""
        if self._enabled and self._ok(v.label(task_type, "task_type"),
                                      v.label(complexity, "complexity"), v.duration(duration_s)):
            self._point(TaskEvent, v.cut(task_type), v.cut(complexity), float(duration_s),
                        None if v.truth(ok) else "error")

    def _point(self, cls: Callable[..., Event], *fields: Any) -> None:
        try:
            cur = CURRENT.get()
            trace, parent = (0, 0) if cur is None else (cur[0], cur[1])
            self._put(cls(self.agent_id, *fields, self._clock(), trace, new_span_id(), parent))
        except Exception as exc:  # never into agent code
            self._internal_error(exc)

    # -- invalid input and internal errors ---------------------------------------------
    def _ok(self, *problems: str | None) -> bool:
        problem = v.first(*problems)
        if problem is None:
            return True
        self._invalid(problem)
        return False

    def _invalid(self, problem: str) -> None:
        reason, _, detail = problem.partition(": ")
        message = f"kaizen-perf hook called with an unusable value: {detail}."
        if self._strict:
            raise ValueError(message)
        self._put(InvalidInput(self.agent_id, reason, message))
        self._warn_once(f"invalid:{reason}", message + " Counted in "
                        "kaizen_perf_invalid_events_total; set KAIZEN_PERF_STRICT=1 to raise.")

    def _internal_error(self, exc: Exception) -> None:
        self._put(InvalidInput(self.agent_id, "internal_error", repr(exc)))
        self._warn_once(f"internal:{type(exc).__name__}", f"kaizen-perf internal error in a "
                        f"hook (the agent is not affected): {exc!r}")

    def _warn_once(self, key: str, message: str) -> None:
        # a bounded set: past 20 distinct warnings only the counters tell (no log flood)
        if key not in self._warned and len(self._warned) < 20:
            self._warned.add(key)
            if len(self._warned) == 20:
                message += " (further distinct warnings of this monitor are not logged)"
            logger.warning("%s", message)
