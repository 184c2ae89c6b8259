"""The real ``anthropic`` client against a local server speaking its wire format.

Prices from kaizen_perf/data/pricing.toml, claude-haiku-4-5 (USD per million tokens):
input 1, output 5, cache_read 0.1, cache_write (5 min) 1.25, cache_write_1h 2.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from kaizen_perf import Monitor
from kaizen_perf.events import ApiCallEvent
from kaizen_perf.integrations import ApiCallRecord
from kaizen_perf.testing import capture_events
from tests.integrations.llm_server import LLMServer, Reply, error
from tests.unit.metrics_util import value

anthropic = pytest.importorskip("anthropic")
from kaizen_perf.integrations import anthropic as kp  # noqa: E402

MODEL = "claude-haiku-4-5-20251001"
USAGE = {"input_tokens": 1000, "output_tokens": 200, "cache_read_input_tokens": 5000,
         "cache_creation_input_tokens": 3000,
         "cache_creation": {"ephemeral_5m_input_tokens": 2000, "ephemeral_1h_input_tokens": 1000}}
#: (1000·1 + 200·5 + 5000·0.1 + 2000·1.25 + 1000·2) / 10⁶ = 7000 / 10⁶ → $0.007
COST = 0.007


def message(usage: dict[str, Any] = USAGE, stop: str = "end_turn") -> dict[str, Any]:
    return {"id": "msg_01", "type": "message", "role": "assistant", "model": MODEL,
            "content": [{"type": "text", "text": "hello"}], "stop_reason": stop,
            "stop_sequence": None, "usage": usage}


def stream_events(output_tokens: int = 200) -> tuple[tuple[str | None, Any], ...]:
    start = message({**USAGE, "output_tokens": 1}, stop="")
    start["stop_reason"], start["content"] = None, []
    return (
        ("message_start", {"type": "message_start", "message": start}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        ("ping", {"type": "ping"}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "text_delta", "text": "hel"}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "text_delta", "text": "lo"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta",
                           "delta": {"stop_reason": "max_tokens", "stop_sequence": None},
                           "usage": {"output_tokens": output_tokens}}),
        ("message_stop", {"type": "message_stop"}),
    )


@pytest.fixture
def instrumented(mon: Monitor, calls: list[ApiCallRecord]) -> Iterator[None]:
    kp.instrument(mon, on_call=calls.append)
    yield
    kp.uninstrument()


def client(server: LLMServer, **kw: Any) -> Any:
    return anthropic.Anthropic(api_key="test-key", base_url=server.url, **kw)


def async_client(server: LLMServer, **kw: Any) -> Any:
    return anthropic.AsyncAnthropic(api_key="test-key", base_url=server.url, **kw)


def create(c: Any, **kw: Any) -> Any:
    return c.messages.create(model=MODEL, max_tokens=300,
                             messages=[{"role": "user", "content": "hi"}], **kw)


@pytest.mark.usefixtures("instrumented")
def test_create_records_tokens_cache_split_cost_and_latency(
        server: LLMServer, mon: Monitor, calls: list[ApiCallRecord]) -> None:
    """A create() call is recorded with uncached input, cache reads, 5 m and 1 h writes and cost."""
    server.script(Reply(body=message(), delay_s=0.2, headers={"request-id": "req_42"}))
    with capture_events(mon) as events:
        result = create(client(server))
    assert result.content[0].text == "hello"
    (ev,) = [e for e in events if isinstance(e, ApiCallEvent)]
    assert (ev.provider, ev.model, ev.input_tokens, ev.output_tokens) == \
        ("anthropic", MODEL, 1000, 200)
    assert (ev.cache_read_tokens, ev.cache_write_tokens) == (5000, 3000)
    assert ev.error is None
    assert ev.cost_pico / 1e12 == pytest.approx(COST)
    assert 0.2 <= ev.duration_s < 5
    (rec,) = calls
    assert rec.cost_usd == pytest.approx(COST)
    assert (rec.usage.cache_write_tokens, rec.usage.cache_write_1h_tokens) == (2000, 1000)
    assert (rec.stop_reason, rec.request_id, rec.response_id) == ("end_turn", "req_42", "msg_01")
    assert rec.retries == 0 and not rec.streamed
    assert value(mon, "kaizen_api_tokens_total", agent="tester", provider="anthropic",
                 model=MODEL, type="cache_read") == 5000
    assert value(mon, "kaizen_api_cost_usd_total", agent="tester", provider="anthropic",
                 model=MODEL) == pytest.approx(COST)


@pytest.mark.usefixtures("instrumented")
def test_stream_true_records_time_to_first_token_and_final_usage(
        server: LLMServer, mon: Monitor, calls: list[ApiCallRecord]) -> None:
    """create(stream=True) is recorded once the stream is read, with TTFT and the stop reason."""
    server.script(Reply(events=stream_events(), event_delay_s=0.05))
    with capture_events(mon) as events:
        stream = create(client(server), stream=True)
        assert isinstance(stream, anthropic.Stream)
        assert not calls  # nothing until the stream is read
        kinds = [e.type for e in stream]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    (ev,) = [e for e in events if isinstance(e, ApiCallEvent)]
    assert (ev.input_tokens, ev.output_tokens, ev.cache_read_tokens) == (1000, 200, 5000)
    (rec,) = calls
    assert rec.streamed and rec.stop_reason == "max_tokens"
    assert rec.cost_usd == pytest.approx(COST)
    # 4 events (start, block start, ping, first delta) are each sent 50 ms apart
    assert rec.time_to_first_token_s is not None
    assert 0.15 <= rec.time_to_first_token_s < rec.duration_s
    assert rec.duration_s >= 0.35
    assert ev.ttft_s == pytest.approx(rec.time_to_first_token_s)
    assert ev.stop_reason == "max_tokens"
    assert value(mon, "kaizen_api_time_to_first_token_seconds_count", agent="tester",
                 provider="anthropic", model=MODEL) == 1


@pytest.mark.usefixtures("instrumented")
def test_messages_stream_helper_is_recorded(server: LLMServer,
                                            calls: list[ApiCallRecord]) -> None:
    """messages.stream() with get_final_message() records the same tokens as the raw stream."""
    server.script(Reply(events=stream_events(output_tokens=321)))
    with client(server).messages.stream(model=MODEL, max_tokens=400,
                                        messages=[{"role": "user", "content": "hi"}]) as s:
        final = s.get_final_message()
    assert final.usage.output_tokens == 321
    (rec,) = calls
    assert (rec.usage.input_tokens, rec.usage.output_tokens) == (1000, 321)
    assert rec.streamed and rec.time_to_first_token_s is not None


@pytest.mark.usefixtures("instrumented")
def test_retries_are_counted_with_status_codes(server: LLMServer, mon: Monitor,
                                               calls: list[ApiCallRecord]) -> None:
    """A 429 then a 500 then success: two errored attempts, then the tokens, in one call record."""
    server.script(error(429, "rate_limit_error"), error(500), Reply(body=message()))
    with capture_events(mon) as events:
        create(client(server, max_retries=3))
    api = [e for e in events if isinstance(e, ApiCallEvent)]
    assert [e.error for e in api] == ["http_429", "http_500", None]
    assert [e.input_tokens for e in api] == [0, 0, 1000]
    assert [s.headers.get("x-stainless-retry-count") for s in server.seen] == ["0", "1", "2"]
    (rec,) = calls
    assert [a.status_code for a in rec.retried] == [429, 500]
    assert rec.retries == 2 and rec.error is None
    assert value(mon, "kaizen_api_requests_total", agent="tester", provider="anthropic",
                 model=MODEL, status="error") == 2
    assert value(mon, "kaizen_api_requests_total", agent="tester", provider="anthropic",
                 model=MODEL, status="ok") == 1
    for code in ("429", "500"):
        assert value(mon, "kaizen_api_errors_total", agent="tester", provider="anthropic",
                     model=MODEL, status_code=code) == 1


@pytest.mark.usefixtures("instrumented")
def test_final_error_is_recorded_and_raised(server: LLMServer, calls: list[ApiCallRecord]) -> None:
    """When retries run out, the error reaches the agent and the call is recorded as failed."""
    server.script(error(529, "overloaded_error"), error(529, "overloaded_error"))
    with pytest.raises(anthropic.APIStatusError):
        create(client(server, max_retries=1))
    (rec,) = calls
    assert rec.error == "OverloadedError"
    assert rec.status_code == 529
    assert [a.status_code for a in rec.retried] == [529]


@pytest.mark.usefixtures("instrumented")
def test_async_create_and_stream(server: LLMServer, calls: list[ApiCallRecord]) -> None:
    """The async client is recorded the same way, for create() and messages.stream()."""
    server.script(Reply(body=message()), Reply(events=stream_events()))

    async def main() -> None:
        c = async_client(server)
        await create(c)
        async with c.messages.stream(model=MODEL, max_tokens=300,
                                     messages=[{"role": "user", "content": "hi"}]) as s:
            async for _ in s:
                pass
        await c.close()

    asyncio.run(main())
    assert [(r.streamed, r.usage.input_tokens, r.usage.output_tokens) for r in calls] == \
        [(False, 1000, 200), (True, 1000, 200)]
    assert all(r.cost_usd == pytest.approx(COST) for r in calls)


def test_uninstrument_restores_the_client(server: LLMServer, mon: Monitor) -> None:
    """After uninstrument(), calls are no longer recorded and the methods are the originals."""
    original = anthropic.resources.messages.messages.Messages.create
    kp.instrument(mon)
    assert kp.is_instrumented()
    assert anthropic.resources.messages.messages.Messages.create is not original
    kp.uninstrument()
    assert anthropic.resources.messages.messages.Messages.create is original
    server.script(Reply(body=message()))
    with capture_events(mon) as events:
        create(client(server))
    assert not [e for e in events if isinstance(e, ApiCallEvent)]
