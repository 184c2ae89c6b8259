"""Automatic metrics and ``chat`` spans for the ``openai`` client.

::

    import kaizen_perf
    from kaizen_perf.integrations import openai as kp_openai

    kaizen_perf.configure(agent_id="researcher")
    kp_openai.instrument()             # every OpenAI / AsyncOpenAI client, from now on

``chat.completions.create`` and ``responses.create`` are wrapped, sync and async,
``stream=True`` included; the ``.stream()`` helpers call ``create`` and so are
covered too. OpenAI's ``prompt_tokens`` / ``input_tokens`` INCLUDE cached tokens
(and cache writes, where reported): kaizen-perf's ``input`` is the remainder, so a
cached token is never charged twice. A streamed chat completion reports usage only
with ``stream_options={"include_usage": True}``; without it the call is counted with
no tokens and a warning is logged (never a silent $0 cost per token).
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
    tool_call_name,
)
from kaizen_perf.integrations._wrapping import async_call, sync_call
from kaizen_perf.monitor import Monitor

__all__ = ["instrument", "is_instrumented", "uninstrument", "usage_fields"]

_state = Instrumentation()


def usage_fields(usage: Any) -> dict[str, int]:
    """kaizen-perf token fields from a chat ``CompletionUsage`` or a ``ResponseUsage``."""
    details = getattr(usage, "prompt_tokens_details", None) or \
        getattr(usage, "input_tokens_details", None)
    total = getattr(usage, "prompt_tokens", None)
    if total is None:
        total = getattr(usage, "input_tokens", None)
    output = getattr(usage, "completion_tokens", None)
    if output is None:
        output = getattr(usage, "output_tokens", None)
    cached = as_int(getattr(details, "cached_tokens", None))
    written = as_int(getattr(details, "cache_write_tokens", None))
    return {"input_tokens": max(0, as_int(total) - cached - written),
            "output_tokens": as_int(output), "cache_read_tokens": cached,
            "cache_write_tokens": written}


class _Base:
    provider = "openai"

    def __init__(self, stream_types: tuple[type, ...]) -> None:
        self._stream_types = stream_types

    def is_stream(self, obj: Any) -> bool:
        return isinstance(obj, self._stream_types)

    @staticmethod
    def _ids(obj: Any, tracker: CallTracker) -> None:
        tracker.response_model = getattr(obj, "model", None) or tracker.response_model
        tracker.response_id = getattr(obj, "id", None) or tracker.response_id
        tracker.request_id = getattr(obj, "_request_id", None) or tracker.request_id


class _ChatReader(_Base):
    def worst_case(self, kwargs: dict[str, Any]) -> tuple[int, int]:
        """Input estimate of messages and tools; ``max_completion_tokens``/``max_tokens``."""
        return (estimate_input_tokens(kwargs.get("messages"), kwargs.get("tools"),
                                      kwargs.get("functions")),
                max_output_tokens(kwargs, "max_completion_tokens", "max_tokens"))

    def response(self, obj: Any, tracker: CallTracker) -> None:
        usage = getattr(obj, "usage", None)
        if usage is not None:
            tracker.usage.update(usage_fields(usage))
        self._ids(obj, tracker)
        choices = getattr(obj, "choices", None) or ()
        asked = [n for c in choices for t in getattr(getattr(c, "message", None), "tool_calls",
                                                       None) or ()
                 if (n := tool_call_name(t)) is not None]
        if asked:
            tracker.tool_calls = asked
        reason = next((c.finish_reason for c in choices if getattr(c, "finish_reason", None)),
                      None)
        tracker.stop_reason = reason or tracker.stop_reason

    def event(self, obj: Any, tracker: CallTracker) -> None:
        for choice in getattr(obj, "choices", None) or ():
            delta = getattr(choice, "delta", None)
            if getattr(delta, "content", None) or getattr(delta, "tool_calls", None) \
                    or getattr(delta, "refusal", None):
                tracker.token_seen()
            for t in getattr(delta, "tool_calls", None) or ():  # the name comes once per call
                name = tool_call_name(t)
                if name is not None:
                    tracker.tool_calls.append(name)
        self.response(obj, tracker)


class _ResponsesReader(_Base):
    def worst_case(self, kwargs: dict[str, Any]) -> tuple[int, int]:
        """Input estimate of input, instructions and tools; ``max_output_tokens``."""
        return (estimate_input_tokens(kwargs.get("input"), kwargs.get("instructions"),
                                      kwargs.get("tools")),
                max_output_tokens(kwargs, "max_output_tokens"))

    def response(self, obj: Any, tracker: CallTracker) -> None:
        usage = getattr(obj, "usage", None)
        if usage is not None:
            tracker.usage.update(usage_fields(usage))
        self._ids(obj, tracker)
        asked = [n for item in getattr(obj, "output", None) or ()
                 if (n := _output_tool(item)) is not None]
        if asked:
            tracker.tool_calls = asked
        incomplete = getattr(obj, "incomplete_details", None)
        tracker.stop_reason = getattr(incomplete, "reason", None) or \
            getattr(obj, "status", None) or tracker.stop_reason

    def event(self, obj: Any, tracker: CallTracker) -> None:
        kind = getattr(obj, "type", "") or ""
        if kind.endswith(".delta"):
            tracker.token_seen()
        elif kind in ("response.completed", "response.incomplete", "response.failed",
                      "response.created"):
            self.response(obj.response, tracker)


def _output_tool(item: Any) -> str | None:
    """The tool a Responses ``output`` item runs: a function's name, else the built-in
    tool's kind (``web_search_call`` → ``web_search``)."""
    kind = getattr(item, "type", None)
    if not isinstance(kind, str) or not kind.endswith("_call"):
        return None
    name = getattr(item, "name", None)
    return name if isinstance(name, str) and name else kind[:-len("_call")]


def instrument(monitor: Monitor | None = None, *, on_call: OnCall | None = None,
               clock: Callable[[], float] = time.perf_counter) -> None:
    """Record every OpenAI chat completion and response into ``monitor`` (default: global).

    ``on_call`` receives an :class:`~kaizen_perf.integrations.ApiCallRecord` per call.
    Calling again replaces the monitor and callback. Raises ``ImportError`` without ``openai``.
    """
    import openai
    from openai.resources.chat.completions import completions as chat
    from openai.resources.responses import responses

    def apply(patches: Patches) -> None:
        rec, streams = _state.recorder, (openai.Stream, openai.AsyncStream)
        chat_reader, resp_reader = _ChatReader(streams), _ResponsesReader(streams)
        patches.wrap(chat.Completions, "create", sync_call(rec, chat_reader, "chat"))
        patches.wrap(chat.AsyncCompletions, "create", async_call(rec, chat_reader, "chat"))
        patches.wrap(responses.Responses, "create", sync_call(rec, resp_reader, "responses"))
        patches.wrap(responses.AsyncResponses, "create",
                     async_call(rec, resp_reader, "responses"))
        patch_retry_hooks(patches, openai._base_client.BaseClient)

    _state.install(monitor, on_call, clock, apply)


def uninstrument() -> None:
    """Restore the ``openai`` client as it was (no-op when not instrumented)."""
    _state.uninstall()


def is_instrumented() -> bool:
    """Whether :func:`instrument` is in effect."""
    return _state.installed
