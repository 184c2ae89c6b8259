"""A plain Claude Agent SDK program, with no kaizen-perf code, for ``kaizen-perf run``.

``python sdk_program.py WORKDIR RESULT_JSON GO_FILE``: one ``query()`` whose Write is
denied by ``can_use_tool``; the SDK's ResultMessage goes to RESULT_JSON, then the
program waits for GO_FILE so the runner's /metrics can be read while it is alive.
The CLI reaches the server named by ANTHROPIC_BASE_URL in the environment.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import claude_agent_sdk as sdk


async def decide(tool: str, tool_input: dict[str, Any], context: Any) -> Any:
    if tool == "Write":
        return sdk.PermissionResultDeny(message="no writes here")
    return sdk.PermissionResultAllow()


async def prompt() -> AsyncIterator[dict[str, Any]]:
    yield {"type": "user", "message": {"role": "user", "content": "do the five things"}}


async def main(work: str) -> dict[str, Any]:
    options = sdk.ClaudeAgentOptions(cwd=work, can_use_tool=decide)
    out: dict[str, Any] = {"stream_events": 0}
    async for message in sdk.query(prompt=prompt(), options=options):
        if isinstance(message, sdk.StreamEvent):
            out["stream_events"] += 1
        if isinstance(message, sdk.ResultMessage):
            out.update(total_cost_usd=message.total_cost_usd, usage=message.usage,
                       is_error=message.is_error)
    return out


if __name__ == "__main__":
    work, result, go = sys.argv[1:4]
    doc = asyncio.run(main(work))
    with open(result + ".tmp", "w") as fh:
        json.dump(doc, fh)
    os.replace(result + ".tmp", result)
    deadline = time.monotonic() + 60
    while not os.path.exists(go) and time.monotonic() < deadline:
        time.sleep(0.05)
