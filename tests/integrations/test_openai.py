"""The real ``openai`` client against a local server speaking its wire format.

Prices from kaizen_perf/data/pricing.toml (USD per million tokens):
gpt-4o input 2.5, output 10, cache_read 1.25; gpt-4.1 input 2, output 8, cache_read 0.5.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from kaizen_perf import Monitor
from kaizen_perf.events import ApiCallEvent
from kaizen_perf.integrations import ApiCallRecord
from kaizen_perf.testing import capture_events
from tests.integrations.llm_server import LLMServer, Reply, error
from tests.unit.metrics_util import value

openai = pytest.importorskip("openai")
from kaizen_perf.integrations import openai as kp  # noqa: E402

CHAT_MODEL, RESP_MODEL = "gpt-4o-2024-08-06", "gpt-4.1-2025-04-14"
CHAT_USAGE = {"prompt_tokens": 3000, "completion_tokens": 500, "total_tokens": 3500,
              "prompt_tokens_details": {"cached_tokens": 2048}}
#: prompt_tokens includes the 2048 cached: (952·2.5 + 500·10 + 2048·1.25) / 10⁶ = $0.00994
CHAT_COST = 0.00994
RESP_USAGE = {"input_tokens": 4000, "output_tokens": 300, "total_tokens": 4300,
              "input_tokens_details": {"cached_tokens": 1000, "cache_write_tokens": 0},
              "output_tokens_details": {"reasoning_tokens": 120}}
#: (3000·2 + 300·8 + 1000·0.5) / 10⁶ = $0.0089
RESP_COST = 0.0089


def completion() -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": CHAT_MODEL,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                         "finish_reason": "stop", "logprobs": None}],
            "usage": CHAT_USAGE}


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1,
            "model": CHAT_MODEL, "choices": [{"index": 0, "delta": delta,
                                              "finish_reason": finish}]}


def chat_stream(with_usage: bool, finish: str = "length") -> tuple[tuple[str | None, Any], ...]:
    events: list[tuple[str | None, Any]] = [
        (None, chunk({"role": "assistant", "content": ""})),
        (None, chunk({"content": "hel"})), (None, chunk({"content": "lo"})),
        (None, chunk({}, finish)),
    ]
    if with_usage:
        events.append((None, {**chunk({}), "choices": [], "usage": CHAT_USAGE}))
    events.append((None, "[DONE]"))
    return tuple(events)


def response(status: str = "completed", usage: dict[str, Any] | None = RESP_USAGE) -> Any:
    return {"id": "resp_1", "object": "response", "created_at": 1, "status": status,
            "model": RESP_MODEL, "output": [{"type": "message", "id": "msg_1",
                                             "status": "completed", "role": "assistant",
                                             "content": [{"type": "output_text", "text": "hi",
                                                          "annotations": []}]}],
            "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
            "incomplete_details": None, "usage": usage}


def responses_stream() -> tuple[tuple[str | None, Any], ...]:
    return (
        ("response.created", {"type": "response.created", "sequence_number": 0,
                              "response": response("in_progress", None)}),
        ("response.output_text.delta", {"type": "response.output_text.delta",
                                        "item_id": "msg_1", "output_index": 0,
                                        "content_index": 0, "delta": "hi", "logprobs": [],
                                        "sequence_number": 1}),
        ("response.completed", {"type": "response.completed", "sequence_number": 2,
                                "response": response()}),
    )


@pytest.fixture
def instrumented(mon: Monitor, calls: list[ApiCallRecord]) -> Iterator[None]:
    kp.instrument(mon, on_call=calls.append)
    yield
    kp.uninstrument()


def client(server: LLMServer, **kw: Any) -> Any:
    return openai.OpenAI(api_key="test-key", base_url=f"{server.url}/v1", **kw)


def chat(c: Any, **kw: Any) -> Any:
    return c.chat.completions.create(model=CHAT_MODEL, messages=[{"role": "user",
                                                                  "content": "hi"}], **kw)


@pytest.mark.usefixtures("instrumented")
def test_chat_completion_subtracts_cached_tokens_from_prompt_tokens(
        server: LLMServer, mon: Monitor, calls: list[ApiCallRecord]) -> None:
    """prompt_tokens includes cached tokens: input is the rest, cached ones are cache_read."""
    server.script(Reply(body=completion(), delay_s=0.15, headers={"x-request-id": "req_7"}))
    with capture_events(mon) as events:
        chat(client(server))
    (ev,) = [e for e in events if isinstance(e, ApiCallEvent)]
    assert (ev.provider, ev.model, ev.input_tokens, ev.cache_read_tokens, ev.output_tokens) == \
        ("openai", CHAT_MODEL, 952, 2048, 500)
    assert ev.cost_pico / 1e12 == pytest.approx(CHAT_COST)
    assert 0.15 <= ev.duration_s < 5
    (rec,) = calls
    assert (rec.stop_reason, rec.request_id, rec.operation) == ("stop", "req_7", "chat")
    assert value(mon, "kaizen_api_cost_usd_total", agent="tester", provider="openai",
                 model=CHAT_MODEL) == pytest.approx(CHAT_COST)


@pytest.mark.usefixtures("instrumented")
def test_streamed_chat_with_include_usage(server: LLMServer,
                                          calls: list[ApiCallRecord]) -> None:
    """A streamed chat completion takes its tokens from the final usage chunk, with TTFT."""
    server.script(Reply(events=chat_stream(True), event_delay_s=0.05))
    stream = chat(client(server), stream=True, stream_options={"include_usage": True})
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "hello"
    (rec,) = calls
    assert (rec.usage.input_tokens, rec.usage.cache_read_tokens, rec.usage.output_tokens) == \
        (952, 2048, 500)
    assert rec.stop_reason == "length" and rec.streamed
    assert rec.time_to_first_token_s is not None
    assert 0.1 <= rec.time_to_first_token_s < rec.duration_s
    assert rec.cost_usd == pytest.approx(CHAT_COST)


@pytest.mark.usefixtures("instrumented")
def test_streamed_chat_without_usage_warns_instead_of_costing_zero(
        server: LLMServer, calls: list[ApiCallRecord], caplog: pytest.LogCaptureFixture) -> None:
    """Without include_usage the request is still counted and a warning says tokens are missing."""
    server.script(Reply(events=chat_stream(False)))
    with caplog.at_level(logging.WARNING, logger="kaizen_perf"):
        for _ in chat(client(server), stream=True):
            pass
    (rec,) = calls
    assert rec.usage.input_tokens == 0 and rec.usage.output_tokens == 0
    assert "include_usage" in caplog.text


@pytest.mark.usefixtures("instrumented")
def test_chat_stream_helper_is_recorded_once(server: LLMServer,
                                             calls: list[ApiCallRecord]) -> None:
    """chat.completions.stream() goes through create(): one record with the usage chunk's tokens."""
    server.script(Reply(events=chat_stream(True, "stop")))
    with client(server).chat.completions.stream(
            model=CHAT_MODEL, messages=[{"role": "user", "content": "hi"}],
            stream_options={"include_usage": True}) as s:
        s.get_final_completion()
    (rec,) = calls
    assert (rec.usage.input_tokens, rec.usage.output_tokens) == (952, 500)


@pytest.mark.usefixtures("instrumented")
def test_responses_create_and_stream(server: LLMServer, calls: list[ApiCallRecord]) -> None:
    """responses.create() with and without stream=True: cached input split out, same cost."""
    server.script(Reply(body=response()), Reply(events=responses_stream()))
    c = client(server)
    c.responses.create(model=RESP_MODEL, input="hi")
    for _ in c.responses.create(model=RESP_MODEL, input="hi", stream=True):
        pass
    assert [(r.operation, r.streamed, r.usage.input_tokens, r.usage.cache_read_tokens,
             r.usage.output_tokens) for r in calls] == \
        [("responses", False, 3000, 1000, 300), ("responses", True, 3000, 1000, 300)]
    assert [r.cost_usd for r in calls] == [pytest.approx(RESP_COST)] * 2
    assert calls[0].stop_reason == "completed"
    assert calls[1].time_to_first_token_s is not None


@pytest.mark.usefixtures("instrumented")
def test_retries_then_success(server: LLMServer, mon: Monitor,
                              calls: list[ApiCallRecord]) -> None:
    """429 then 500 then success: the client's own retries show as two errored attempts."""
    server.script(error(429, "rate_limit_exceeded"), error(500), Reply(body=completion()))
    with capture_events(mon) as events:
        chat(client(server, max_retries=2))
    assert [e.error for e in events if isinstance(e, ApiCallEvent)] == \
        ["http_429", "http_500", None]
    (rec,) = calls
    assert [a.status_code for a in rec.retried] == [429, 500]


@pytest.mark.usefixtures("instrumented")
def test_async_chat_and_final_error(server: LLMServer, calls: list[ApiCallRecord]) -> None:
    """The async client is recorded; a 400 is not retried and is recorded with its status."""
    server.script(Reply(body=completion()), error(400, "invalid_request_error"))

    async def main() -> None:
        c = openai.AsyncOpenAI(api_key="k", base_url=f"{server.url}/v1", max_retries=2)
        await chat(c)
        with pytest.raises(openai.BadRequestError):
            await chat(c)
        await c.close()

    asyncio.run(main())
    assert [(r.error, r.status_code, r.retries) for r in calls] == \
        [(None, None, 0), ("BadRequestError", 400, 0)]
    assert calls[0].cost_usd == pytest.approx(CHAT_COST)
