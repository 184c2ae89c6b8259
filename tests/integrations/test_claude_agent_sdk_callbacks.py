"""Hand-fired Claude Agent SDK callbacks: only what the real CLI cannot be made to show."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from kaizen_perf import Monitor
from kaizen_perf.events import ApiCallEvent, HookEvent
from kaizen_perf.integrations.claude_agent_sdk import SdkObserver
from kaizen_perf.testing import capture_events


@pytest.fixture
def observer() -> Iterator[SdkObserver]:
    mon = Monitor("sdk", environ={})
    yield SdkObserver(mon)
    mon.shutdown(2.0)


def test_a_hook_that_raises_is_a_failed_execution_and_still_raises(observer: SdkObserver,
                                                                   ) -> None:
    """The user's exception reaches the SDK unchanged (it answers the CLI with an error)."""
    async def broken(data: Any, tool_use_id: str | None, ctx: Any) -> dict[str, Any]:
        raise RuntimeError("hook bug")

    hook = observer.wrap_hook("PreToolUse", broken)
    with capture_events(observer.monitor) as events, pytest.raises(RuntimeError, match="bug"):
        asyncio.run(hook({}, "toolu_1", {}))
    assert [(e.hook, e.error) for e in events if isinstance(e, HookEvent)] == \
        [("PreToolUse", "error")]


def test_malformed_cli_messages_are_ignored_without_raising(observer: SdkObserver) -> None:
    """A CLI that changed its wire format costs figures, never the agent."""
    junk: list[Any] = [
        {"type": "stream_event", "event": None},
        {"type": "stream_event", "event": {"type": "message_stop"}},  # no start seen
        {"type": "assistant", "message": {"content": "text, not blocks", "id": None}},
        {"type": "user", "message": {"content": [{"type": "tool_result"}]}},
        {"type": "system", "subtype": "api_retry", "error_status": "x"},
    ]
    with capture_events(observer.monitor) as events:
        for message in junk:
            observer.feed(message)
    assert [(e.error, e.status_code) for e in events if isinstance(e, ApiCallEvent)] == \
        [("api_error", None)]  # a retry with no status is still a failed attempt
