"""Acceptance: a real Kaizen program with no kaizen-perf code, under ``kaizen-perf run``.

The program (``kaizen_agent.py``) talks to the fake OpenAI server on 127.0.0.1;
/metrics of the runner must equal what the server served and what the program
itself saw, and the child's spans must nest agent loop → LLM call and tool.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from kaizen_perf.cost import PriceTable
from tests.helpers import free_port
from tests.integrations.openai_chat_server import OpenAIChatServer, Turn
from tests.tracing.receiver import otlp_receiver
from tests.unit.metrics_util import value

AGENT = Path(__file__).with_name("kaizen_agent.py")
KP = [sys.executable, "-m", "kaizen_perf"]
MODEL = "gpt-4o-mini"


def _action(tool: str, **params: str) -> str:
    return json.dumps({"thought": "use a tool", "action": "tool_use",
                       "action_input": {"tool_name": tool, "params": params}})


#: calc-agent's four cycles, then summary-agent's one request
TURNS = (Turn(_action("calculator", expression="2+3"), prompt_tokens=120, completion_tokens=14,
              cached_tokens=64),
         Turn(_action("bash", expression="ls"), prompt_tokens=160, completion_tokens=12,
              cached_tokens=128),
         Turn(_action("calculator", expression="5*7"), prompt_tokens=190, completion_tokens=15,
              cached_tokens=128),
         Turn(json.dumps({"answer": "35", "done": True}), prompt_tokens=230, completion_tokens=9),
         Turn(json.dumps({"answer": "35"}), prompt_tokens=90, completion_tokens=6))


@pytest.fixture
def served() -> Iterator[OpenAIChatServer]:
    server = OpenAIChatServer.start(*TURNS)
    yield server
    server.stop()


def _scrape(port: int, done: Path, deadline_s: float = 120.0) -> str:
    """/metrics once the program has written its results and they were forwarded."""
    end, text = time.monotonic() + deadline_s, ""
    while time.monotonic() < end:
        time.sleep(0.2)
        if not done.exists():
            continue
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                text = r.read().decode()
        except OSError:
            continue
        if value(text, "kaizen_interrupts_total", agent="kaizen-program", kind="immediate"):
            return text
    return text


def _cost_usd(turns: tuple[Turn, ...]) -> float:
    """The exact cost of the turns from the pricing table's integer rates (pico-dollars)."""
    price = PriceTable.load(None).lookup(MODEL)
    assert price is not None
    pico = sum(price.cost_pico(t.prompt_tokens - t.cached_tokens, t.completion_tokens,
                               t.cached_tokens) for t in turns)
    return pico / 10**12


def test_kaizen_program_under_run_reports_the_ground_truth(served: OpenAIChatServer,
                                                           tmp_path: Path) -> None:
    """Requests, tokens, exact cost, tools, permissions, approvals, checkpoints, interrupts,
    loop iterations and budget of two real Kaizen agents reach /metrics unchanged."""
    out, go, port = tmp_path / "seen.json", tmp_path / "go", free_port()
    with otlp_receiver() as receiver:
        env = {**os.environ, "KAIZEN_PERF_TRACES": "otlp",
               "KAIZEN_PERF_OTLP_ENDPOINT": receiver.url}
        runner = subprocess.Popen(
            [*KP, "run", "--no-profile", "--agent-id", "kaizen-program", "--metrics-addr",
             f"127.0.0.1:{port}", "--out", str(tmp_path / "run"), "--", sys.executable,
             str(AGENT), served.url, str(out), str(go)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            text = _scrape(port, out)
        finally:
            go.touch()
            _, err = runner.communicate(timeout=60)
        assert runner.returncode == 0, err
        seen = json.loads(out.read_text())
        spans = receiver.spans

    truth, calc = served.truth, {"agent": "calc-agent"}
    assert seen["answer"]["answer"] == "35" and seen["approvals"] == [True, False]
    # LLM requests and tokens: what the server served, per agent
    assert truth.requests == 5 and truth.by_status[200] == 5
    per_agent = {"calc-agent": TURNS[:4], "summary-agent": TURNS[4:]}
    for agent, turns in per_agent.items():
        key = {"agent": agent, "provider": "openai", "model": MODEL}
        assert value(text, "kaizen_api_requests_total", **key, status="ok") == len(turns)
        for kind, n in (("input", sum(t.prompt_tokens - t.cached_tokens for t in turns)),
                        ("output", sum(t.completion_tokens for t in turns)),
                        ("cache_read", sum(t.cached_tokens for t in turns))):
            assert value(text, "kaizen_api_tokens_total", **key, type=kind) == n
        assert value(text, "kaizen_api_cost_usd_total", **key) == _cost_usd(turns)
    assert sum(value(text, "kaizen_api_tokens_total", agent=a, provider="openai", model=MODEL,
                     type="input") for a in per_agent) == truth.input_tokens
    # tools per tool and status; loop iterations with outcome
    assert value(text, "kaizen_tool_calls_total", **calc, tool="calculator", status="ok") == 2
    assert value(text, "kaizen_tool_calls_total", **calc, tool="bash", status="error") == 1
    assert value(text, "kaizen_agent_loop_iterations_total", **calc, status="ok") == 1
    assert value(text, "kaizen_agent_loop_iterations_total", agent="summary-agent",
                 status="ok") == 1
    # permission decisions, a denial with its reason; approvals through the control protocol
    assert value(text, "kaizen_permission_checks_total", **calc, tool="calculator",
                 decision="approved") == 2
    assert value(text, "kaizen_permission_denials_total", **calc, tool="bash",
                 reason="disallowed") == 1
    assert value(text, "kaizen_permission_checks_total", **calc, tool="Write",
                 decision="approved") == 1
    assert value(text, "kaizen_permission_denials_total", **calc, tool="Bash",
                 reason="approval_timeout") == 1
    assert value(text, "kaizen_control_requests_total", **calc, kind="approval",
                 outcome="ok") == 1
    assert value(text, "kaizen_control_requests_total", **calc, kind="approval",
                 outcome="timeout") == 1
    assert value(text, "kaizen_control_request_duration_seconds_count", **calc,
                 kind="approval") == 2
    assert value(text, "kaizen_control_request_duration_seconds_sum", **calc,
                 kind="approval") >= 0.3  # the timeout alone waited 0.3 s
    # checkpoints with their size, interrupts by kind (the duplicate is ignored by Kaizen)
    for op in ("save", "load"):
        assert value(text, "kaizen_checkpoint_operations_total", **calc, op=op,
                     status="ok") == 1
        assert value(text, "kaizen_checkpoint_size_bytes_sum", **calc,
                     op=op) == seen["checkpoint_bytes"]
    assert value(text, "kaizen_interrupts_total", **calc, kind="graceful") == 1
    assert value(text, "kaizen_interrupts_total", **calc, kind="immediate") == 0
    assert value(text, "kaizen_interrupts_total", agent="kaizen-program", kind="immediate") == 1
    # Kaizen's own budget and spend
    assert value(text, "kaizen_budget_usd", **calc) == 2.0
    assert value(text, "kaizen_budget_spent_usd", **calc) == 0.25

    # spans: invoke_agent → chat and execute_tool, per agent
    [loop] = [s for s in spans if s.name == "invoke_agent calc-agent"]
    chats = [s for s in spans if s.name.startswith("chat ") and s.trace_id == loop.trace_id]
    tools = [s for s in spans if s.name.startswith("execute_tool ")
             and s.trace_id == loop.trace_id]
    assert len(chats) == 4 and all(s.parent_id == loop.span_id for s in chats)
    assert len(tools) == 3 and all(s.parent_id == loop.span_id for s in tools)
