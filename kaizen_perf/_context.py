"""The current span scope, per thread and per asyncio task (a ``ContextVar``).

A scope is ``(trace_id, span_id, tool)``: the ids let the dispatcher build
parent/child spans off the hot path; ``tool`` attributes LLM cost to the tool
that was active. A W3C ``TRACEPARENT`` (as the Claude Agent SDK passes it) makes
top-level scopes children of the caller's span.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from random import getrandbits

Scope = tuple[int, int, "str | None"]

CURRENT: ContextVar[Scope | None] = ContextVar("kaizen_perf_scope", default=None)

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")


def new_span_id() -> int:
    """A random non-zero 64-bit span id."""
    return getrandbits(64) or 1


def new_trace_id() -> int:
    """A random non-zero 128-bit trace id."""
    return getrandbits(128) or 1


def parse_traceparent(value: str | None) -> tuple[int, int] | None:
    """``(trace_id, parent_span_id)`` from a W3C traceparent, or None if absent/invalid."""
    if not value:
        return None
    match = _TRACEPARENT.match(value.strip().lower())
    if not match:
        return None
    trace_id, span_id = int(match.group(1), 16), int(match.group(2), 16)
    return (trace_id, span_id) if trace_id and span_id else None


def format_traceparent(trace_id: int, span_id: int) -> str:
    """A W3C traceparent for the given ids (sampled)."""
    return f"00-{trace_id:032x}-{span_id:016x}-01"


def current_traceparent() -> str | None:
    """The traceparent of the active scope, to hand to a subprocess, or None."""
    scope = CURRENT.get()
    return None if scope is None else format_traceparent(scope[0], scope[1])
