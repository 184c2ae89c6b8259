"""LLM calls through Kaizen's own client: ``kaizen.llm.client.LlmClient``.

Every Kaizen completion, whichever strategy or node asks for it (``LLMAgentNode``,
``AsyncSingleShotStrategy``, ``BaseAgent._simple_execute_async``), goes through
``LlmClient.complete`` or ``LlmClient.stream``; both are wrapped. No Kaizen hook
event carries tokens, cost or duration.

Tokens come from the provider's *raw* response: Kaizen's wire shapers normalise
usage to ``{input_tokens, output_tokens, total_tokens}`` and drop the cache
counts, so the shaper modules' ``parse_response`` (which every completion and
every streamed chunk passes through) is wrapped to read the raw ``usage`` first.
OpenAI-style ``prompt_tokens`` include cached tokens; kaizen-perf's ``input`` is
the uncached remainder, so a cached token is never charged twice.

Errors: ``RateLimited`` is HTTP 429 and ``ProviderError.status`` the status of any
other non-2xx answer. Kaizen 2.46.1 declares a ``RetryConfig`` on each deployment
but its client does not retry, so a retry made by a caller (``RetryMixin``, user
code) shows as one more request, each failed attempt counted with its status.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import time
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from typing import Any

from kaizen_perf.cost.reserve import (
    NOTHING,
    Reservation,
    estimate_input_tokens,
    max_output_tokens,
    reserve_call,
)
from kaizen_perf.errors import BudgetExceeded
from kaizen_perf.integrations._calls import Patches, _log, as_int, tool_call_name
from kaizen_perf.integrations.kaizen._agents import AGENTS, CURRENT_AGENT

#: Kaizen's wire protocol → provider label, for deployments without a preset name
WIRE_PROVIDERS = {"OpenAiChat": "openai", "AnthropicMessages": "anthropic",
                  "GoogleGenerateContent": "google", "MistralChat": "mistral",
                  "CohereGenerate": "cohere", "OllamaNative": "ollama",
                  "BedrockInvoke": "bedrock", "HuggingFaceInference": "huggingface"}


class Call:
    """One ``complete``/``stream`` call in flight (owned by one task)."""

    __slots__ = ("client", "first", "model", "reservation", "start", "stop", "streamed",
                 "tools", "usage")

    def __init__(self, client: Any, model: object, streamed: bool) -> None:
        self.client, self.streamed = client, streamed
        self.model = model if isinstance(model, str) and model else None
        self.usage: dict[str, int] = {}
        self.stop: str | None = None
        self.first: float | None = None
        self.reservation: Reservation = NOTHING
        self.tools: dict[object, str] = {}  # tool call id (or position) → the tool asked for
        self.start = time.perf_counter()

    def reserve(self, messages: Any, kwargs: dict[str, Any]) -> None:
        """Hold the request's worst case against hard budgets before it is sent (raises
        ``BudgetExceeded`` when that could pass one; nothing else reaches agent code)."""
        try:
            mon = AGENTS.of(None)
            if not mon.budget.gating:
                return
            dep = getattr(self.client, "_deployment", None)
            model = self.model or getattr(dep, "default_model", None) or "unknown"
            self.reservation = reserve_call(
                mon, provider_of(dep), model,
                estimate_input_tokens(messages, kwargs.get("tools")),
                max_output_tokens(kwargs, "max_tokens"))
        except BudgetExceeded:
            raise
        except Exception as exc:  # never into agent code
            _log("kaizen-reserve", f"kaizen-perf could not reserve a Kaizen LLM call: {exc!r}")

    def parsed(self, raw: Any, parsed: Any) -> None:
        """A response or stream chunk went through the shaper."""
        if isinstance(raw, dict):
            usage = raw_usage(raw)
            if usage:
                self.usage.update(usage)
        if not isinstance(parsed, dict):
            return
        if self.first is None and (parsed.get("text") or parsed.get("tool_calls")):
            self.first = time.perf_counter()
        for i, tc in enumerate(parsed.get("tool_calls") or ()):
            name = tool_call_name(tc)
            if name is not None:  # a streamed call may come in pieces: once per id
                key = tc.get("id") if isinstance(tc, dict) and tc.get("id") else (id(parsed), i)
                self.tools.setdefault(key, name)
        model, stop = parsed.get("model"), parsed.get("stop_reason")
        if isinstance(model, str) and model:
            self.model = model
        if isinstance(stop, str) and stop:
            self.stop = stop
        if not self.usage:  # a wire whose raw usage we do not read: Kaizen's normalised view
            u = parsed.get("usage")
            if isinstance(u, dict) and (u.get("input_tokens") or u.get("output_tokens")):
                self.usage = {"input_tokens": as_int(u.get("input_tokens")),
                              "output_tokens": as_int(u.get("output_tokens"))}

    def finish(self, error: BaseException | None) -> None:
        """Record the call (never raises)."""
        try:
            self._record(error)
        except Exception as exc:  # never into agent code
            _log("kaizen-llm", f"kaizen-perf could not record a Kaizen LLM call: {exc!r}")
        finally:  # after the real cost was counted
            self.reservation.release()

    def _record(self, error: BaseException | None) -> None:
        u, dep = self.usage, getattr(self.client, "_deployment", None)
        model = self.model or getattr(dep, "default_model", None) or "unknown"
        ttft = None if self.first is None or not self.streamed else self.first - self.start
        AGENTS.of(None).record_api_call(
            provider_of(dep), model, u.get("input_tokens", 0), u.get("output_tokens", 0),
            u.get("cache_read_tokens", 0), u.get("cache_write_tokens", 0),
            time.perf_counter() - self.start, None if error is None else type(error).__name__,
            ttft_s=ttft, stop_reason=self.stop, status_code=status_of(error),
            tool_calls=tuple(self.tools.values()))


_CALL: ContextVar[Call | None] = ContextVar("kaizen_perf_kaizen_llm_call", default=None)


def provider_of(deployment: Any) -> str:
    """The provider label: the deployment's preset (``openai``…), else its wire's family."""
    preset = getattr(deployment, "preset_name", None)
    if isinstance(preset, str) and preset:
        return preset
    wire = getattr(getattr(deployment, "wire", None), "name", "")
    return WIRE_PROVIDERS.get(wire, "kaizen")


def status_of(error: BaseException | None) -> int | None:
    """The HTTP status of a Kaizen LLM error (429 for ``RateLimited``), else None."""
    if error is None:
        return None
    if type(error).__name__ == "RateLimited":
        return 429
    status = getattr(error, "status", None)
    return status if type(status) is int else None


def raw_usage(payload: dict[str, Any]) -> dict[str, int] | None:
    """kaizen-perf token fields from a provider's raw response or stream chunk."""
    u = payload.get("usage")
    if not isinstance(u, dict):
        message = payload.get("message")  # Anthropic ``message_start``
        u = message.get("usage") if isinstance(message, dict) else None
    if isinstance(u, dict):
        if "prompt_tokens" in u or "completion_tokens" in u:  # OpenAI and compatible
            details = u.get("prompt_tokens_details")
            details = details if isinstance(details, dict) else {}
            cached = as_int(details.get("cached_tokens"))
            written = as_int(details.get("cache_write_tokens"))
            return {"input_tokens": max(0, as_int(u.get("prompt_tokens")) - cached - written),
                    "output_tokens": as_int(u.get("completion_tokens")),
                    "cache_read_tokens": cached, "cache_write_tokens": written}
        names = (("input_tokens", "input_tokens"), ("output_tokens", "output_tokens"),
                 ("cache_read_input_tokens", "cache_read_tokens"),
                 ("cache_creation_input_tokens", "cache_write_tokens"))  # Anthropic
        return {ours: as_int(u[theirs]) for theirs, ours in names if u.get(theirs) is not None}
    meta = payload.get("usageMetadata")  # Gemini: the prompt count includes cached content
    if isinstance(meta, dict):
        cached = as_int(meta.get("cachedContentTokenCount"))
        return {"input_tokens": max(0, as_int(meta.get("promptTokenCount")) - cached),
                "output_tokens": as_int(meta.get("candidatesTokenCount")),
                "cache_read_tokens": cached}
    if "prompt_eval_count" in payload or "eval_count" in payload:  # Ollama native
        return {"input_tokens": as_int(payload.get("prompt_eval_count")),
                "output_tokens": as_int(payload.get("eval_count"))}
    return None


def wrap_complete(original: Callable[..., Any]) -> Callable[..., Any]:
    """``LlmClient.complete``: one recorded call (a nested call, e.g. from ``stream``, is not)."""
    async def complete(self: Any, messages: Any, *args: Any, **kwargs: Any) -> Any:
        if _CALL.get() is not None:
            return await original(self, messages, *args, **kwargs)
        call = Call(self, kwargs.get("model"), streamed=False)
        call.reserve(messages, kwargs)
        token = _CALL.set(call)
        try:
            result = await original(self, messages, *args, **kwargs)
        except BaseException as exc:
            call.finish(exc)
            raise
        finally:
            _CALL.reset(token)
        call.finish(None)
        return result
    return complete


def wrap_stream(original: Callable[..., Any]) -> Callable[..., Any]:
    """``LlmClient.stream``: recorded when the stream ends, fails or is closed."""
    async def stream(self: Any, messages: Any, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        if _CALL.get() is not None:
            async for chunk in original(self, messages, *args, **kwargs):
                yield chunk
            return
        call = Call(self, kwargs.get("model"), streamed=True)
        call.reserve(messages, kwargs)
        token = _CALL.set(call)
        error: BaseException | None = None
        try:
            async for chunk in original(self, messages, *args, **kwargs):
                yield chunk
        except GeneratorExit:  # the caller stopped reading: not an API error
            raise
        except BaseException as exc:
            error = exc
            raise
        finally:
            with contextlib.suppress(ValueError):  # closed from another context (GC)
                _CALL.reset(token)
            call.finish(error)
    return stream


def wrap_parse(original: Callable[..., Any]) -> Callable[..., Any]:
    """A wire shaper's ``parse_response``: hand the raw payload to the call in flight."""
    def parse_response(payload: Any, *args: Any, **kwargs: Any) -> Any:
        parsed = original(payload, *args, **kwargs)
        call = _CALL.get()
        if call is not None:
            try:
                call.parsed(payload, parsed)
            except Exception as exc:  # never into agent code
                _log("kaizen-usage", f"kaizen-perf could not read Kaizen LLM usage: {exc!r}")
        return parsed
    return parse_response


def wrap_sync_bridge(original: Callable[..., Any]) -> Callable[..., Any]:
    """``LLMAgentNode._run_async_in_sync_context``: carry the caller's context into its thread.

    Inside a running event loop (``MultiCycleStrategy``'s workflow runtime) it runs the
    completion on a new ``threading.Thread`` that starts with an empty context, so
    the agent and the span scope of the caller would be lost (Kaizen copies the
    context on its other thread hops, issue #486, but not on this one). The
    coroutine is wrapped so that it first restores the caller's context variables.
    """
    @functools.wraps(original)
    def bridge(self: Any, coro: Any, *args: Any, **kwargs: Any) -> Any:
        # No running loop (a single-shot ``BaseAgent.run``): Kaizen calls ``asyncio.run``
        # on this thread, whose task starts from this context already. Carrying it there
        # too put a coroutine layer under every resume of the completion and re-set every
        # context variable, for nothing.
        if CURRENT_AGENT.get() is None or asyncio._get_running_loop() is None:
            return original(self, coro, *args, **kwargs)
        context = contextvars.copy_context()

        async def carried() -> Any:
            for var, value in context.items():
                var.set(value)
            return await coro
        return original(self, carried(), *args, **kwargs)
    return bridge


def patch_llm_node(patches: Patches) -> None:
    """Wrap the LLM node's sync bridge and the tool calls it runs itself (native
    ``tool_calls`` of every strategy that runs the node: MCP tools and plain ones)."""
    from kaizen.nodes.ai import llm_agent

    from kaizen_perf.integrations.kaizen._agent import wrap_tool

    node = llm_agent.LLMAgentNode
    patches.wrap(node, "_run_async_in_sync_context", wrap_sync_bridge)
    patches.wrap(node, "_execute_mcp_tool_call", wrap_tool)
    patches.wrap(node, "_execute_regular_tool", wrap_tool)


def patch_llm(patches: Patches) -> None:
    """Wrap ``LlmClient.complete``/``stream`` and every completion shaper's ``parse_response``."""
    from kaizen.llm import client

    patches.wrap(client.LlmClient, "complete", wrap_complete)
    patches.wrap(client.LlmClient, "stream", wrap_stream)
    dispatch = getattr(client, "_COMPLETE_DISPATCH", {})
    for entry in dispatch.values():
        shaper = entry.get("shaper") if isinstance(entry, dict) else None
        if shaper is not None:
            patches.wrap(shaper, "parse_response", wrap_parse)
