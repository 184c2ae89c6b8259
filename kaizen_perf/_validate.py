"""Checks of hook arguments. Each returns a reason string when a value is unusable, else None.

Cheap by design: they run on the agent's thread for every hook call. And they
never raise, whatever they are given: each test starts with ``type(value) is
...`` (which no value can intercept) before it compares, hashes or measures the
value, bounds are checked with comparisons that are exact and cannot overflow
(``0 <= value <= MAX``, also false for NaN), and messages describe a value
without calling its own ``__repr__`` (:func:`show`).

Limits (documented in docs/hooks.md):

- every string argument is cut to ``MAX_TEXT`` (256) characters before any work
  is done with it (a 10 MB tool or model name costs the same as a short one),
  and lone surrogates, which no UTF-8 output can carry, become ``?``;
- counts (tokens, bytes) are whole numbers from 0 to ``MAX_COUNT`` (2**63 - 1);
- durations are finite numbers of seconds from 0 to ``MAX_SECONDS`` (10**9,
  about 31 years).
"""

from __future__ import annotations

DECISIONS = frozenset({"approved", "denied"})
CHECKPOINT_OPS = frozenset({"save", "load"})
INTERRUPT_KINDS = frozenset({"graceful", "immediate"})
OUTCOMES = frozenset({"ok", "timeout", "error"})

MAX_TEXT = 256  #: characters kept of any string argument (labels, reasons, ids, errors)
MAX_COUNT = 2**63 - 1  #: the largest token or byte count accepted
MAX_SECONDS = 1e9  #: the longest duration accepted, in seconds
_MAX_CLOSED = 16  #: longer than any member of a closed set: rejected before hashing
_SHOWN = 64  #: characters of a bad string quoted in a message


def cut(value: str) -> str:
    """``value`` (an exact ``str``) cut to ``MAX_TEXT`` characters, and encodable: a lone
    surrogate (which UTF-8 cannot encode, so no exporter could write it) becomes ``?``."""
    if len(value) > MAX_TEXT:
        value = value[:MAX_TEXT]
    if value.isascii():  # O(1) in CPython: the common case costs nothing more
        return value
    try:
        value.encode()
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace").decode()
    return value


def cut_opt(value: str | None) -> str | None:
    """:func:`cut` for an optional string already checked by :func:`opt_text`."""
    return None if value is None else cut(value)


def show(value: object) -> str:
    """A short description of ``value`` for a message, never calling its own methods."""
    t = type(value)
    if t is str:
        text: str = value  # type: ignore[assignment]
        if len(text) <= _SHOWN:
            return repr(text)
        return f"{text[:_SHOWN]!r}... ({len(text)} characters)"
    if t is int:
        n: int = value  # type: ignore[assignment]
        return repr(n) if -(10**18) < n < 10**18 else f"an integer of {n.bit_length()} bits"
    if t is float or t is bool or value is None:
        return repr(value)
    return f"a {t.__name__} object"


def label(value: object, what: str) -> str | None:
    """A label value must be a non-empty string."""
    if type(value) is str and value:
        return None
    return f"invalid_label: {what} must be a non-empty string, got {show(value)}"


def duration(value: object, what: str = "duration_s") -> str | None:
    """A duration must be a finite number of seconds from 0 to ``MAX_SECONDS``."""
    if (type(value) is float or type(value) is int) and 0 <= value <= MAX_SECONDS:
        return None
    if type(value) is float and value != value:
        return f"nan_value: {what} is NaN"
    if (type(value) is float or type(value) is int) and value > MAX_SECONDS:
        return (f"out_of_range: {what} must be at most {MAX_SECONDS:.0e} seconds, "
                f"got {show(value)}")
    return (f"negative_duration: {what} must be a finite number of seconds >= 0, "
            f"got {show(value)}")


def opt_duration(value: object, what: str) -> str | None:
    """:func:`duration`, or None."""
    return None if value is None else duration(value, what)


def count(value: object, what: str) -> str | None:
    """A token or byte count must be a whole number from 0 to ``MAX_COUNT``."""
    if type(value) is int and 0 <= value <= MAX_COUNT:
        return None
    if type(value) is float and value != value:
        return f"nan_value: {what} is NaN"
    if type(value) is int and value > MAX_COUNT:
        return f"out_of_range: {what} must be at most 2**63 - 1, got {show(value)}"
    return f"negative_count: {what} must be a whole number >= 0, got {show(value)}"


def opt_text(value: object, what: str) -> str | None:
    """An optional free-text value (reason, stop reason, request id) must be a string."""
    if value is None or type(value) is str:
        return None
    return f"invalid_text: {what} must be a string or None, got {show(value)}"


def opt_status(value: object) -> str | None:
    """An optional HTTP status code must be a whole number from 0 to 999."""
    if value is None or (type(value) is int and 0 <= value <= 999):
        return None
    return f"invalid_status: status_code must be an HTTP status (0-999), got {show(value)}"


def api_details(ttft_s: object, stop_reason: object, status_code: object,
                request_id: object) -> str | None:
    """The optional details of ``record_api_call`` (one call: they come together)."""
    if ((ttft_s is None or (type(ttft_s) is float and 0 <= ttft_s <= MAX_SECONDS))
            and (stop_reason is None or type(stop_reason) is str)
            and (request_id is None or type(request_id) is str)
            and (status_code is None or (type(status_code) is int and 0 <= status_code <= 999))):
        return None
    return first(opt_duration(ttft_s, "ttft_s"), opt_text(stop_reason, "stop_reason"),
                 opt_status(status_code), opt_text(request_id, "request_id"))


def one_of(value: object, allowed: frozenset[str], what: str) -> str | None:
    """A value from a closed set (anything but a short ``str`` is refused before hashing)."""
    if type(value) is str and len(value) <= _MAX_CLOSED and value in allowed:
        return None
    return (f"unknown_value: {what} must be one of {', '.join(sorted(allowed))}, "
            f"got {show(value)}")


def truth(value: object) -> bool:
    """``bool(value)``, except that a value whose ``__bool__`` raises counts as True."""
    if value is True or value is False:
        return value is True
    try:
        return bool(value)
    except Exception:
        return True


def error_name(error: object) -> str | None:
    """``None`` for success; an exception's type name, or the given string (cut), for failure.

    Only the exact type is consulted (``type()``, never ``isinstance``, which a
    value can intercept through ``__class__``).
    """
    if error is None or error is False:
        return None
    t = type(error)
    if issubclass(t, BaseException):
        return t.__name__
    if issubclass(t, type) and issubclass(error, BaseException):  # type: ignore[arg-type]
        return error.__name__  # type: ignore[attr-defined,no-any-return]
    if t is str and error:
        return cut(error)  # type: ignore[arg-type]
    return "error"


def first(*reasons: str | None) -> str | None:
    """The first problem found, if any."""
    for reason in reasons:
        if reason is not None:
            return reason
    return None
