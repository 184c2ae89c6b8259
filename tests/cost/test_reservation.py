"""A hard budget holds before the request leaves: the real anthropic, openai and Kaizen
clients against scripted servers on 127.0.0.1, and the reservation rules themselves."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import openai
import pytest
from kaizen.llm.client import LlmClient
from kaizen.llm.deployment_resolver import resolve_deployment_for

from kaizen_perf import Monitor
from kaizen_perf.cost import PriceTable
from kaizen_perf.cost.budget import Budget, BudgetTracker, Crossing
from kaizen_perf.cost.reserve import (
    BINARY_BLOCK_TOKENS,
    DEFAULT_MAX_OUTPUT,
    estimate_input_tokens,
    max_output_tokens,
    worst_case_pico,
)
from kaizen_perf.errors import BudgetExceeded
from kaizen_perf.integrations import anthropic as kp_anthropic
from kaizen_perf.integrations import kaizen as kp_kaizen
from kaizen_perf.integrations import openai as kp_openai
from tests.integrations.kaizen_loopback import local_url
from tests.integrations.llm_server import LLMServer, Reply
from tests.integrations.openai_chat_server import OpenAIChatServer, Turn

HAIKU = "claude-haiku-4-5"
GPT = "gpt-4o-mini"
PRICES = PriceTable.load(maintained=False)
MESSAGES = [{"role": "user", "content": "What is 2 + 2?"}]


@pytest.fixture
def server() -> Iterator[LLMServer]:
    srv = LLMServer.start()
    yield srv
    srv.stop()


@pytest.fixture
def kaizen_loopback() -> Iterator[None]:
    """Let Kaizen's LLM client reach the fake provider on 127.0.0.1."""
    from tests.integrations.kaizen_loopback import allow_loopback

    restore = allow_loopback()
    yield
    restore()


@pytest.fixture
def budget_monitor() -> Iterator[Callable[[float], Monitor]]:
    made: list[Monitor] = []

    def make(usd: float) -> Monitor:
        mon = Monitor("spender", environ={}, pricing=PRICES, budget_usd=usd,
                      budget_hard_stop=True)
        made.append(mon)
        return mon
    yield make
    for mon in made:
        mon.shutdown(2.0)


def _message(output_tokens: int) -> dict[str, Any]:
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": HAIKU,
            "content": [{"type": "text", "text": "4"}], "stop_reason": "end_turn",
            "stop_sequence": None, "usage": {"input_tokens": 20, "output_tokens": output_tokens}}


def _worst(model: str, provider: str, max_tokens: int, *parts: object) -> int:
    price = PRICES.lookup(model, provider)
    assert price is not None
    return worst_case_pico(price, estimate_input_tokens(*parts), max_tokens)


def _spent(mon: Monitor) -> int:
    status = mon.budget.status("agent", "spender")
    assert status is not None
    return status.spent_pico


def _admits(limit: int, worst: int, actual: int) -> int:
    """How many sequential calls of this worst case and real cost a limit lets through."""
    spent = n = 0
    while spent + worst <= limit:
        spent, n = spent + actual, n + 1
    return n


def test_anthropic_call_that_could_cross_is_refused_before_sending(
        server: LLMServer, budget_monitor: Callable[[float], Monitor]) -> None:
    """The call whose worst case (input estimate + max_tokens at output price) would pass a
    hard budget raises BudgetExceeded and never reaches the server; the others are charged
    their real cost and hold nothing afterwards."""
    mon = budget_monitor(0.01)
    worst = _worst(HAIKU, "anthropic", 1000, MESSAGES)
    price = PRICES.lookup(HAIKU, "anthropic")
    assert price is not None
    actual = price.cost_pico(20, 600)
    expected = _admits(mon.budget.statuses()[0].budget.limit_pico, worst, actual)
    server.script(*[Reply(body=_message(600)) for _ in range(expected + 2)])
    kp_anthropic.instrument(mon)
    try:
        c = anthropic.Anthropic(api_key="k", base_url=server.url, max_retries=0)
        for _ in range(expected):
            c.messages.create(model=HAIKU, max_tokens=1000, messages=MESSAGES)
        with pytest.raises(BudgetExceeded) as denied:
            c.messages.create(model=HAIKU, max_tokens=1000, messages=MESSAGES)
    finally:
        kp_anthropic.uninstrument()
    assert len(server.seen) == expected >= 1
    assert _spent(mon) == expected * actual
    assert mon.budget.reserved_pico("agent", "spender") == 0
    assert denied.value.reserved_usd == worst / 10**12


def test_a_stream_holds_its_reservation_until_it_ends(
        server: LLMServer, budget_monitor: Callable[[float], Monitor]) -> None:
    """While a streamed answer is being read its worst case stays reserved; at the end the
    real cost replaces it."""
    mon = budget_monitor(1.0)
    start = _message(1)
    start["content"], start["stop_reason"] = [], None
    server.script(Reply(events=(
        ("message_start", {"type": "message_start", "message": start}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                           "usage": {"output_tokens": 50}}),
        ("message_stop", {"type": "message_stop"}))))
    kp_anthropic.instrument(mon)
    try:
        c = anthropic.Anthropic(api_key="k", base_url=server.url, max_retries=0)
        stream = c.messages.create(model=HAIKU, max_tokens=500, messages=MESSAGES, stream=True)
        held = mon.budget.reserved_pico("agent", "spender")
        for _ in stream:
            pass
    finally:
        kp_anthropic.uninstrument()
    price = PRICES.lookup(HAIKU, "anthropic")
    assert price is not None
    assert held == _worst(HAIKU, "anthropic", 500, MESSAGES)
    assert mon.budget.reserved_pico("agent", "spender") == 0
    assert _spent(mon) == price.cost_pico(20, 50)


def test_a_failed_call_releases_its_reservation(
        server: LLMServer, budget_monitor: Callable[[float], Monitor]) -> None:
    """An API error ends the call without cost and without holding anything."""
    mon = budget_monitor(1.0)
    server.script(Reply(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                         "message": "bad"}}))
    kp_anthropic.instrument(mon)
    try:
        c = anthropic.Anthropic(api_key="k", base_url=server.url, max_retries=0)
        with pytest.raises(anthropic.BadRequestError):
            c.messages.create(model=HAIKU, max_tokens=500, messages=MESSAGES)
    finally:
        kp_anthropic.uninstrument()
    assert mon.budget.reserved_pico("agent", "spender") == 0
    assert _spent(mon) == 0


def test_concurrent_async_calls_never_pass_the_limit(
        server: LLMServer, budget_monitor: Callable[[float], Monitor]) -> None:
    """Twelve concurrent AsyncAnthropic calls against a budget for a few: the ones sent are
    exactly the ones admitted, spend stays under the limit, and the 80 % warning is heard
    before the first refusal."""
    mon = budget_monitor(0.02)
    heard: list[str] = []
    mon.budget.add_listener(lambda c: heard.append(f"alert {c.threshold}"))
    server.script(*[Reply(body=_message(900), delay_s=0.02) for _ in range(12)])
    kp_anthropic.instrument(mon)

    async def one(c: Any) -> str:
        try:
            await c.messages.create(model=HAIKU, max_tokens=1000, messages=MESSAGES)
            return "sent"
        except BudgetExceeded:
            heard.append("stop")
            return "refused"

    async def main() -> list[str]:
        c = anthropic.AsyncAnthropic(api_key="k", base_url=server.url, max_retries=0)
        return await asyncio.gather(*(one(c) for _ in range(12)))
    try:
        outcomes = asyncio.run(main())
    finally:
        kp_anthropic.uninstrument()
    status = mon.budget.statuses()[0]
    assert outcomes.count("sent") == len(server.seen) >= 1
    assert "refused" in outcomes
    assert status.spent_pico <= status.budget.limit_pico
    assert mon.budget.reserved_pico("agent", "spender") == 0
    assert "alert 0.8" in heard[:heard.index("stop")]


def test_openai_threads_share_one_budget_exactly(
        server: LLMServer, budget_monitor: Callable[[float], Monitor]) -> None:
    """Eight threads of real OpenAI chat calls: every call sent was admitted, spend is the
    sum of real costs and stays under the hard limit."""
    mon = budget_monitor(0.002)
    body = {"id": "c1", "object": "chat.completion", "created": 1, "model": GPT,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "4"}}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 700, "total_tokens": 720}}
    server.script(*[Reply(body=body, delay_s=0.01) for _ in range(40)])
    kp_openai.instrument(mon)
    sent: list[int] = []

    def worker() -> None:
        c = openai.OpenAI(api_key="k", base_url=f"{server.url}/v1", max_retries=0)
        try:
            while True:
                c.chat.completions.create(model=GPT, messages=MESSAGES, max_tokens=1000)
                sent.append(1)
        except BudgetExceeded:
            return
    threads = [threading.Thread(target=worker) for _ in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        kp_openai.uninstrument()
    price = PRICES.lookup(GPT, "openai")
    assert price is not None
    status = mon.budget.statuses()[0]
    assert len(sent) == len(server.seen) >= 1
    assert status.spent_pico == len(sent) * price.cost_pico(20, 700)
    assert status.spent_pico <= status.budget.limit_pico


def test_kaizen_llm_client_is_refused_before_sending(
        kaizen_loopback: None, budget_monitor: Callable[[float], Monitor]) -> None:
    """Kaizen's LlmClient.complete reserves too: past the budget it raises BudgetExceeded
    and the provider never sees the request."""
    mon = budget_monitor(0.001)
    llm = OpenAIChatServer.start()
    llm.script(*[Turn("4", prompt_tokens=20, completion_tokens=900) for _ in range(10)])
    kp_kaizen.instrument(mon)
    try:
        client = LlmClient.from_deployment(resolve_deployment_for(
            "openai", GPT, api_key="sk-test", base_url=local_url(llm.url)))

        async def run() -> int:
            for n in range(10):
                try:
                    await client.complete(MESSAGES, model=GPT, max_tokens=1000)
                except BudgetExceeded:
                    return n
            return -1
        sent = asyncio.run(run())
    finally:
        kp_kaizen.uninstrument()
        llm.stop()
    assert sent == llm.truth.requests >= 1
    assert mon.budget.reserved_pico("agent", "spender") == 0


def test_refusal_reports_the_thresholds_it_would_cross() -> None:
    """A call refused at 30 % spend (its worst case is large) reports 50 % and 80 % first,
    so the warning always comes before the stop; a smaller call still fits afterwards."""
    tracker = BudgetTracker([Budget("agent", "a", 1000, hard_stop=True)])
    seen: list[Crossing] = []
    tracker.add_listener(seen.append)
    r = tracker.reserve(300, agent="a")
    r.release()
    with pytest.raises(BudgetExceeded):
        tracker.reserve(1001, agent="a")
    assert [c.threshold for c in seen] == [0.5, 0.8]
    tracker.reserve(1000, agent="a").release()  # nothing spent: a call that fits is let through


def test_user_and_soft_budgets_hold_nothing() -> None:
    """Only hard-stop budgets reserve: a soft budget never refuses, a user budget only
    inside that user's block."""
    tracker = BudgetTracker([Budget("agent", "a", 100),
                             Budget("user", "alice", 100, hard_stop=True)])
    assert tracker.reserve(10**6, agent="a").pico == 0
    with tracker.user("alice"), pytest.raises(BudgetExceeded):
        tracker.reserve(101, agent="a")
    with tracker.user("alice"):
        r = tracker.reserve(60, agent="a")
        assert tracker.reserved_pico("user", "alice") == 60
        r.release()
        r.release()  # idempotent
    assert tracker.reserved_pico("user", "alice") == 0


def test_estimate_counts_text_bytes_and_images_not_base64() -> None:
    """The input estimate is one token per 3 UTF-8 bytes of every string (keys too), and a
    fixed allowance per image instead of its base64 data; no limit means the default."""
    assert estimate_input_tokens([{"role": "user", "content": "abcdef"}]) == \
        -(-len("roleusercontentabcdef") // 3)
    assert estimate_input_tokens("日本") == 2  # 6 bytes
    image = {"type": "image", "source": {"type": "base64", "data": "A" * 90_000}}
    assert estimate_input_tokens([image]) == BINARY_BLOCK_TOKENS
    assert max_output_tokens({"max_tokens": 0}, "max_tokens") == DEFAULT_MAX_OUTPUT
    assert max_output_tokens({"max_completion_tokens": 7, "max_tokens": 9},
                             "max_completion_tokens", "max_tokens") == 7


def test_sdk_tool_use_is_refused_once_the_budget_is_spent(
        budget_monitor: Callable[[float], Monitor]) -> None:
    """The Claude Agent SDK sends its own requests, so the earliest stop is the next tool:
    the wrapped can_use_tool denies it (interrupting the turn) once a hard budget is spent,
    without asking the user's callback."""
    from claude_agent_sdk import PermissionResultAllow, ToolPermissionContext

    from kaizen_perf.integrations.claude_agent_sdk import SdkObserver

    mon = budget_monitor(0.001)
    asked: list[str] = []

    async def allow(name: str, _input: dict[str, Any], _ctx: Any) -> Any:
        asked.append(name)
        return PermissionResultAllow()
    wrapped = SdkObserver(mon).wrap_can_use_tool(allow)
    ctx = ToolPermissionContext()
    first = asyncio.run(wrapped("Bash", {}, ctx))
    mon.record_api_call("anthropic", HAIKU, input_tokens=2000)  # $0.002: past the limit
    second = asyncio.run(wrapped("Bash", {}, ctx))
    assert first.behavior == "allow" and asked == ["Bash"]
    assert second.behavior == "deny" and second.interrupt and "budget" in second.message


def test_alert_engine_fires_the_warning_a_refusal_reported() -> None:
    """A call refused at 20 % spend reported 50 % and 80 % to listeners; the alert engine's
    KaizenBudget alert fires for them too, so every output shows the warning."""
    from kaizen_perf.alerts import Alert, CallbackNotifier

    mon = Monitor("spender", environ={}, pricing=PRICES, budget_usd=0.01,
                  budget_hard_stop=True, alerts_enabled=True)
    try:
        assert mon.alerts is not None
        got: list[Alert] = []
        mon.alerts.notifiers.append(CallbackNotifier(got.append))
        mon.record_api_call("anthropic", HAIKU, input_tokens=2000)  # $0.002: 20 %
        with pytest.raises(BudgetExceeded):
            mon.budget.reserve(9 * 10**9, agent="spender")  # $0.009 more could pass $0.01
        mon.alerts.evaluate()
    finally:
        mon.shutdown(2.0)
    fired = sorted(a.labels["threshold"] for a in got if a.kind == "budget")
    assert fired == ["50%", "80%"]
