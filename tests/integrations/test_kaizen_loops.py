"""Loop detection on real Kaizen agents: the integration hands each tool call's input to
``mon.tool(arguments=...)``, so an agent calling one tool with the same input N times in a
row is reported in ``kaizen_agent_loops_detected_total{agent,tool}``.

Real ``BaseAgent``s talk to the fake OpenAI server on 127.0.0.1 (``kaizen_loopback``).
"""

from __future__ import annotations

import json

from kaizen.core.base_agent import BaseAgent
from kaizen.strategies.multi_cycle import MultiCycleStrategy
from prometheus_client.parser import text_string_to_metric_families

from kaizen_perf import Monitor
from kaizen_perf.events import ApiCallEvent, ToolEvent
from kaizen_perf.integrations.kaizen._agent import tool_arguments
from kaizen_perf.loops import args_digest
from kaizen_perf.testing import InMemorySink
from tests.integrations.openai_chat_server import OpenAIChatServer, Turn
from tests.integrations.test_kaizen import CalcAgent, Question, action, config, quiet_run


def metric(mon: Monitor, name: str) -> dict[tuple[str, str], float]:
    """A counter's samples by (agent, tool), read from the monitor's exposition."""
    found: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(mon.export_metrics()):
        for s in family.samples:
            if s.name == name:
                found[(s.labels["agent"], s.labels["tool"])] = s.value
    return found


def loops(mon: Monitor) -> dict[tuple[str, str], float]:
    """``kaizen_agent_loops_detected_total`` by (agent, tool)."""
    return metric(mon, "kaizen_agent_loops_detected_total")


def run_calculator(llm: OpenAIChatServer, agent_id: str, *expressions: str) -> None:
    """A MultiCycleStrategy agent that calls its calculator once per expression, then answers."""
    llm.script(*[Turn(action("calculator", expression=e), prompt_tokens=50, completion_tokens=5)
                 for e in expressions],
               Turn(json.dumps({"answer": "42", "done": True}), prompt_tokens=60,
                    completion_tokens=4))
    agent = CalcAgent(config=config(llm), signature=Question(), mcp_servers=[],
                      strategy=MultiCycleStrategy(max_cycles=len(expressions) + 2),
                      agent_id=agent_id)
    assert quiet_run(agent, question="6*7?")["answer"] == "42"


def test_the_same_tool_call_three_times_is_one_loop(
        kmon: Monitor, sink: InMemorySink, llm: OpenAIChatServer) -> None:
    """MultiCycleStrategy's execute_tool(name, params) with the same params three times in a
    row counts one loop for the agent and tool, costing the LLM calls made between the
    repeats; the params appear in no event."""
    run_calculator(llm, "stuck", "6*7", "6*7", "6*7")
    assert loops(kmon) == {("stuck", "calculator"): 1.0}
    tools = sink.of(ToolEvent)
    assert [t.tool for t in tools] == ["calculator"] * 3
    assert all(t.args_hash is not None and "6*7" not in repr(t) for t in tools)
    inside = [c.cost_pico for c in sink.of(ApiCallEvent)
              if tools[0].start_ns <= c.end_ns <= tools[-1].end_ns]
    assert len(inside) == 2 and all(cost > 0 for cost in inside)
    assert metric(kmon, "kaizen_agent_loop_cost_usd_total") == {
        ("stuck", "calculator"): sum(inside) / 10**12}


def test_different_arguments_are_not_a_loop(
        kmon: Monitor, llm: OpenAIChatServer) -> None:
    """Three calls of one tool whose params differ are no loop."""
    run_calculator(llm, "busy", "6*7", "6*8", "6*7")
    assert loops(kmon) == {}


def test_native_tool_calls_with_the_same_arguments_are_a_loop(
        kmon: Monitor, sink: InMemorySink, llm: OpenAIChatServer) -> None:
    """The tool calls Kaizen's LLMAgentNode runs itself (OpenAI tool_calls with JSON
    arguments) repeated with the same arguments count one loop; different arguments do not."""
    for agent_id, queries in (("native", ["x", "x", "x"]), ("varied", ["x", "y", "x"])):
        llm.script(*[Turn(tool="lookup", arguments={"q": q}, prompt_tokens=20,
                          completion_tokens=4) for q in queries],
                   Turn(json.dumps({"answer": "42"}), prompt_tokens=30, completion_tokens=3))
        agent = BaseAgent(config=config(llm), signature=Question(), agent_id=agent_id,
                          mcp_servers=[])
        quiet_run(agent, question="look it up")
    kmon.flush()
    calls = [(t.agent, t.tool) for t in sink.of(ToolEvent)]
    assert calls == [("native", "lookup")] * 3 + [("varied", "lookup")] * 3
    assert loops(kmon) == {("native", "lookup"): 1.0}


def test_parsed_and_json_arguments_of_one_call_digest_alike() -> None:
    """A tool call's JSON arguments (any spacing) digest as the params dict a strategy passes,
    so repeats match whichever way Kaizen hands the call over."""
    params = {"expression": "6*7", "n": 2}
    as_params = tool_arguments("calculator", (params,), {})
    as_kwargs = tool_arguments("calculator", (), {"params": params})
    compact = {"id": "c1", "function": {"name": "calculator",
                                        "arguments": json.dumps(params, separators=(",", ":"))}}
    spaced = {"id": "c2", "function": {"name": "calculator",
                                       "arguments": json.dumps(params, indent=2)}}
    digests = {args_digest(a) for a in (as_params, as_kwargs, tool_arguments(compact, (), {}),
                                         tool_arguments(spaced, (), {}))}
    assert len(digests) == 1 and None not in digests
    other = {"function": {"name": "calculator", "arguments": '{"expression": "6*8", "n": 2}'}}
    assert args_digest(tool_arguments(other, (), {})) not in digests
    assert tool_arguments({"function": {"arguments": "{not json"}}, (), {}) == "{not json"
    assert tool_arguments(object(), (), {}) is None
