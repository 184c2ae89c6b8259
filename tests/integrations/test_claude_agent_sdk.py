"""The Claude Agent SDK adapter with the real package's types, hooks called as the SDK calls them.

Prices (USD per million tokens, kaizen_perf/data/pricing.toml): claude-haiku-4-5 input 1,
output 5, cache_read 0.1, cache_write 1.25; claude-opus-4-1 input 15, output 75.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from kaizen_perf import Monitor
from kaizen_perf.events import ApiCallEvent, HookEvent, PermissionEvent, TaskEvent, ToolEvent
from kaizen_perf.testing import FakeClock, capture_events

sdk = pytest.importorskip("claude_agent_sdk")
from kaizen_perf.integrations.claude_agent_sdk import (  # noqa: E402
    QueryResult,
    instrument_options,
)

MAIN, SUB = "claude-haiku-4-5-20251001", "claude-opus-4-1"
USAGE = {"input_tokens": 100, "output_tokens": 50, "cache_read_input_tokens": 2000,
         "cache_creation_input_tokens": 400}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fmon(clock: FakeClock) -> Iterator[Monitor]:
    m = Monitor("sdk-agent", clock=clock, environ={})
    yield m
    m.shutdown(2.0)


async def fire(options: Any, event: str, data: dict[str, Any], tool_use_id: str | None) -> None:
    """Call every callback registered for ``event``, as the SDK does."""
    for matcher in options.hooks.get(event, []):
        for callback in matcher.hooks:
            out = await callback({"hook_event_name": event, "session_id": "s1", **data},
                                 tool_use_id, {"signal": None})
            assert isinstance(out, dict)


def assistant(message_id: str, tool_id: str, usage: dict[str, Any] = USAGE) -> Any:
    return sdk.AssistantMessage(
        content=[sdk.ToolUseBlock(id=tool_id, name="Read", input={"path": "a"})],
        model=MAIN, usage=usage, message_id=message_id, session_id="s1")


def result(**kw: Any) -> Any:
    base = {"subtype": "success", "duration_ms": 12_000, "duration_api_ms": 8_000,
            "is_error": False, "num_turns": 3, "session_id": "s1", "total_cost_usd": 0.5,
            "usage": {"input_tokens": 100, "output_tokens": 50}, "model_usage": {}}
    return sdk.ResultMessage(**{**base, **kw})


def test_instrument_options_keeps_user_hooks_and_adds_ours() -> None:
    """The user's own matchers stay first; ours are appended for every event we use."""
    async def mine(data: dict[str, Any], tid: str | None, ctx: Any) -> dict[str, Any]:
        return {}

    options = sdk.ClaudeAgentOptions(hooks={"PreToolUse": [sdk.HookMatcher("Bash", [mine])]})
    instrument_options(options, Monitor("a", environ={}, enabled=False))
    assert options.hooks["PreToolUse"][0].hooks == [mine]
    assert len(options.hooks["PreToolUse"]) == 2
    assert {"PostToolUse", "PostToolUseFailure", "PermissionRequest", "PreCompact",
            "SubagentStart", "SubagentStop", "Stop"} <= set(options.hooks)


def test_parallel_tools_are_timed_by_tool_use_id(fmon: Monitor, clock: FakeClock) -> None:
    """Interleaved Pre/Post hooks of parallel tools give each tool its own duration and status."""
    options = sdk.ClaudeAgentOptions()
    instrument_options(options, fmon)

    async def run() -> None:
        await fire(options, "PreToolUse", {"tool_name": "Read", "tool_input": {}}, "t1")
        clock.advance(0.5)
        await fire(options, "PreToolUse", {"tool_name": "Bash", "tool_input": {}}, "t2")
        clock.advance(1.0)
        await fire(options, "PostToolUseFailure", {"tool_name": "Bash", "error": "exit 1"}, "t2")
        clock.advance(0.25)
        await fire(options, "PostToolUse", {"tool_name": "Read", "tool_response": {}}, "t1")

    with capture_events(fmon) as events:
        asyncio.run(run())
    tools = {e.tool: e for e in events if isinstance(e, ToolEvent)}
    assert (tools["Read"].end_ns - tools["Read"].start_ns) / 1e9 == pytest.approx(1.75)
    assert (tools["Bash"].end_ns - tools["Bash"].start_ns) / 1e9 == pytest.approx(1.0)
    assert (tools["Read"].error, tools["Bash"].error) == (None, "ToolUseFailure")
    assert tools["Bash"].parent_id != tools["Read"].span_id  # parallel, not nested


def test_lifecycle_hooks_are_counted(fmon: Monitor) -> None:
    """Compactions, subagent starts/stops and stops are counted as hook executions."""
    options = sdk.ClaudeAgentOptions()
    instrument_options(options, fmon)

    async def run() -> None:
        await fire(options, "PreCompact", {"trigger": "auto", "custom_instructions": None}, None)
        await fire(options, "SubagentStart", {"agent_id": "a1", "agent_type": "explorer"}, None)
        await fire(options, "SubagentStop", {"agent_id": "a1", "agent_type": "explorer",
                                             "stop_hook_active": False}, None)
        await fire(options, "Stop", {"stop_hook_active": False}, None)

    with capture_events(fmon) as events:
        asyncio.run(run())
    assert [e.hook for e in events if isinstance(e, HookEvent)] == \
        ["PreCompact", "SubagentStart", "SubagentStop", "Stop"]


def test_can_use_tool_decisions_are_recorded(fmon: Monitor) -> None:
    """A wrapped can_use_tool records approved and denied decisions and returns them unchanged."""
    async def decide(tool: str, tool_input: dict[str, Any], ctx: Any) -> Any:
        if tool == "Bash":
            return sdk.PermissionResultDeny(message="no shell")
        return sdk.PermissionResultAllow()

    options = sdk.ClaudeAgentOptions(can_use_tool=decide)
    instrument_options(options, fmon)

    async def run() -> list[Any]:
        ctx = sdk.ToolPermissionContext()
        return [await options.can_use_tool("Read", {}, ctx),
                await options.can_use_tool("Bash", {}, ctx)]

    with capture_events(fmon) as events:
        answers = asyncio.run(run())
    assert [a.behavior for a in answers] == ["allow", "deny"]
    assert [(e.tool, e.decision, e.reason) for e in events if isinstance(e, PermissionEvent)] \
        == [("Read", "approved", None), ("Bash", "denied", "no shell")]


def test_parallel_tool_calls_repeating_a_message_id_are_counted_once(fmon: Monitor) -> None:
    """Two AssistantMessages with one message_id (parallel tool calls) make one API record."""
    observer = instrument_options(sdk.ClaudeAgentOptions(), fmon)
    with capture_events(fmon) as events:
        observer.observe(assistant("msg_1", "t1"))
        observer.observe(assistant("msg_1", "t2"))
        observer.observe(assistant("msg_2", "t3"))
    api = [e for e in events if isinstance(e, ApiCallEvent)]
    assert [(e.model, e.input_tokens, e.output_tokens, e.cache_read_tokens,
             e.cache_write_tokens) for e in api] == [(MAIN, 100, 50, 2000, 400)] * 2
    # (100·1 + 50·5 + 2000·0.1 + 400·1.25) / 10⁶ = $0.00105 each
    assert [e.cost_pico / 1e12 for e in api] == [pytest.approx(0.00105)] * 2


def test_result_counts_subagents_through_model_usage_and_budget_stop(fmon: Monitor) -> None:
    """model_usage beyond the messages seen (subagents) is recorded once; budget stops reported."""
    results: list[QueryResult] = []
    observer = instrument_options(sdk.ClaudeAgentOptions(), fmon, on_result=results.append)
    model_usage = {
        MAIN: {"inputTokens": 300, "outputTokens": 80, "cacheReadInputTokens": 2000,
               "cacheCreationInputTokens": 400, "costUSD": 0.01},
        SUB: {"inputTokens": 1000, "outputTokens": 100, "cacheReadInputTokens": 0,
              "cacheCreationInputTokens": 0, "costUSD": 0.0225},
    }

    async def messages() -> AsyncIterator[Any]:
        yield assistant("msg_1", "t1")
        yield assistant("msg_1", "t2")
        yield result(subtype="error_max_budget_usd", is_error=True, model_usage=model_usage,
                     permission_denials=[{"tool_name": "Bash", "tool_use_id": "t9",
                                          "tool_input": {}}])

    async def run() -> list[Any]:
        return [m async for m in observer.watch(messages())]

    with capture_events(fmon) as events:
        seen = asyncio.run(run())
    assert len(seen) == 3
    api = [(e.model, e.input_tokens, e.output_tokens) for e in events
           if isinstance(e, ApiCallEvent)]
    assert api == [(MAIN, 100, 50), (MAIN, 200, 30), (SUB, 1000, 100)]
    (task,) = [e for e in events if isinstance(e, TaskEvent)]
    assert (task.task_type, task.duration_s, task.error) == \
        ("claude_agent_sdk.query", 12.0, "error")
    assert [(e.tool, e.decision) for e in events if isinstance(e, PermissionEvent)] == \
        [("Bash", "denied")]
    (res,) = results
    assert res.budget_exceeded and res.num_turns == 3 and res.sdk_cost_usd == 0.5
    # ours: main (300·1 + 80·5 + 2000·0.1 + 400·1.25) + sub (1000·15 + 100·75) per 10⁶
    assert res.cost_usd == pytest.approx((300 + 400 + 200 + 500 + 15000 + 7500) / 1e6)
    assert res.model_usage[SUB].input_tokens == 1000
