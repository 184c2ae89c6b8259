"""Every dollar to exactly one (agent, tool or reasoning) pair: the split rule, and the real
anthropic and openai clients with parallel tool calls against a server on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaizen_perf import Monitor
from kaizen_perf.cost import PriceTable
from kaizen_perf.cost.attribution import REASONING, split
from kaizen_perf.integrations import anthropic as kp_anthropic
from kaizen_perf.integrations import openai as kp_openai
from tests.helpers import need, need_binary
from tests.integrations.llm_server import LLMServer, Reply

HAIKU = "claude-haiku-4-5"
GPT = "gpt-4o-mini"
PRICES = PriceTable.load(maintained=False)


@pytest.fixture
def server() -> Iterator[LLMServer]:
    srv = LLMServer.start()
    yield srv
    srv.stop()


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's headless Chromium through Playwright (skipped locally when missing)."""
    chromium = need_binary("chromium", "chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "playwright is not installed (pip install playwright)")
        raise
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
        yield b
        b.close()


@pytest.fixture
def mon() -> Iterator[Monitor]:
    m = Monitor("worker", environ={}, pricing=PRICES, strict=True)
    yield m
    m.shutdown(2.0)


def _pico(mon: Monitor, name: str) -> dict[tuple[str, ...], int]:
    mon.flush()
    return {key: int(slot[0]) for key, slot in mon.metrics.families[name].series.items()}


def _by_tool(mon: Monitor) -> dict[str, int]:
    return {key[1]: v for key, v in _pico(mon, "kaizen_tool_cost_usd_total").items()}


def _total(mon: Monitor) -> int:
    return sum(_pico(mon, "kaizen_api_cost_usd_total").values())


@given(st.integers(0, 10**15), st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=9),
       st.one_of(st.none(), st.sampled_from(["outer"])))
def test_split_gives_every_pico_to_exactly_one_tool(cost: int, calls: list[str],
                                                    tool: str | None) -> None:
    """The parts of a call's cost add up to it exactly; requested tools get equal shares
    within one pico-dollar (the first ones the remainder); nothing else gets any."""
    parts = dict(split(cost, tool, calls))
    assert sum(parts.values()) == cost
    if cost == 0:
        assert parts == {}
    elif tool is not None:
        assert parts == {tool: cost}
    elif not calls:
        assert parts == {REASONING: cost}
    else:
        share, extra = divmod(cost, len(calls))
        for name, amount in parts.items():
            idx = [i for i, n in enumerate(calls) if n == name]
            assert amount == len(idx) * share + sum(1 for i in idx if i < extra)


def _tool_use_message(*tools: tuple[str, str], output_tokens: int = 77) -> dict[str, Any]:
    content = [{"type": "tool_use", "id": tid, "name": name, "input": {"q": tid}}
               for tid, name in tools]
    return {"id": "msg_t", "type": "message", "role": "assistant", "model": HAIKU,
            "content": [{"type": "text", "text": "let me look"}, *content],
            "stop_reason": "tool_use" if tools else "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 1001, "output_tokens": output_tokens}}


def test_parallel_tool_calls_split_the_asking_call_and_sum_to_the_total(
        server: LLMServer, mon: Monitor) -> None:
    """A response asking for search, search and fetch (run in parallel threads, one of them
    calling the model itself), then a final answer: each tool gets its share of the asking
    call plus what it spent inside, the answer is reasoning, and the parts equal the total."""
    server.script(
        Reply(body=_tool_use_message(("t1", "search"), ("t2", "search"), ("t3", "fetch"))),
        Reply(body=_tool_use_message(output_tokens=10)),  # the call made inside fetch
        Reply(body=_tool_use_message(output_tokens=31)))  # the final answer
    kp_anthropic.instrument(mon)
    try:
        c = anthropic.Anthropic(api_key="k", base_url=server.url, max_retries=0)
        first = c.messages.create(model=HAIKU, max_tokens=500, messages=[
            {"role": "user", "content": "find it"}])
        asked = [b for b in first.content if b.type == "tool_use"]

        def run(block: Any) -> None:
            with mon.tool(block.name):
                if block.name == "fetch":
                    c.messages.create(model=HAIKU, max_tokens=100, messages=[
                        {"role": "user", "content": "summarise the page"}])
        threads = [threading.Thread(target=run, args=(b,)) for b in asked]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        c.messages.create(model=HAIKU, max_tokens=500, messages=[
            {"role": "user", "content": "answer"}])
    finally:
        kp_anthropic.uninstrument()
    price = PRICES.lookup(HAIKU, "anthropic")
    assert price is not None
    asking, inside, answer = (price.cost_pico(1001, n) for n in (77, 10, 31))
    share, extra = divmod(asking, 3)
    by_tool = _by_tool(mon)
    assert by_tool == {"search": 2 * share + min(extra, 2),
                       "fetch": share + (1 if extra > 2 else 0) + inside,
                       REASONING: answer}
    assert sum(by_tool.values()) == _total(mon) == asking + inside + answer


def test_streamed_openai_tool_calls_are_split_too(server: LLMServer, mon: Monitor) -> None:
    """A streamed chat completion asking for two tools (names in the first delta of each)
    splits its cost between them; per-tool plus reasoning equals the total."""
    def chunk(delta: dict[str, Any], finish: str | None = None,
              usage: dict[str, int] | None = None) -> tuple[None, dict[str, Any]]:
        return (None, {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": GPT,
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
                       if usage is None else [], "usage": usage})
    calls = [{"index": i, "id": f"call_{i}", "type": "function",
              "function": {"name": name, "arguments": ""}}
             for i, name in enumerate(("weather", "calendar"))]
    server.script(Reply(events=(
        chunk({"role": "assistant", "tool_calls": calls[:1]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}),
        chunk({"tool_calls": calls[1:]}),
        chunk({}, finish="tool_calls"),
        chunk({}, usage={"prompt_tokens": 333, "completion_tokens": 41, "total_tokens": 374}),
        (None, "[DONE]"))))
    kp_openai.instrument(mon)
    try:
        c = openai.OpenAI(api_key="k", base_url=f"{server.url}/v1", max_retries=0)
        for _ in c.chat.completions.create(model=GPT, messages=[{"role": "user", "content": "x"}],
                                           stream=True, stream_options={"include_usage": True}):
            pass
    finally:
        kp_openai.uninstrument()
    price = PRICES.lookup(GPT, "openai")
    assert price is not None
    cost = price.cost_pico(333, 41)
    share, extra = divmod(cost, 2)
    assert _by_tool(mon) == {"weather": share + extra, "calendar": share}
    assert _total(mon) == cost


def test_tool_calls_that_are_not_names_are_refused(mon: Monitor) -> None:
    """record_api_call(tool_calls=...) takes a sequence of tool names; anything else is an
    unusable value (a ValueError under strict)."""
    with pytest.raises(ValueError, match="tool_calls"):
        mon.record_api_call("anthropic", HAIKU, input_tokens=1, tool_calls="search")
    with pytest.raises(ValueError):
        mon.record_api_call("anthropic", HAIKU, input_tokens=1, tool_calls=["ok", ""])


class _NoProcesses:
    def agents(self) -> list[str]:
        return []

    def average_rss(self, agent: str) -> float:
        return 0.0


def _spend_on_tools(mon: Monitor) -> None:
    """A response asking for search and fetch, a call inside fetch, and a final answer."""
    mon.record_api_call("anthropic", HAIKU, 1000, 100, tool_calls=["search", "fetch"])
    with mon.tool("fetch"):
        mon.record_api_call("anthropic", HAIKU, 500, 10)
    with mon.tool("search"):
        pass
    mon.record_api_call("anthropic", HAIKU, 2000, 300)
    mon.flush()


def test_top_shows_cost_by_tool_adding_up_to_the_total(mon: Monitor) -> None:
    """`top`'s row carries each tool's dollars and reasoning's, costliest first, summing to
    the agent's cost, and the screen shows them."""
    from rich.console import Console

    from kaizen_perf.cli.top import render
    from kaizen_perf.top import parse, rows

    _spend_on_tools(mon)
    [row] = rows(parse(mon.export_metrics(), 1.0), None)
    names = [t for t, _ in row.tool_costs]
    assert set(names) == {"search", "fetch", REASONING}
    assert [c for _, c in row.tool_costs] == sorted((c for _, c in row.tool_costs), reverse=True)
    assert sum(round(c * 10**12) for _, c in row.tool_costs) == _total(mon)
    console = Console(width=200, record=True)
    console.print(render([row], "http://127.0.0.1:9464/metrics", None))
    screen = console.export_text()
    assert "cost by tool" in screen and f"{names[0]} " in screen


@pytest.mark.e2e
def test_report_table_of_cost_by_tool_renders_in_chromium(mon: Monitor, browser: Any) -> None:
    """The report's 'LLM cost by tool' table, in a real browser, lists every tool and
    reasoning with the dollars of the summary, which add up to the agent's cost."""
    from kaizen_perf.report.html import _agent_section
    from kaizen_perf.runner.summary import build_summary

    _spend_on_tools(mon)
    with mon.pipeline.lock:
        summary = build_summary(mon.metrics.families, _NoProcesses(), None)
    agent = summary["agents"]["worker"]
    assert sum(round(c * 10**12) for c in agent["tool_cost"].values()) == _total(mon)
    page = browser.new_page()
    try:
        page.set_content(f"<html><body>{_agent_section('worker', agent, [])}</body></html>")
        cells = page.eval_on_selector_all(
            "table.tool-cost tr[data-tool]",
            "rows => rows.map(r => [...r.cells].map(c => c.innerText))")
    finally:
        page.close()
    assert [c[0] for c in cells] == list(agent["tool_cost"])
    assert [c[1] for c in cells] == [f"${v:.4f}" for v in agent["tool_cost"].values()]


def test_claude_agent_sdk_answer_asking_for_parallel_tools_is_split(mon: Monitor) -> None:
    """The SDK's streamed answer asking for Read twice and Bash once (the CLI's stream events,
    as the SDK parses them) is split across those tools, to the pico-dollar."""
    from claude_agent_sdk import StreamEvent

    from kaizen_perf.integrations.claude_agent_sdk import SdkObserver

    observer = SdkObserver(mon)
    usage = {"input_tokens": 1234, "output_tokens": 1}
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"id": "msg_p", "model": HAIKU, "usage": usage}},
        *({"type": "content_block_start", "index": i,
           "content_block": {"type": "tool_use", "id": f"toolu_{i}", "name": name, "input": {}}}
          for i, name in enumerate(("Read", "Read", "Bash"))),
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"},
         "usage": {"output_tokens": 95}},
        {"type": "message_stop"}]
    for i, event in enumerate(events):
        observer.observe(StreamEvent(uuid=f"u{i}", session_id="s1", event=event))
    price = PRICES.lookup(HAIKU, "anthropic")
    assert price is not None
    cost = price.cost_pico(1234, 95)
    share, extra = divmod(cost, 3)
    assert _by_tool(mon) == {"Read": 2 * share + min(extra, 2), "Bash": share + (extra > 2)}
    assert _total(mon) == cost


def test_event_log_lists_the_tools_asked_for_redacted(mon: Monitor) -> None:
    """The JSON event log's api_call record lists the tools the response asked for, each
    name redacted like every other string the agent gave."""
    import json

    from kaizen_perf.events import ApiCallEvent
    from kaizen_perf.exporters.eventlog import render_events
    from kaizen_perf.redact import Redactor
    from kaizen_perf.testing import capture_events

    secret = "sk-ant-api03-" + "A" * 40
    with capture_events(mon) as seen:
        mon.record_api_call("anthropic", HAIKU, 10, 5, tool_calls=["search", secret])
        mon.flush()
    [event] = [e for e in seen if type(e) is ApiCallEvent]
    text, _ = render_events([event], offset_ns=0, errors_only=False, redactor=Redactor())
    record = json.loads(text)
    assert record["tool_calls"][0] == "search"
    assert secret not in text and len(record["tool_calls"]) == 2
