"""Checks of hook arguments. Each returns a reason string when a value is unusable, else None.

Cheap by design: they run on the agent's thread for every hook call.
"""

from __future__ import annotations

import math

DECISIONS = frozenset({"approved", "denied"})
CHECKPOINT_OPS = frozenset({"save", "load"})
INTERRUPT_KINDS = frozenset({"graceful", "immediate"})
OUTCOMES = frozenset({"ok", "timeout", "error"})


def label(value: object, what: str) -> str | None:
    """A label value must be a non-empty string."""
    if type(value) is str and value:
        return None
    return f"invalid_label: {what} must be a non-empty string, got {value!r}"


def duration(value: object, what: str = "duration_s") -> str | None:
    """A duration must be a finite number of seconds, 0 or more."""
    if type(value) in (float, int) and value >= 0 and math.isfinite(value):  # type: ignore[operator,arg-type]
        return None
    if isinstance(value, float) and math.isnan(value):
        return f"nan_value: {what} is NaN"
    return f"negative_duration: {what} must be a finite number of seconds >= 0, got {value!r}"


def count(value: object, what: str) -> str | None:
    """A token or byte count must be a whole number, 0 or more."""
    if type(value) is int and value >= 0:
        return None
    if isinstance(value, float) and math.isnan(value):
        return f"nan_value: {what} is NaN"
    return f"negative_count: {what} must be a whole number >= 0, got {value!r}"


def one_of(value: object, allowed: frozenset[str], what: str) -> str | None:
    """A value from a closed set."""
    if value in allowed:
        return None
    return f"unknown_value: {what} must be one of {', '.join(sorted(allowed))}, got {value!r}"


def error_name(error: object) -> str | None:
    """``None`` for success; an exception's type name, or the given string, for failure."""
    if error is None or error is False:
        return None
    if isinstance(error, BaseException):
        return type(error).__name__
    if isinstance(error, type) and issubclass(error, BaseException):
        return error.__name__
    return str(error) if isinstance(error, str) and error else "error"


def first(*reasons: str | None) -> str | None:
    """The first problem found, if any."""
    for reason in reasons:
        if reason is not None:
            return reason
    return None
