"""The SDK's parsed messages back in the CLI's wire shape, as far as the observer reads it.

``query()`` and ``ClaudeSDKClient`` hand the user dataclasses; the observer reads the
CLI's JSON. System messages keep their JSON in ``data``; the rest is rebuilt from the
few fields the accounting uses.
"""

from __future__ import annotations

from typing import Any


def to_raw(message: Any) -> dict[str, Any] | None:
    """The wire form of one parsed SDK message (None for a type the observer ignores)."""
    kind = type(message).__name__
    build = _BUILDERS.get(kind)
    if build is not None:
        return build(message)
    data = getattr(message, "data", None)  # SystemMessage and its subclasses
    return data if isinstance(data, dict) and data.get("type") == "system" else None


def _stream(m: Any) -> dict[str, Any]:
    return {"type": "stream_event", "event": m.event, "session_id": m.session_id,
            "parent_tool_use_id": m.parent_tool_use_id}


def _assistant(m: Any) -> dict[str, Any]:
    blocks = [{"type": "tool_use", "id": b.id, "name": b.name, "input": b.input}
              for b in m.content if type(b).__name__ == "ToolUseBlock"]
    return {"type": "assistant", "session_id": m.session_id, "error": m.error,
            "parent_tool_use_id": m.parent_tool_use_id,
            "message": {"id": m.message_id, "model": m.model, "usage": m.usage,
                        "content": blocks}}


def _user(m: Any) -> dict[str, Any]:
    content = m.content if isinstance(m.content, list) else []
    blocks = [{"type": "tool_result", "tool_use_id": b.tool_use_id, "is_error": b.is_error}
              for b in content if type(b).__name__ == "ToolResultBlock"]
    return {"type": "user", "parent_tool_use_id": m.parent_tool_use_id,
            "message": {"content": blocks}}


def _result(m: Any) -> dict[str, Any]:
    return {"type": "result", "subtype": m.subtype, "duration_ms": m.duration_ms,
            "duration_api_ms": m.duration_api_ms, "is_error": m.is_error,
            "num_turns": m.num_turns, "session_id": m.session_id,
            "total_cost_usd": m.total_cost_usd, "usage": m.usage,
            "modelUsage": m.model_usage, "permission_denials": m.permission_denials}


_BUILDERS = {"StreamEvent": _stream, "AssistantMessage": _assistant, "UserMessage": _user,
             "ResultMessage": _result}
