"""Automatic metrics and ``chat`` spans for the ``anthropic`` client.

::

    import kaizen_perf
    from kaizen_perf.integrations import anthropic as kp_anthropic

    kaizen_perf.configure(agent_id="researcher")
    kp_anthropic.instrument()          # every Anthropic / AsyncAnthropic client, from now on

``Messages.create`` (``stream=True`` too) and ``Messages.stream`` are wrapped, sync
and async. Anthropic's ``input_tokens`` already excludes cached tokens, so it is
recorded as is; ``cache_creation_input_tokens`` is split into 5-minute and 1-hour
writes when the response breaks it down (they are priced differently). In a stream,
``message_start`` carries the input and cache counts and ``message_delta`` the
cumulative output count (and, in newer API versions, final input counts).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kaizen_perf.cost.reserve import estimate_input_tokens, max_output_tokens
from kaizen_perf.integrations._calls import (
    CallTracker,
    Instrumentation,
    OnCall,
    Patches,
    as_int,
    patch_retry_hooks,
)
from kaizen_perf.integrations._wrapping import async_call, stream_helper, sync_call
from kaizen_perf.monitor import Monitor

__all__ = ["instrument", "is_instrumented", "uninstrument"]

_state = Instrumentation()
#: content blocks by which a response asks for a tool (the client runs ``tool_use``;
#: the server-side tools' cost is split across them too)
_TOOL_BLOCKS = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})


def usage_fields(usage: Any, *, only_present: bool = False) -> dict[str, int]:
    """kaizen-perf token fields from an Anthropic ``Usage`` (or ``MessageDeltaUsage``)."""
    raw = {
        "input_tokens": getattr(usage, "input_tokens", None),
        "output_tokens": getattr(usage, "output_tokens", None),
        "cache_read_tokens": getattr(usage, "cache_read_input_tokens", None),
    }
    created = getattr(usage, "cache_creation_input_tokens", None)
    if created is not None or not only_present:
        total = as_int(created)
        one_hour = min(total, as_int(getattr(getattr(usage, "cache_creation", None),
                                             "ephemeral_1h_input_tokens", None)))
        raw["cache_write_tokens"], raw["cache_write_1h_tokens"] = total - one_hour, one_hour
    return {k: as_int(v) for k, v in raw.items() if v is not None or not only_present}


class _Reader:
    provider = "anthropic"

    def __init__(self, stream_types: tuple[type, ...]) -> None:
        self._stream_types = stream_types

    def is_stream(self, obj: Any) -> bool:
        return isinstance(obj, self._stream_types)

    def worst_case(self, kwargs: dict[str, Any]) -> tuple[int, int]:
        """Input estimate of messages, system prompt and tool definitions; ``max_tokens``."""
        return (estimate_input_tokens(kwargs.get("messages"), kwargs.get("system"),
                                      kwargs.get("tools")),
                max_output_tokens(kwargs, "max_tokens"))

    def response(self, obj: Any, tracker: CallTracker) -> None:
        usage = getattr(obj, "usage", None)
        if usage is None:
            return
        tracker.usage.update(usage_fields(usage))
        asked = [b.name for b in getattr(obj, "content", None) or ()
                 if getattr(b, "type", None) in _TOOL_BLOCKS and isinstance(b.name, str)]
        if asked:
            tracker.tool_calls = asked
        tracker.stop_reason = getattr(obj, "stop_reason", None)
        tracker.response_model = getattr(obj, "model", None)
        tracker.response_id = getattr(obj, "id", None)
        tracker.request_id = getattr(obj, "_request_id", None)

    def event(self, obj: Any, tracker: CallTracker) -> None:
        kind = getattr(obj, "type", None)
        if kind == "content_block_delta":
            tracker.token_seen()
        elif kind == "content_block_start":
            block = getattr(obj, "content_block", None)
            name = getattr(block, "name", None)
            if getattr(block, "type", None) in _TOOL_BLOCKS and isinstance(name, str):
                tracker.tool_calls.append(name)
        elif kind == "message_start":
            self.response(obj.message, tracker)
        elif kind == "message_delta":
            usage = getattr(obj, "usage", None)
            if usage is not None:
                tracker.usage.update(usage_fields(usage, only_present=True))
            tracker.stop_reason = getattr(obj.delta, "stop_reason", None) or tracker.stop_reason


def instrument(monitor: Monitor | None = None, *, on_call: OnCall | None = None,
               clock: Callable[[], float] = time.perf_counter) -> None:
    """Record every Anthropic API call into ``monitor`` (default: the process-wide monitor).

    ``on_call`` receives an :class:`~kaizen_perf.integrations.ApiCallRecord` per call
    (time to first token, stop reason, retries with status codes, request id). Calling
    again replaces the monitor and callback. Raises ``ImportError`` without ``anthropic``.
    """
    import anthropic
    from anthropic.resources.messages import messages as res

    def apply(patches: Patches) -> None:
        rec, reader = _state.recorder, _Reader((anthropic.Stream, anthropic.AsyncStream))
        patches.wrap(res.Messages, "create", sync_call(rec, reader, "messages"))
        patches.wrap(res.AsyncMessages, "create", async_call(rec, reader, "messages"))
        patches.wrap(res.Messages, "stream", stream_helper(rec, reader, "messages"))
        patches.wrap(res.AsyncMessages, "stream", stream_helper(rec, reader, "messages"))
        patch_retry_hooks(patches, anthropic._base_client.BaseClient)

    _state.install(monitor, on_call, clock, apply)


def uninstrument() -> None:
    """Restore the ``anthropic`` client as it was (no-op when not instrumented)."""
    _state.uninstall()


def is_instrumented() -> bool:
    """Whether :func:`instrument` is in effect."""
    return _state.installed
