"""Loop detection through the Claude Agent SDK adapter, on one real ``claude`` CLI session.

The adapter hands each ``tool_use`` block's ``input`` to ``mon.tool(arguments=...)``. The
scripted model reads one file three times in a row (a loop), then runs Bash three times
with a different command in the middle (no loop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import claude_agent_sdk as sdk
import pytest
from prometheus_client.parser import text_string_to_metric_families

from kaizen_perf import Monitor
from kaizen_perf.events import ToolEvent
from kaizen_perf.integrations import claude_agent_sdk as kp
from kaizen_perf.testing import capture_events
from tests.helpers import need
from tests.integrations import sdk_scenarios as sc
from tests.integrations.anthropic_sse_server import AnthropicServer, text, tool_use

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Outcome:
    """The session's tool events and the monitor's exposition right after it."""

    tools: list[ToolEvent]
    exposition: str


def bash(command: str) -> tuple[str, dict[str, Any]]:
    return "Bash", {"command": command, "description": "run it"}


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    """Read notes.txt x3, Bash echo a / echo b / echo a, then a text answer: one CLI session."""
    need(Path(sc.cli_path()).exists(), "claude-agent-sdk has no bundled claude CLI")
    tmp = tmp_path_factory.mktemp("loops")
    work, home = sc.workdir(tmp / "work"), tmp / "home"
    home.mkdir()
    notes = ("Read", {"file_path": str(work / "notes.txt")})
    usage = sc.USAGE[1]
    server = AnthropicServer.start()
    mon = Monitor("sdk", environ={"KAIZEN_PERF_PRICING_FILE": str(sc.pricing_file(tmp))})
    try:
        server.script(*[tool_use(notes, usage=usage)] * 3,
                      *[tool_use(bash(c), usage=usage) for c in ("echo a", "echo b", "echo a")],
                      text("done", usage))

        async def body() -> None:
            options = sdk.ClaudeAgentOptions(env=sc.cli_env(server, home), cwd=str(work),
                                             can_use_tool=sc.deny_writes)
            observer = kp.instrument_options(options, mon)
            async for _ in observer.watch(sdk.query(prompt=sc.one_prompt("go"),
                                                    options=options)):
                pass

        with capture_events(mon) as events:
            asyncio.run(body())
        yield Outcome([e for e in events if isinstance(e, ToolEvent)], mon.export_metrics())
    finally:
        mon.shutdown(2.0)
        server.stop()


def test_three_identical_reads_are_one_loop_and_varied_bash_none(outcome: Outcome) -> None:
    """kaizen_agent_loops_detected_total counts the three identical Reads once, and not the
    Bash calls whose command changed in the middle."""
    assert [(t.tool, t.error) for t in outcome.tools] == [("Read", None)] * 3 + \
        [("Bash", None)] * 3
    loops = {(s.labels["agent"], s.labels["tool"]): s.value
             for f in text_string_to_metric_families(outcome.exposition) for s in f.samples
             if s.name == "kaizen_agent_loops_detected_total"}
    assert loops == {("sdk", "Read"): 1.0}


def test_the_tool_input_is_digested_not_kept(outcome: Outcome) -> None:
    """Each tool event carries a digest of its input, equal for equal inputs, and not the
    input itself."""
    reads = {t.args_hash for t in outcome.tools if t.tool == "Read"}
    bashes = [t.args_hash for t in outcome.tools if t.tool == "Bash"]
    assert len(reads) == 1 and None not in reads
    assert bashes[0] == bashes[2] != bashes[1]
    assert not any("notes.txt" in repr(t) or "echo" in repr(t) for t in outcome.tools)
