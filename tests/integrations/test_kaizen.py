"""Real kailash-kaizen agents, observed in-process by ``kaizen_perf.integrations.kaizen``.

Every agent here is a real Kaizen ``BaseAgent`` talking to the fake OpenAI server on
127.0.0.1 (through the loopback exception of ``kaizen_loopback``); the tests compare
what kaizen-perf recorded with what the server served and the test did.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import warnings
from pathlib import Path
from typing import Any

import anyio
import pytest
from kaizen.core.autonomy.control.protocol import ControlProtocol
from kaizen.core.autonomy.control.transports.memory import InMemoryTransport
from kaizen.core.autonomy.control.types import ControlRequest, ControlResponse
from kaizen.core.autonomy.hooks.types import HookEvent, HookResult
from kaizen.core.autonomy.interrupts.manager import InterruptManager
from kaizen.core.autonomy.interrupts.types import InterruptMode, InterruptSource
from kaizen.core.autonomy.permissions.context import ExecutionContext
from kaizen.core.autonomy.permissions.policy import PermissionPolicy
from kaizen.core.autonomy.permissions.types import PermissionMode, PermissionRule, PermissionType
from kaizen.core.autonomy.state.manager import StateManager
from kaizen.core.autonomy.state.storage import FilesystemStorage
from kaizen.core.autonomy.state.types import AgentState
from kaizen.core.base_agent import BaseAgent
from kaizen.core.config import BaseAgentConfig
from kaizen.llm.client import LlmClient
from kaizen.llm.deployment_resolver import resolve_deployment_for
from kaizen.signatures import InputField, OutputField, Signature
from kaizen.strategies.multi_cycle import MultiCycleStrategy
from kaizen.tools.types import ToolResult

from kaizen_perf import Monitor
from kaizen_perf.events import (
    ApiCallEvent,
    BudgetSample,
    CheckpointEvent,
    ControlEvent,
    InterruptEvent,
    LoopEvent,
    PermissionEvent,
    ToolEvent,
)
from kaizen_perf.events import (
    HookEvent as KpHookEvent,
)
from kaizen_perf.integrations.kaizen import instrument, is_instrumented, uninstrument
from kaizen_perf.testing import InMemorySink
from tests.integrations.kaizen_loopback import local_url
from tests.integrations.llm_server import LLMServer, Reply
from tests.integrations.openai_chat_server import OpenAIChatServer, Turn

MODEL = "gpt-4o-mini"


class Question(Signature):
    """Answer a question."""

    question: str = InputField(desc="Question")
    answer: str = OutputField(desc="Answer")


class CalcAgent(BaseAgent):
    """A calculator tool behind the agent's permission policy (MultiCycleStrategy's JSON tools)."""

    async def execute_tool(self, tool_name: str, params: dict[str, Any],
                           timeout: float | None = None) -> ToolResult:
        allowed, reason = self.permission_policy.check_permission(tool_name, params)
        if allowed is False:
            return ToolResult(tool_name=tool_name, success=False, error=reason)
        return ToolResult(tool_name=tool_name, success=True,
                          result=eval(params["expression"], {"__builtins__": {}}))


def action(tool: str, **params: str) -> str:
    return json.dumps({"action": "tool_use", "action_input": {"tool_name": tool,
                                                               "params": params}})


def config(server: OpenAIChatServer | LLMServer, **kw: Any) -> BaseAgentConfig:
    return BaseAgentConfig(llm_provider="openai", model=MODEL, base_url=local_url(server.url),
                           api_key="sk-test", **kw)


def calc_agent(server: OpenAIChatServer, agent_id: str = "calc", **kw: Any) -> CalcAgent:
    return CalcAgent(config=config(server, **kw), signature=Question(), mcp_servers=[],
                     strategy=MultiCycleStrategy(max_cycles=4), agent_id=agent_id)


def quiet_run(agent: BaseAgent, **inputs: Any) -> Any:
    # MultiCycleStrategy prints every step; Kaizen 2.46 warns about its own extension points
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return agent.run(**inputs)


def events(mon: Monitor, sink: InMemorySink, kind: type[Any]) -> list[Any]:
    mon.flush()
    return sink.of(kind)


def test_multi_cycle_tools_llm_calls_and_loop_share_one_trace(
        kmon: Monitor, sink: InMemorySink, llm: OpenAIChatServer) -> None:
    """MultiCycleStrategy's JSON tools, its LLM calls (raw usage with cache tokens) and the run
    are recorded for agent_id, and the tool and chat spans are children of the run's."""
    llm.script(Turn(action("calculator", expression="6*7"), prompt_tokens=80,
                    completion_tokens=9, cached_tokens=32),
               Turn(action("bash", expression="ls"), prompt_tokens=90, completion_tokens=7),
               Turn(json.dumps({"answer": "42", "done": True}), prompt_tokens=99,
                    completion_tokens=5, cached_tokens=64))
    agent = calc_agent(llm, denied_tools={"bash"})
    assert quiet_run(agent, question="6*7?")["answer"] == "42"

    [loop] = events(kmon, sink, LoopEvent)
    tools, calls = sink.of(ToolEvent), sink.of(ApiCallEvent)
    assert (loop.agent, loop.error) == ("calc", None)
    assert [(t.agent, t.tool, t.error) for t in tools] == [
        ("calc", "calculator", None), ("calc", "bash", "ToolError")]
    assert len(calls) == llm.truth.requests == 3
    assert sum(c.input_tokens for c in calls) == llm.truth.input_tokens
    assert sum(c.cache_read_tokens for c in calls) == llm.truth.cache_read_tokens == 96
    assert sum(c.output_tokens for c in calls) == llm.truth.output_tokens
    assert all(c.provider == "openai" and c.model == MODEL and c.cost_pico > 0 for c in calls)
    for child in [*tools, *calls]:
        assert (child.trace_id, child.parent_id) == (loop.trace_id, loop.span_id)
    assert [(p.tool, p.decision, p.reason) for p in sink.of(PermissionEvent)] == [
        ("calculator", "approved", None), ("bash", "denied", "disallowed")]


def test_single_shot_native_tool_calls_are_tools_too(
        kmon: Monitor, sink: InMemorySink, llm: OpenAIChatServer) -> None:
    """The default strategy's native tool calls, which Kaizen's LLMAgentNode runs itself, are
    tools of the agent under the run's span, and so are its LLM calls (run by Kaizen's
    ``asyncio.run`` on the agent's thread, which inherits the run's context)."""
    llm.script(Turn(tool="lookup", arguments={"q": "x"}, prompt_tokens=20, completion_tokens=4),
               Turn(json.dumps({"answer": "42"}), prompt_tokens=30, completion_tokens=3))
    agent = BaseAgent(config=config(llm), signature=Question(), agent_id="single", mcp_servers=[])
    quiet_run(agent, question="look it up")
    [tool] = events(kmon, sink, ToolEvent)
    [loop] = sink.of(LoopEvent)
    assert (tool.agent, tool.tool, tool.error) == ("single", "lookup", None)
    assert (tool.trace_id, tool.parent_id) == (loop.trace_id, loop.span_id)
    calls = sink.of(ApiCallEvent)
    assert len(calls) == llm.truth.requests == 2
    assert [(c.agent, c.trace_id, c.parent_id) for c in calls] == \
        [("single", loop.trace_id, loop.span_id)] * 2


def test_a_delegating_tool_call_is_counted_once_with_its_error(
        kmon: Monitor, sink: InMemorySink, llm: OpenAIChatServer) -> None:
    """BaseAgent.execute_tool delegates to execute_mcp_tool: one tool call, whose exception
    (no such MCP server) makes it an error."""
    agent = BaseAgent(config=config(llm), signature=Question(), agent_id="mcp", mcp_servers=[])
    with pytest.raises(ValueError, match="not found"):
        asyncio.run(agent.execute_tool("mcp__elsewhere__search", {"q": "x"}))
    [tool] = events(kmon, sink, ToolEvent)
    assert (tool.agent, tool.tool, tool.error) == ("mcp", "mcp__elsewhere__search", "ValueError")


@pytest.mark.parametrize("status", [429, 500])
def test_a_failed_llm_call_has_its_status_and_fails_the_run(
        kmon: Monitor, sink: InMemorySink, llm: OpenAIChatServer, status: int) -> None:
    """An HTTP error is an errored request with its status code; Kaizen's error result makes
    the loop iteration an error."""
    llm.script(Turn.error(status))
    agent = BaseAgent(config=config(llm), signature=Question(), mcp_servers=[], agent_id="flaky")
    result = quiet_run(agent, question="?")
    [call] = events(kmon, sink, ApiCallEvent)
    [loop] = sink.of(LoopEvent)
    assert result["success"] is False and loop.error == result["type"]
    assert (call.status_code, call.error) == (status, "RateLimited" if status == 429
                                               else "ProviderError")
    assert llm.truth.by_status[status] == 1


def test_streamed_completion_has_tokens_and_time_to_first_token(
        kmon: Monitor, sink: InMemorySink, llm: OpenAIChatServer) -> None:
    """LlmClient.stream: usage from the last chunk (cache tokens kept) and a TTFT within the
    call's duration."""
    llm.script(Turn("streamed", prompt_tokens=70, completion_tokens=11, cached_tokens=30))
    deployment = resolve_deployment_for("openai", MODEL, api_key="sk-test",
                                        base_url=local_url(llm.url))

    async def consume() -> list[Any]:
        client = LlmClient.from_deployment(deployment)
        return [c async for c in client.stream([{"role": "user", "content": "hi"}], model=MODEL)]

    assert asyncio.run(consume())[0]["text"] == "streamed"
    [call] = events(kmon, sink, ApiCallEvent)
    assert llm.truth.streamed == 1
    assert (call.input_tokens, call.cache_read_tokens, call.output_tokens) == (40, 30, 11)
    assert call.ttft_s is not None and 0 < call.ttft_s <= call.duration_s


def test_anthropic_and_ollama_wires_report_their_own_usage(
        kmon: Monitor, sink: InMemorySink, llm: OpenAIChatServer) -> None:
    """Kaizen's other offline-capable wires: Anthropic cache reads and writes, Ollama's counts."""
    anthropic = LLMServer.start()
    try:
        anthropic.script(Reply(200, {
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
            "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 10, "output_tokens": 3, "cache_read_input_tokens": 100,
                      "cache_creation_input_tokens": 7}}))
        llm.script(Turn("local", prompt_tokens=12, completion_tokens=4, model="llama3"))

        async def ask(provider: str, url: str, model: str) -> None:
            deployment = resolve_deployment_for(provider, model, api_key="sk-test",
                                                base_url=local_url(url))
            client = LlmClient.from_deployment(deployment)
            await client.complete([{"role": "user", "content": "hi"}], model=model, max_tokens=9)

        asyncio.run(ask("anthropic", anthropic.url, "claude-haiku-4-5"))
        asyncio.run(ask("ollama", llm.url, "llama3"))
    finally:
        anthropic.stop()
    claude, local = events(kmon, sink, ApiCallEvent)
    assert (claude.provider, claude.input_tokens, claude.output_tokens, claude.cache_read_tokens,
            claude.cache_write_tokens) == ("anthropic", 10, 3, 100, 7)
    assert claude.cost_pico > 0 and claude.stop_reason == "end_turn"
    assert (local.provider, local.model, local.input_tokens, local.output_tokens) == (
        "ollama", "llama3", 12, 4)


@pytest.mark.parametrize(("provider", "cached"), [
    ("perplexity", 20), ("azure_openai", 20), ("azure_ai_foundry", 20), ("huggingface", 20),
    ("google", 20), ("cohere", 0)])
def test_every_offline_provider_reports_its_usage(
        kmon: Monitor, sink: InMemorySink, llm: OpenAIChatServer, provider: str,
        cached: int) -> None:
    """Each other provider Kaizen resolves from a key and a base_url: one request labelled with
    its preset, tokens from its own wire's usage (cache reads where the wire reports them)."""
    llm.script(Turn("hi", prompt_tokens=50, completion_tokens=5, cached_tokens=cached,
                    model="m1"))
    deployment = resolve_deployment_for(provider, "m1", api_key="sk-test",
                                        base_url=local_url(llm.url))

    async def ask() -> Any:
        client = LlmClient.from_deployment(deployment)
        return await client.complete([{"role": "user", "content": "hi"}], model="m1",
                                     max_tokens=9)

    assert asyncio.run(ask())["text"] == "hi"
    [call] = events(kmon, sink, ApiCallEvent)
    assert llm.truth.requests == 1
    assert (call.provider, call.input_tokens, call.output_tokens, call.cache_read_tokens) == (
        provider, 50 - cached, 5, cached)


def test_denials_carry_bounded_reasons(kmon: Monitor, sink: InMemorySink) -> None:
    """Each of Kaizen's denial layers maps to one reason label, whatever amounts it mentions."""
    rule = PermissionRule(pattern="rm_.*", permission_type=PermissionType.DENY,
                          reason="destructive", priority=5)
    cases = [(ExecutionContext(budget_limit=1.0), "Read", 5.0, "budget_exceeded"),
             (ExecutionContext(mode=PermissionMode.PLAN), "Write", 0.0, "plan_mode"),
             (ExecutionContext(denied_tools={"bash"}), "bash", 0.0, "disallowed"),
             (ExecutionContext(rules=[rule]), "rm_all", 0.0, "rule:rm_.*")]
    for ctx, tool, cost, _ in cases:
        decision, _reason = PermissionPolicy(ctx).check_permission(tool, {}, cost)
        assert decision is False
    asked = PermissionPolicy(ExecutionContext()).check_permission("Bash", {})
    assert asked == (None, None)  # "ask the user": no decision yet
    got = [(e.tool, e.decision, e.reason) for e in events(kmon, sink, PermissionEvent)]
    assert got == [(tool, "denied", reason) for _, tool, _, reason in cases]


async def _approvals(agent: BaseAgent, transport: InMemoryTransport,
                     protocol: ControlProtocol) -> list[bool]:
    async def user() -> None:
        assert transport.write_receive is not None and transport.read_send is not None
        async for message in transport.write_receive:
            request = ControlRequest.from_json(message)
            tool = request.data["tool_name"]
            if tool == "Write":
                answer = ControlResponse(request.request_id, data={"approved": True})
            elif tool == "Edit":
                answer = ControlResponse(request.request_id, error="user closed the dialog")
            else:
                continue  # never answered: a timeout
            await transport.read_send.send(answer.to_json())

    async with anyio.create_task_group() as tg:
        await protocol.start(tg)
        tg.start_soon(user)
        manager, ctx = agent.approval_manager, agent.execution_context
        assert manager is not None
        out = [await manager.request_approval(tool, {}, ctx, timeout=timeout)
               for tool, timeout in (("Write", 10.0), ("Edit", 10.0), ("Bash", 0.2))]
        tg.cancel_scope.cancel()
    await protocol.stop()
    return out


def test_approvals_are_control_requests_and_permission_decisions(
        kmon: Monitor, sink: InMemorySink, llm: OpenAIChatServer) -> None:
    """ToolApprovalManager over a real ControlProtocol: outcome ok/error/timeout with latency,
    and the user's decision with the reason for each denial."""
    transport = InMemoryTransport()
    protocol = ControlProtocol(transport)
    agent = BaseAgent(config=config(llm), signature=Question(), mcp_servers=[],
                      agent_id="asker", control_protocol=protocol)
    assert asyncio.run(_approvals(agent, transport, protocol)) == [True, False, False]
    controls = events(kmon, sink, ControlEvent)
    assert [(c.agent, c.kind, c.outcome) for c in controls] == [
        ("asker", "approval", "ok"), ("asker", "approval", "error"),
        ("asker", "approval", "timeout")]
    assert controls[2].duration_s >= 0.2
    assert [(p.tool, p.decision, p.reason) for p in sink.of(PermissionEvent)] == [
        ("Write", "approved", None), ("Edit", "denied", "approval_error"),
        ("Bash", "denied", "approval_timeout")]


def test_checkpoints_have_size_duration_and_failures(kmon: Monitor, sink: InMemorySink,
                                                     tmp_path: Path) -> None:
    """StateManager save, load and resume are checkpoint operations with the file's size; a
    missing checkpoint is a failed load; a resume that finds nothing is no load."""
    states = StateManager(storage=FilesystemStorage(tmp_path))
    state = AgentState(agent_id="saver", step_number=3, conversation_history=[{"x": "y" * 500}])
    checkpoint = asyncio.run(states.save_checkpoint(state))
    asyncio.run(states.load_checkpoint(checkpoint))
    asyncio.run(states.resume_from_latest("saver"))
    assert asyncio.run(states.resume_from_latest("nobody")) is None
    with pytest.raises(FileNotFoundError):
        asyncio.run(states.load_checkpoint("ckpt_missing"))
    size = next(tmp_path.glob(f"{checkpoint}*")).stat().st_size
    got = [(e.agent, e.op, e.size_bytes, e.error) for e in events(kmon, sink, CheckpointEvent)]
    assert got == [("saver", "save", size, None), ("saver", "load", size, None),
                   ("saver", "load", size, None), ("process", "load", 0, "FileNotFoundError")]


def test_an_interrupt_is_counted_once_by_mode(kmon: Monitor, sink: InMemorySink) -> None:
    """Only the interrupt Kaizen accepts is counted (a second request is ignored by Kaizen)."""
    manager = InterruptManager()
    manager.request_interrupt(InterruptMode.IMMEDIATE, InterruptSource.BUDGET, "over budget")
    manager.request_interrupt(InterruptMode.GRACEFUL, InterruptSource.USER, "ignored")
    assert [(e.agent, e.kind) for e in events(kmon, sink, InterruptEvent)] == [
        ("process", "immediate")]


def test_hook_handlers_are_timed_per_event(kmon: Monitor, sink: InMemorySink,
                                           llm: OpenAIChatServer) -> None:
    """Kaizen's own hook handlers: one hook_executed per event and handler, with success."""
    async def audit(context: Any) -> HookResult:
        return HookResult(success=context.event_type != HookEvent.POST_AGENT_LOOP,
                          error=None if context.event_type != HookEvent.POST_AGENT_LOOP
                          else "refused")

    llm.script(Turn(json.dumps({"answer": "ok"}), prompt_tokens=5, completion_tokens=2))
    agent = BaseAgent(config=config(llm, hooks_enabled=True), signature=Question(),
                      mcp_servers=[], agent_id="hooked")
    agent.register_hook(HookEvent.PRE_AGENT_LOOP, audit)
    agent.register_hook(HookEvent.POST_AGENT_LOOP, audit)
    quiet_run(agent, question="?")
    hooks = [(e.agent, e.hook, e.error) for e in events(kmon, sink, KpHookEvent)]
    assert hooks == [("hooked", "pre_agent_loop:audit", None),
                     ("hooked", "post_agent_loop:audit", "error")]


def test_budget_limit_and_spend_are_gauges(kmon: Monitor, llm: OpenAIChatServer,
                                           sink: InMemorySink) -> None:
    """Kaizen's configured budget and what its ExecutionContext recorded as spent."""
    agent = calc_agent(llm, agent_id="spender", budget_limit_usd=3.0)
    agent.execution_context.record_tool_usage("calculator", 0.5)
    agent.execution_context.record_tool_usage("calculator", 0.25)
    samples = events(kmon, sink, BudgetSample)
    assert [(s.agent, s.budget_usd, s.spent_usd) for s in samples] == [
        ("spender", 3.0, 0.0), ("spender", 3.0, 0.5), ("spender", 3.0, 0.75)]
    text = kmon.export_metrics()
    assert 'kaizen_budget_usd{agent="spender"} 3.0' in text
    assert 'kaizen_budget_spent_usd{agent="spender"} 0.75' in text


def test_two_agents_in_one_process_keep_separate_series(
        kmon: Monitor, sink: InMemorySink, llm: OpenAIChatServer) -> None:
    """Each agent's runs, tools and LLM calls carry its own agent_id, also when interleaved."""
    llm.script(Turn(action("calculator", expression="1+1"), prompt_tokens=10, completion_tokens=1),
               Turn(json.dumps({"answer": "2", "done": True}), prompt_tokens=11,
                    completion_tokens=1),
               Turn(action("calculator", expression="2+2"), prompt_tokens=20, completion_tokens=2),
               Turn(json.dumps({"answer": "4", "done": True}), prompt_tokens=21,
                    completion_tokens=2))
    first, second = calc_agent(llm, "first"), calc_agent(llm, "second")
    quiet_run(first, question="1+1")
    quiet_run(second, question="2+2")
    calls = events(kmon, sink, ApiCallEvent)
    assert [(c.agent, c.input_tokens) for c in calls] == [
        ("first", 10), ("first", 11), ("second", 20), ("second", 21)]
    assert [(t.agent, t.tool) for t in sink.of(ToolEvent)] == [
        ("first", "calculator"), ("second", "calculator")]
    text = kmon.export_metrics()
    for agent in ("first", "second"):
        assert f'kaizen_agent_loop_iterations_total{{agent="{agent}",status="ok"}} 1.0' in text


def test_an_agent_created_before_instrument_is_adopted_on_its_first_run(
        sink: InMemorySink, llm: OpenAIChatServer) -> None:
    """instrument() after the agent exists: its own execute_tool and permission policy are
    still observed from its first run on."""
    llm.script(Turn(action("calculator", expression="3*3"), prompt_tokens=10,
                    completion_tokens=1),
               Turn(json.dumps({"answer": "9", "done": True}), prompt_tokens=11,
                    completion_tokens=1))
    early = calc_agent(llm, agent_id="early")
    mon = Monitor("process", environ={}, sinks=[sink])
    instrument(mon)
    try:
        quiet_run(early, question="3*3")
    finally:
        uninstrument()
    tools = events(mon, sink, ToolEvent)
    permissions = sink.of(PermissionEvent)
    mon.shutdown(2.0)
    assert [(t.agent, t.tool) for t in tools] == [("early", "calculator")]
    assert [(p.agent, p.tool, p.decision) for p in permissions] == [
        ("early", "calculator", "approved")]


def test_uninstrument_restores_kaizen(kmon: Monitor) -> None:
    """After uninstrument() every Kaizen method is the original again."""
    from kaizen.core.agent_loop import AgentLoop
    from kaizen.llm.wire_protocols import openai_chat

    wrapped = (AgentLoop.__dict__["run_sync"].__func__, LlmClient.complete,
               openai_chat.parse_response, PermissionPolicy.check_permission)
    uninstrument()
    assert not is_instrumented()
    restored = (AgentLoop.__dict__["run_sync"].__func__, LlmClient.complete,
                openai_chat.parse_response, PermissionPolicy.check_permission)
    assert all(w is not r and not hasattr(r, "__kaizen_perf_wrapped__")
               for w, r in zip(wrapped, restored, strict=True))
