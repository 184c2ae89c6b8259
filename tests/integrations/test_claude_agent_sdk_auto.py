"""No code change: the Claude Agent SDK instrumented by ``instrument()`` / ``kaizen-perf run``.

Real bundled ``claude`` CLI, scripted server on 127.0.0.1; the programs use the SDK
only, and what is recorded is compared with the server's truth and the SDK's figures.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import claude_agent_sdk as sdk
import pytest

from kaizen_perf import Monitor
from kaizen_perf.events import ApiCallEvent, HookEvent, PermissionEvent, TaskEvent, ToolEvent
from kaizen_perf.integrations import claude_agent_sdk as kp
from kaizen_perf.testing import capture_events
from tests.helpers import free_port, need
from tests.integrations import sdk_scenarios as sc
from tests.integrations.anthropic_sse_server import (
    AnthropicServer,
    Tokens,
    Truth,
    error,
    text,
    tool_use,
)
from tests.unit.metrics_util import value

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server() -> Iterator[AnthropicServer]:
    need(Path(sc.cli_path()).exists(), "claude-agent-sdk has no bundled claude CLI")
    srv = AnthropicServer.start()
    yield srv
    srv.stop()


def test_a_subagent_and_a_denial_by_rule(server: AnthropicServer, tmp_path: Path) -> None:
    """A Task subagent's calls (seen only with snapshot usage) are completed from model_usage;
    a tool denied by the CLI's rules (reported twice by the CLI) is one denial."""
    work = sc.workdir(tmp_path / "work")
    mon = Monitor("sdk", environ={"KAIZEN_PERF_PRICING_FILE": str(sc.pricing_file(tmp_path))})
    server.reset()
    server.script(tool_use(("Task", {"description": "look", "prompt": "SUBTASK: read notes",
                                     "subagent_type": "general-purpose"}), usage=sc.USAGE[0]),
                  tool_use(("Bash", {"command": "exit 3", "description": "x"}), usage=sc.USAGE[1]),
                  *(text("main goes on", Tokens(30 + i, 9 + i, 3000, 40)) for i in range(4)))
    server.route("SUBTASK", tool_use(("Read", {"file_path": str(work / "notes.txt")}),
                                     usage=Tokens(300, 33, 0, 0)),
                 text("sub done", Tokens(340, 27, 0, 0)))
    results: list[Any] = []
    seen: Counter[str] = Counter()
    fired: Counter[str] = Counter()

    async def body() -> None:
        options = sdk.ClaudeAgentOptions(env=sc.cli_env(server, tmp_path), cwd=str(work),
                                         allowed_tools=["Task", "Agent", "Read"],
                                         hooks=sc.counting_hooks(fired))
        async for m in sdk.query(prompt="delegate", options=options):
            seen[type(m).__name__] += 1
            if isinstance(m, sdk.ResultMessage):
                results.append(m)

    kp.instrument(mon)
    try:
        with capture_events(mon) as events:
            asyncio.run(body())
    finally:
        kp.uninstrument()
        mon.shutdown(2.0)
    truth = server.reset()
    need(any("SUBTASK" in json.dumps(r.body) and r.status == 200 for r in truth.answered
             if "SUBTASK" not in json.dumps([m for m in r.body["messages"]
                                             if m.get("role") == "assistant"])),
         "this CLI ran no Task subagent offline")
    calls = [e for e in events if isinstance(e, ApiCallEvent) and e.error is None]
    result = results[-1]  # the subagent's end may start one more turn: totals are running
    total = Truth(truth.answered).tokens
    assert len(calls) == len(truth.answered)
    assert (sum(c.input_tokens for c in calls), sum(c.output_tokens for c in calls)) == \
        (total.input, total.output)
    assert sum(c.cost_pico for c in calls) / 1e12 == pytest.approx(result.total_cost_usd,
                                                                   rel=0.005)
    assert seen["StreamEvent"] == 0  # asked for by kaizen-perf, kept from the program
    tools = Counter((e.tool, e.error) for e in events if isinstance(e, ToolEvent))
    assert tools == {("Task", None): 1, ("Read", None): 1,  # the subagent's Read too
                     ("Bash", "PermissionDenied"): 1}
    assert [(e.tool, e.decision) for e in events if isinstance(e, PermissionEvent)] == \
        [("Bash", "denied")]
    assert any(r.permission_denials for r in results)  # the second report of the denial
    # the subagent's hooks are hook executions too, one per call of the user's callback
    assert fired["SubagentStart"] == fired["SubagentStop"] == 1
    assert Counter(e.hook for e in events if isinstance(e, HookEvent)) == fired


def test_kaizen_perf_run_records_a_plain_sdk_program(server: AnthropicServer,
                                                     tmp_path: Path) -> None:
    """Under `kaizen-perf run`, an SDK program with no kaizen-perf code is fully accounted."""
    work = sc.workdir(tmp_path / "work")
    server.reset()
    server.script(*sc.five_calls(work))
    port, result, go = free_port(), tmp_path / "result.json", tmp_path / "go"
    env = {**os.environ, **sc.cli_env(server, tmp_path / "home"),
           "KAIZEN_PERF_PRICING_FILE": str(sc.pricing_file(tmp_path))}
    program = Path(__file__).with_name("sdk_program.py")
    runner = subprocess.Popen(
        [sys.executable, "-m", "kaizen_perf", "run", "--no-profile", "--interval", "0.2",
         "--agent-id", "sdk-agent",
         "--metrics-addr", f"127.0.0.1:{port}", "--out", str(tmp_path / "run"), "--",
         sys.executable, str(program), str(work), str(result), str(go)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        metrics = scrape_when_done(port, result, runner)
    finally:
        go.touch()
        out, err = runner.communicate(timeout=60)
    assert runner.returncode == 0, err
    truth, sdk_result = server.reset(), json.loads(result.read_text())
    labels = {"agent": "sdk-agent", "provider": "anthropic", "model": "claude-opus-5-5"}
    total = truth.tokens
    assert value(metrics, "kaizen_api_requests_total", **labels, status="ok") == 5
    assert len(truth.answered) == 5
    for kind, n in (("input", total.input), ("output", total.output),
                    ("cache_read", total.cache_read), ("cache_write", total.cache_write)):
        assert value(metrics, "kaizen_api_tokens_total", **labels, type=kind) == n, kind
    tools = {t: value(metrics, "kaizen_tool_calls_total", agent="sdk-agent", tool=t,
                      status="ok") for t in ("Bash", "Read")}
    assert tools == {"Bash": 2, "Read": 2}
    assert value(metrics, "kaizen_permission_checks_total", agent="sdk-agent", tool="Write",
                 decision="denied") == 1
    assert value(metrics, "kaizen_api_cost_usd_total", **labels) == pytest.approx(
        sdk_result["total_cost_usd"], rel=0.005)
    assert sdk_result["stream_events"] == 0
    # the CLI is a child of the agent: sampled with it, and the summary says it is not Python
    ticks = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text()
             .splitlines()]
    assert max(t["processes"] for t in ticks if t["agent"] == "sdk-agent") >= 2
    # (a tool's command, such as cat, may be listed beside it)
    assert re.search(r"includes (\w+, )*claude(, \w+)*: not (a )?Python process", out), out


def scrape_when_done(port: int, result: Path, runner: subprocess.Popen[str]) -> str:
    """/metrics once the program has its result and the runner has the query's task event."""
    text, deadline = "", time.monotonic() + 90
    while time.monotonic() < deadline and runner.poll() is None:
        time.sleep(0.2)
        if not result.exists():
            continue
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                text = r.read().decode()
        except OSError:
            continue
        if value(text, "kaizen_tasks_total", agent="sdk-agent",
                 task_type="claude_agent_sdk.query", complexity="unknown", status="ok"):
            return text
    return text


def test_a_request_the_cli_gives_up_on_is_every_attempt_failed(server: AnthropicServer,
                                                               tmp_path: Path) -> None:
    """When retries run out, each attempt is an error with its status and no call is answered."""
    mon = Monitor("sdk", environ={})
    server.reset()
    server.script(error(529), error(529))
    env = {**sc.cli_env(server, tmp_path), "CLAUDE_CODE_MAX_RETRIES": "1"}

    async def body() -> None:
        options = sdk.ClaudeAgentOptions(env=env, cwd=str(tmp_path))
        with pytest.raises(Exception, match="529"):  # the SDK raises on the error result
            async for _ in sdk.query(prompt="hello", options=options):
                pass

    kp.instrument(mon)
    try:
        with capture_events(mon) as events:
            asyncio.run(body())
    finally:
        kp.uninstrument()
        mon.shutdown(2.0)
    assert server.reset().errors == [529, 529]
    assert [(e.error, e.status_code) for e in events if isinstance(e, ApiCallEvent)] == \
        [("overloaded", 529), ("server_error", 529)]
    assert [e.error for e in events if isinstance(e, TaskEvent)] == ["error"]


def test_a_model_no_source_prices_gets_the_sdks_cost(server: AnthropicServer,
                                                     tmp_path: Path) -> None:
    """Calls of an unpriced model are recorded at the result with the SDK's cost, marked so."""
    work = sc.workdir(tmp_path / "work")
    mon = Monitor("sdk", environ={})
    assert mon.pricing.lookup("claude-zeta-1", "anthropic") is None
    server.reset()
    server.script(sc.five_calls(work)[0], sc.five_calls(work)[-1])
    results: list[Any] = []

    async def body() -> None:
        options = sdk.ClaudeAgentOptions(env=sc.cli_env(server, tmp_path), cwd=str(work),
                                         model="claude-zeta-1")
        async for m in sdk.query(prompt="hello", options=options):
            if isinstance(m, sdk.ResultMessage):
                results.append(m)

    kp.instrument(mon)
    try:
        with capture_events(mon) as events:
            asyncio.run(body())
    finally:
        kp.uninstrument()
        mon.shutdown(2.0)
    calls = [e for e in events if isinstance(e, ApiCallEvent)]
    assert [(c.model, c.cost_source) for c in calls] == [("claude-zeta-1", "provider")] * 2
    assert sum(c.cost_pico for c in calls) / 1e12 == pytest.approx(results[0].total_cost_usd,
                                                                   rel=0.005)
    assert calls[0].cost_pico > calls[1].cost_pico > 0  # split by each call's tokens
