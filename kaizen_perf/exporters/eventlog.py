"""Hook events rendered as JSON lines (the event log), cheaply, on the dispatcher thread.

Field order and names are fixed: ``timestamp``, ``level``, ``event`` (``loop``,
``tool``, ``api_call``, ``permission_check``, ``checkpoint``, ``hook``,
``interrupt``, ``control_request``, ``task``, ``invalid_input``), ``logger``
(``kaizen_perf.events``), ``agent``, the event's own fields, ``duration_s``,
``trace_id``/``span_id``/``parent_id`` (hex) of the event's span. ``level`` is
``error`` for failures, ``warning`` for invalid hook input, else ``info``.
Process samples are not logged (they are metrics).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from kaizen_perf import events as ev
from kaizen_perf.cost import usd
from kaizen_perf.redact import Redactor

# args_hash: a digest of a tool's arguments, for loop detection only; it reaches no output
_SKIP = frozenset({"start_ns", "end_ns", "trace_id", "span_id", "parent_id", "agent",
                   "args_hash"})
_NAMES: dict[type, str] = {
    ev.LoopEvent: "loop", ev.ToolEvent: "tool", ev.ApiCallEvent: "api_call",
    ev.PermissionEvent: "permission_check", ev.CheckpointEvent: "checkpoint",
    ev.HookEvent: "hook", ev.InterruptEvent: "interrupt", ev.ControlEvent: "control_request",
    ev.TaskEvent: "task", ev.InvalidInput: "invalid_input",
}
# per type: (name, [(field, index)], has start_ns)
_LAYOUT: dict[type, tuple[str, list[tuple[str, int]], bool]] = {
    cls: (name, [(f, i) for i, f in enumerate(cls._fields) if f not in _SKIP],  # type: ignore[attr-defined]
          "start_ns" in cls._fields)  # type: ignore[attr-defined]
    for cls, name in _NAMES.items()
}
_OURS = frozenset({"timestamp", "level", "event", "logger", "trace_id", "span_id", "parent_id"})
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode


class _Clock:
    """ISO-8601 UTC timestamps with the per-second prefix cached (one strftime a second)."""

    def __init__(self) -> None:
        self._sec = -1
        self._prefix = ""

    def iso(self, wall_ns: int) -> str:
        sec, rem = divmod(wall_ns, 1_000_000_000)
        if sec != self._sec:
            self._sec, self._prefix = sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        return f"{self._prefix}.{rem // 1000:06d}Z"


_CLOCK = _Clock()


def _failed(event: Any) -> bool:
    if type(event) is ev.ControlEvent:
        return event.outcome != "ok"
    if type(event) is ev.InvalidInput:
        return True
    return getattr(event, "error", None) is not None


def render_events(batch: Sequence[ev.Event], *, offset_ns: int, errors_only: bool,
                  redactor: Redactor) -> tuple[str, int]:
    """The JSON lines of a batch and how many there are."""
    lines: list[str] = []
    redact = redactor.redact
    for event in batch:
        layout = _LAYOUT.get(type(event))
        if layout is None or (errors_only and not _failed(event)):
            continue
        name, fields, timed = layout
        record = _record(event, name, fields, timed, offset_ns)
        for key, value in record.items():
            if type(value) is str and key not in _OURS:  # only values the agent gave us
                record[key] = redact(value)
            elif type(value) is tuple and value:  # tool names a response asked for
                record[key] = [redact(x) if type(x) is str else x for x in value]
        lines.append(_dumps(record))
    return ("\n".join(lines) + "\n" if lines else ""), len(lines)


def _record(event: Any, name: str, fields: list[tuple[str, int]], timed: bool,
            offset_ns: int) -> dict[str, Any]:
    end = getattr(event, "end_ns", None)
    level = ("warning" if name == "invalid_input" else "error") if _failed(event) else "info"
    record: dict[str, Any] = {
        "timestamp": _CLOCK.iso(end + offset_ns if end is not None else time.time_ns()),
        "level": level, "event": name, "logger": "kaizen_perf.events", "agent": event.agent}
    for key, index in fields:
        record[key] = event[index]
    if name == "api_call":  # dollars as every output shows them; null when unpriced, never 0
        record["cost_usd"] = usd(event.cost_pico) if event.cost_pico >= 0 else None
    if timed:
        record["duration_s"] = (event.end_ns - event.start_ns) / 1e9
    trace = getattr(event, "trace_id", 0)
    if trace:
        record["trace_id"] = f"{trace:032x}"
        record["span_id"] = f"{event.span_id:016x}"
        if event.parent_id:
            record["parent_id"] = f"{event.parent_id:016x}"
    return record
