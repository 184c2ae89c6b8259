"""Each ``execute_tool`` span links to the ``chat`` span whose response asked for the tool."""

from __future__ import annotations

import contextvars
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anthropic
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from kaizen_perf import Monitor
from kaizen_perf.events import ApiCallEvent, ToolEvent
from kaizen_perf.exporters.span_outputs import MemorySpanExporter
from kaizen_perf.integrations import anthropic as kp_anthropic
from kaizen_perf.redact import default_redactor
from kaizen_perf.tracing import TraceSink
from kaizen_perf.tracing.spans import SpanBuilder, ToolRequests
from tests.integrations.llm_server import LLMServer, Reply


class _Capture(SpanExporter):
    """Takes encoded requests only (kaizen-perf's own OTLP encoder)."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def export_encoded(self, body: bytes) -> SpanExportResult:
        self.bodies.append(body)
        return SpanExportResult.SUCCESS

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        raise AssertionError("SDK spans were built for an encoded exporter")


def _spans(bodies: Sequence[bytes]) -> list[Span]:
    out: list[Span] = []
    for body in bodies:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        out += [s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]
    return out


def _monitor() -> tuple[Monitor, _Capture, MemorySpanExporter]:
    capture, memory = _Capture(), MemorySpanExporter()
    sink = TraceSink([("wire", capture), ("memory", memory)], to_wall_ns=lambda ns: ns,
                     resource=Resource.create({"service.name": "svc"}))
    return Monitor("agent", sinks=[sink], pricing=None), capture, memory


def _run_tool(mon: Monitor, name: str, fail: bool = False) -> None:
    try:
        with mon.tool(name):
            if fail:
                raise RuntimeError("tool failed")
    except RuntimeError:
        pass


def _scripted_run(mon: Monitor) -> None:
    """Two responses asking for tools (the first for three in parallel), and a tool no
    response asked for."""
    with mon.agent_loop():
        mon.record_api_call("anthropic", "model-a", input_tokens=10, output_tokens=5,
                            tool_calls=["search", "search", "fetch"])
        with ThreadPoolExecutor(max_workers=3) as pool:  # parallel calls of one response
            jobs = [pool.submit(contextvars.copy_context().run, _run_tool, mon, name, fail)
                    for name, fail in (("search", False), ("search", True), ("fetch", False))]
            for job in jobs:
                job.result()
        mon.record_api_call("anthropic", "model-b", input_tokens=20, output_tokens=5,
                            tool_calls=["search"])
        _run_tool(mon, "search")
        _run_tool(mon, "unasked")  # the agent's own tool: no response asked for it
        mon.record_api_call("anthropic", "model-c", input_tokens=30, output_tokens=5)


def test_each_tool_span_links_to_the_chat_span_that_asked_for_it() -> None:
    """Parallel tools of one response link to that response, a later one to the later
    response, and a tool nobody asked for has no link; links decode from real OTLP bytes."""
    mon, capture, _ = _monitor()
    _scripted_run(mon)
    assert mon.shutdown(5.0)
    spans = _spans(capture.bodies)
    chats = {s.name: s for s in spans if s.name.startswith("chat ")}
    tools = [s for s in spans if s.name.startswith("execute_tool ")]
    linked = {(s.name, s.span_id): [(link.trace_id, link.span_id) for link in s.links]
              for s in tools}
    first, second = chats["chat model-a"], chats["chat model-b"]
    by_target: dict[str, list[str]] = {"a": [], "b": []}
    for (name, _), links in linked.items():
        if name == "execute_tool unasked":
            assert links == []
            continue
        [target] = links
        which = "a" if target == (first.trace_id, first.span_id) else "b"
        assert target == ((first if which == "a" else second).trace_id,
                          (first if which == "a" else second).span_id)
        by_target[which].append(name)
    assert sorted(by_target["a"]) == ["execute_tool fetch", "execute_tool search",
                                      "execute_tool search"]
    assert by_target["b"] == ["execute_tool search"]
    # a link is a link, not a parent: every tool stays the agent loop's child
    loop = next(s for s in spans if s.name == "invoke_agent agent")
    assert {s.parent_span_id for s in tools} == {loop.span_id}
    assert all(not s.links for s in spans if not s.name.startswith("execute_tool "))
    # the failed tool (the encoder's general path) is linked too
    failed = [s for s in tools if s.status.code == 2]
    assert len(failed) == 1 and len(failed[0].links) == 1


def test_linked_spans_encode_exactly_as_opentelemetrys_encoder_does() -> None:
    """Our OTLP bytes and the SDK encoding of the same spans (links included) are equal."""
    mon, capture, memory = _monitor()
    _scripted_run(mon)
    assert mon.shutdown(5.0)
    ours = _spans(capture.bodies)
    theirs = _spans([encode_spans(memory.get_finished_spans()).SerializeToString()])
    assert sum(len(s.links) for s in ours) == 4
    assert ours == theirs


def test_requests_are_per_agent_and_trace() -> None:
    """A response in one agent loop never links a same-named tool run in another loop."""
    mon, capture, _ = _monitor()
    with mon.agent_loop():
        mon.record_api_call("anthropic", "model-a", input_tokens=1, output_tokens=1,
                            tool_calls=["search"])
    with mon.agent_loop():  # a new trace: the first loop's request is not for it
        _run_tool(mon, "search")
    assert mon.shutdown(5.0)
    [tool] = [s for s in _spans(capture.bodies) if s.name == "execute_tool search"]
    assert list(tool.links) == []


def _tool_use_message(*tools: tuple[str, str], output_tokens: int) -> dict[str, Any]:
    content = [{"type": "tool_use", "id": tid, "name": name, "input": {"q": tid}}
               for tid, name in tools]
    return {"id": "msg_t", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
            "content": [{"type": "text", "text": "let me look"}, *content],
            "stop_reason": "tool_use" if tools else "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 100, "output_tokens": output_tokens}}


def test_tools_asked_for_through_the_real_anthropic_client_link_to_its_response() -> None:
    """The anthropic client's response asking for search and fetch (run in parallel, fetch
    calling the model itself) links both tool spans to that response's chat span only."""
    server = LLMServer.start()
    server.script(
        Reply(body=_tool_use_message(("t1", "search"), ("t2", "fetch"), output_tokens=77)),
        Reply(body=_tool_use_message(output_tokens=10)),  # the call made inside fetch
        Reply(body=_tool_use_message(output_tokens=31)))  # the final answer
    mon, capture, _ = _monitor()
    kp_anthropic.instrument(mon)
    try:
        client = anthropic.Anthropic(api_key="k", base_url=server.url, max_retries=0)

        def run(name: str) -> None:
            with mon.tool(name):
                if name == "fetch":
                    client.messages.create(model="claude-haiku-4-5", max_tokens=100,
                                           messages=[{"role": "user", "content": "summarise"}])
        with mon.agent_loop():
            first = client.messages.create(model="claude-haiku-4-5", max_tokens=500,
                                           messages=[{"role": "user", "content": "find it"}])
            asked = [b.name for b in first.content if b.type == "tool_use"]
            with ThreadPoolExecutor(max_workers=2) as pool:
                for job in [pool.submit(contextvars.copy_context().run, run, name)
                            for name in asked]:
                    job.result()
            client.messages.create(model="claude-haiku-4-5", max_tokens=500,
                                   messages=[{"role": "user", "content": "answer"}])
    finally:
        kp_anthropic.uninstrument()
        server.stop()
    assert mon.shutdown(5.0)
    spans = _spans(capture.bodies)

    def output_tokens(span: Span) -> int:
        return next(a.value.int_value for a in span.attributes
                    if a.key == "gen_ai.usage.output_tokens")
    chats = {output_tokens(s): s for s in spans if s.name.startswith("chat ")}
    asking = chats[77]
    tools = {s.name: s for s in spans if s.name.startswith("execute_tool ")}
    assert sorted(tools) == ["execute_tool fetch", "execute_tool search"]
    for tool in tools.values():
        assert [(link.trace_id, link.span_id) for link in tool.links] == [
            (asking.trace_id, asking.span_id)]
    assert all(not chat.links for chat in chats.values())


def test_claude_agent_sdk_parallel_tools_link_to_the_streamed_response() -> None:
    """The Claude Agent SDK's streamed answer asking for Read and Bash (its own message
    objects), then the two tools run and their results: both tool spans link to it."""
    from claude_agent_sdk import (
        AssistantMessage,
        StreamEvent,
        ToolResultBlock,
        ToolUseBlock,
        UserMessage,
    )

    from kaizen_perf.cost import PriceTable
    from kaizen_perf.integrations.claude_agent_sdk import SdkObserver

    capture = _Capture()
    sink = TraceSink([("wire", capture)], to_wall_ns=lambda ns: ns,
                     resource=Resource.create({"service.name": "svc"}))
    mon = Monitor("agent", sinks=[sink], pricing=PriceTable.load(maintained=False))
    observer = SdkObserver(mon)
    tools = (("toolu_1", "Read"), ("toolu_2", "Bash"))
    stream: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"id": "msg_p", "model": "claude-haiku-4-5",
                                              "usage": {"input_tokens": 1234,
                                                        "output_tokens": 1}}},
        *({"type": "content_block_start", "index": i,
           "content_block": {"type": "tool_use", "id": tid, "name": name, "input": {}}}
          for i, (tid, name) in enumerate(tools)),
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"},
         "usage": {"output_tokens": 95}},
        {"type": "message_stop"}]
    with mon.agent_loop():
        for i, event in enumerate(stream):
            observer.observe(StreamEvent(uuid=f"u{i}", session_id="s1", event=event))
        observer.observe(AssistantMessage(
            content=[ToolUseBlock(id=tid, name=name, input={}) for tid, name in tools],
            model="claude-haiku-4-5"))
        observer.observe(UserMessage(content=[
            ToolResultBlock(tool_use_id=tid, content="ok", is_error=False) for tid, _ in tools]))
    assert mon.shutdown(5.0)
    spans = _spans(capture.bodies)
    [chat] = [s for s in spans if s.name.startswith("chat ")]
    linked = {s.name: [(link.trace_id, link.span_id) for link in s.links]
              for s in spans if s.name.startswith("execute_tool ")}
    assert linked == {"execute_tool Read": [(chat.trace_id, chat.span_id)],
                      "execute_tool Bash": [(chat.trace_id, chat.span_id)]}


def test_a_real_kaizen_agents_native_tool_calls_link_to_the_calls_that_asked() -> None:
    """A Kaizen BaseAgent whose model asks for ``lookup`` twice (OpenAI tool_calls, run by
    Kaizen's LLMAgentNode) then answers: each tool span links to the response that asked."""
    import json

    from kaizen.core.base_agent import BaseAgent

    from kaizen_perf.integrations.kaizen import instrument, uninstrument
    from kaizen_perf.integrations.kaizen._agents import AGENTS
    from tests.integrations.kaizen_loopback import allow_loopback
    from tests.integrations.openai_chat_server import OpenAIChatServer, Turn
    from tests.integrations.test_kaizen import Question, config, quiet_run

    restore, server = allow_loopback(), OpenAIChatServer.start()
    mon, capture, _ = _monitor()
    AGENTS.seen.clear()
    instrument(mon)
    try:
        server.script(*[Turn(tool="lookup", arguments={"q": q}, prompt_tokens=20,
                             completion_tokens=n) for q, n in (("x", 4), ("y", 5))],
                      Turn(json.dumps({"answer": "42"}), prompt_tokens=30, completion_tokens=3))
        agent = BaseAgent(config=config(server), signature=Question(), agent_id="native",
                          mcp_servers=[])
        quiet_run(agent, question="look it up")
    finally:
        uninstrument()
        AGENTS.seen.clear()
        server.stop()
        restore()
    assert mon.shutdown(5.0)
    spans = sorted(_spans(capture.bodies), key=lambda s: s.end_time_unix_nano)
    chats = [s for s in spans if s.name.startswith("chat ")]
    tools = [s for s in spans if s.name == "execute_tool lookup"]
    assert len(chats) == 3 and len(tools) == 2
    assert [[(link.trace_id, link.span_id) for link in t.links] for t in tools] == [
        [(c.trace_id, c.span_id)] for c in chats[:2]]


def test_a_streamed_openai_answer_asking_for_two_tools_links_both() -> None:
    """The real openai client's streamed chat completion asking for weather and calendar
    (names in the first delta of each call): both tool spans link to its chat span."""
    import openai

    from kaizen_perf.integrations import openai as kp_openai

    def chunk(delta: dict[str, Any], finish: str | None = None,
              usage: dict[str, int] | None = None) -> tuple[None, dict[str, Any]]:
        return (None, {"id": "c1", "object": "chat.completion.chunk", "created": 1,
                       "model": "gpt-4o-mini",
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
                       if usage is None else [], "usage": usage})
    calls = [{"index": i, "id": f"call_{i}", "type": "function",
              "function": {"name": name, "arguments": "{}"}}
             for i, name in enumerate(("weather", "calendar"))]
    server = LLMServer.start()
    server.script(Reply(events=(
        chunk({"role": "assistant", "tool_calls": calls}), chunk({}, finish="tool_calls"),
        chunk({}, usage={"prompt_tokens": 33, "completion_tokens": 4, "total_tokens": 37}),
        (None, "[DONE]"))))
    mon, capture, _ = _monitor()
    kp_openai.instrument(mon)
    try:
        client = openai.OpenAI(api_key="k", base_url=f"{server.url}/v1", max_retries=0)
        with mon.agent_loop():
            names: list[str] = []
            for part in client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "plan"}],
                    stream=True, stream_options={"include_usage": True}):
                for choice in part.choices:
                    names += [c.function.name for c in choice.delta.tool_calls or ()
                              if c.function is not None and c.function.name]
            for name in names:
                _run_tool(mon, name)
    finally:
        kp_openai.uninstrument()
        server.stop()
    assert mon.shutdown(5.0)
    spans = _spans(capture.bodies)
    [chat] = [s for s in spans if s.name.startswith("chat ")]
    linked = {s.name: [(link.trace_id, link.span_id) for link in s.links]
              for s in spans if s.name.startswith("execute_tool ")}
    assert linked == {"execute_tool weather": [(chat.trace_id, chat.span_id)],
                      "execute_tool calendar": [(chat.trace_id, chat.span_id)]}


def _builder() -> SpanBuilder:
    return SpanBuilder(resource=Resource.create({}), redactor=default_redactor())


def _asking(span_id: int, *tools: str, trace: int = 7) -> ApiCallEvent:
    return ApiCallEvent("a", "anthropic", "m", 1, 1, 0, 0, 0.0, None, 10, None, 10**9,
                        trace, span_id, 1, tool_calls=tools)


def _ran(span_id: int, tool: str, trace: int = 7, duration_ns: int = 10**9) -> ToolEvent:
    return ToolEvent("a", tool, 10**9, 10**9 + duration_ns, None, trace, span_id, 1)


def test_a_sampled_out_tool_still_takes_its_request() -> None:
    """The sampler dropping a tool span does not hand its request to the next run of that
    tool: the next one links to the response that asked for it."""
    builder = _builder()
    events = [_asking(100, "search"), _ran(101, "search", duration_ns=5),
              _asking(200, "search"), _ran(201, "search")]
    records = builder.records(events, 0, lambda trace, duration, error: duration != 5)
    links = {builder.event_of(r).span_id: builder.link_of(r) for r in records}
    assert links == {100: None, 200: None, 201: (7, 200)}  # 101 sampled out


def test_pending_requests_are_bounded() -> None:
    """Responses asking for tools that never run cannot grow the dispatcher's memory: past
    the bound the oldest requests are forgotten, and the newest still link."""
    builder = _builder()
    keys = ToolRequests.MAX_KEYS + 10
    builder.records([_asking(i + 1, f"t{i}") for i in range(keys)], 0, None)
    per_key = ToolRequests.MAX_PER_KEY + 5
    builder.records([_asking(10**6 + i, "same") for i in range(per_key)], 0, None)
    pending = builder.tool_requests.pending
    assert len(pending) <= ToolRequests.MAX_KEYS
    assert len(pending[("a", 7, "same")]) == ToolRequests.MAX_PER_KEY
    [old, new] = builder.records([_ran(1, "t0"), _ran(2, f"t{keys - 1}")], 0, None)
    assert builder.link_of(old) is None and builder.link_of(new) == (7, keys)
    [first_same] = builder.records([_ran(3, "same")], 0, None)
    assert builder.link_of(first_same) == (7, 10**6 + 5)  # the five oldest were forgotten
