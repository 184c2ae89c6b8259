"""The head-to-head workload on the real Claude Agent SDK, run as its own process.

``python h2h_sdk_driver.py URL PLAN_JSON OUT_JSON``: one ``query()`` of
claude-agent-sdk, which starts its bundled ``claude`` CLI; the CLI talks to the
scripted Anthropic server at URL (``ANTHROPIC_BASE_URL``, the caller's HOME and
``CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC`` come from the environment). Its own
Bash and Read tools run; Write is denied by ``can_use_tool``; a PreToolUse hook is
registered. The CLI retries the scripted 529 itself.

What the program saw goes to OUT_JSON, timestamps in ``time.perf_counter`` seconds
(CLOCK_MONOTONIC: the same clock as the server's, in another process).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import claude_agent_sdk as sdk

SEEN: dict[str, list[Any]] = {"hooks": [], "decisions": [], "retries": []}


def decider(denied: set[str]) -> Any:
    """``can_use_tool``: the denied tools are refused, every other one allowed."""
    async def decide(tool: str, tool_input: dict[str, Any], context: Any) -> Any:
        allowed = tool not in denied
        SEEN["decisions"].append([tool, allowed, time.perf_counter()])
        if allowed:
            return sdk.PermissionResultAllow()
        return sdk.PermissionResultDeny(message=f"Tool '{tool}' is explicitly disallowed")
    return decide


async def pre_tool_hook(data: Any, tool_use_id: str | None, context: Any) -> Any:
    """The user's PreToolUse hook: notes the call and when it ran."""
    SEEN["hooks"].append([data.get("tool_name"), data.get("tool_input"), time.perf_counter()])
    return {}


async def prompt(text: str) -> AsyncIterator[dict[str, Any]]:
    yield {"type": "user", "message": {"role": "user", "content": text}}


async def main(plan: dict[str, Any]) -> dict[str, Any]:
    options = sdk.ClaudeAgentOptions(
        cwd=str(Path.cwd()), can_use_tool=decider(set(plan["denied_tools"])),
        hooks={"PreToolUse": [sdk.HookMatcher(hooks=[pre_tool_hook])]})
    out: dict[str, Any] = {"answer": None, "error": None, "usage": None}
    async for message in sdk.query(prompt=prompt(plan["prompt"]), options=options):
        if isinstance(message, sdk.SystemMessage) and message.subtype == "api_retry":
            SEEN["retries"].append(time.perf_counter())
        elif isinstance(message, sdk.ResultMessage):
            out.update(result_s=time.perf_counter(), answer=message.result,
                       error="result is an error" if message.is_error else None,
                       usage=message.usage)
    return {**out, **SEEN}


if __name__ == "__main__":
    doc = asyncio.run(main(json.loads(sys.argv[2])))
    Path(sys.argv[3]).write_text(json.dumps(doc, default=str))
