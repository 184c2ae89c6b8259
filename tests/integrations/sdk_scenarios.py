"""Scenarios for the real ``claude`` CLI of claude-agent-sdk against the scripted server.

The CLI's prices for its default model, claude-opus-5-5, measured against its own
``total_cost_usd``: $4 input, $20 output, $0.20 cache read, $5 cache write per million
tokens. :func:`pricing_file` writes them as a ``KAIZEN_PERF_PRICING_FILE`` override, so
these tests do not depend on which price source knows the model.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tests.integrations.anthropic_sse_server import (
    AnthropicServer,
    Tokens,
    Turn,
    error,
    text,
    tool_use,
)

PRICES = """format_version = 1
as_of = "2026-12-03"
unit = "usd_per_million_tokens"

[models."claude-opus-5-5"]
provider = "anthropic"
input = 4.0
output = 20.0
cache_read = 0.2
cache_write = 5.0
"""

#: each answer's usage; cache reads grow as the conversation is cached
USAGE = (Tokens(1200, 40, 0, 3000), Tokens(60, 35, 3000, 150), Tokens(70, 90, 3150, 220),
         Tokens(50, 45, 3370, 110), Tokens(20, 12, 3480, 60))


def pricing_file(directory: Path) -> Path:
    """The CLI's own rates for claude-opus-5-5 as a pricing override file."""
    path = directory / "prices.toml"
    path.write_text(PRICES)
    return path


def cli_env(server: AnthropicServer, home: Path) -> dict[str, str]:
    """What the CLI needs to run offline against ``server``, with a throwaway HOME."""
    return {"ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": "sk-test-offline",
            "HOME": str(home), "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}


def workdir(directory: Path) -> Path:
    """A working directory with the file the scenarios read."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "notes.txt").write_text("hello notes\n")
    return directory


def five_calls(work: Path) -> list[Turn]:
    """Bash; Read answered first with a 529; Bash and Read in parallel; Write; final text."""
    notes = {"file_path": str(work / "notes.txt")}
    return [
        tool_use(("Bash", {"command": "echo one", "description": "say one"}), usage=USAGE[0]),
        error(529),
        tool_use(("Read", notes), usage=USAGE[1]),
        tool_use(("Bash", {"command": "echo two", "description": "say two"}), ("Read", notes),
                 usage=USAGE[2]),
        tool_use(("Write", {"file_path": str(work / "out.txt"), "content": "x"}),
                 usage=USAGE[3]),
        text("all done", USAGE[4]),
    ]


def failing_tools(work: Path) -> list[Turn]:
    """A command that exits 3, a 500 answer, a Read of a missing file, then a text."""
    return [
        tool_use(("Bash", {"command": "exit 3", "description": "fail"}), usage=USAGE[0]),
        error(500),
        tool_use(("Read", {"file_path": str(work / "missing.txt")}), usage=USAGE[1]),
        text("noted the failures", USAGE[2]),
    ]


HOOK_EVENTS = ("PreToolUse", "PostToolUse", "PostToolUseFailure", "UserPromptSubmit", "Stop",
               "SubagentStop", "PreCompact", "Notification", "SubagentStart",
               "PermissionRequest")


def counting_hooks(fired: Counter[str], first: list[float] | None = None) -> dict[Any, Any]:
    """A user hook on every event the SDK knows, counting the CLI's calls in ``fired``
    (and noting when the first one came in ``first``)."""
    import claude_agent_sdk as sdk

    def make(event: str) -> Any:
        async def hook(data: Any, tool_use_id: str | None, ctx: Any) -> dict[str, Any]:
            fired[event] += 1
            if first is not None and not first:
                first.append(time.perf_counter())
            return {}
        return hook
    return {e: [sdk.HookMatcher(hooks=[make(e)])] for e in HOOK_EVENTS}


async def deny_writes(tool: str, tool_input: dict[str, Any], context: Any) -> Any:
    """``can_use_tool``: every tool but Write is allowed."""
    import claude_agent_sdk as sdk

    if tool == "Write":
        return sdk.PermissionResultDeny(message="no writes here")
    return sdk.PermissionResultAllow()


async def one_prompt(prompt: str) -> AsyncIterator[dict[str, Any]]:
    """A streamed prompt (``can_use_tool`` needs streaming input)."""
    yield {"type": "user", "message": {"role": "user", "content": prompt}}


def cli_path() -> str:
    """The CLI bundled with claude-agent-sdk."""
    import claude_agent_sdk

    return os.path.join(os.path.dirname(claude_agent_sdk.__file__), "_bundled", "claude")
