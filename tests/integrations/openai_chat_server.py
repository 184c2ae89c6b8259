"""A fake OpenAI chat-completions server on 127.0.0.1 that knows its own ground truth.

Kaizen's default provider speaks OpenAI chat completions (``POST /chat/completions``,
no ``/v1`` when ``base_url`` is given; also Kaizen's ``azure_openai``,
``azure_ai_foundry``, ``perplexity`` and ``huggingface`` presets). ``POST /api/chat``
answers as Ollama's native wire does, ``…:generateContent`` as Gemini's and ``/chat``
as Cohere's. Each request takes the next scripted :class:`Turn`: a text answer, a
native ``tool_calls`` answer, or an HTTP error (429 with ``retry-after``, 500). A
request with ``"stream": true`` gets the same turn as server-sent events, usage in
the last chunk. Every answered turn adds to :attr:`OpenAIChatServer.truth`, so a
test compares what a monitor reports with what was really served, never with a
hard-coded number.

Run it standalone (``python -m tests.integrations.openai_chat_server SCRIPT.json``)
to serve a script from another process; it prints its URL on the first line.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.integrations.loopback_http import LoopbackHTTP


@dataclass(frozen=True)
class Turn:
    """One scripted answer. ``prompt_tokens`` includes ``cached_tokens`` (as OpenAI counts)."""

    text: str = ""
    tool: str | None = None  #: answer with one native tool call of this name
    arguments: dict[str, Any] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    status: int = 200  #: 429 or 5xx answer with an error body instead
    model: str = "gpt-4o-mini"
    delay_s: float = 0.0  #: before the answer (a slow provider)

    @staticmethod
    def error(status: int) -> Turn:
        """An error answer (429 carries ``retry-after: 0``)."""
        return Turn(status=status)


@dataclass
class Truth:
    """What the server really answered."""

    requests: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    streamed: int = 0
    input_tokens: int = 0  #: uncached prompt tokens (kaizen-perf's ``input`` type)
    output_tokens: int = 0
    cache_read_tokens: int = 0
    tool_calls: Counter[str] = field(default_factory=Counter)


class OpenAIChatServer(LoopbackHTTP):
    """``start()``, ``script(...)`` the turns, point Kaizen at :attr:`url`, ``stop()``."""

    def __init__(self) -> None:
        self.turns: deque[Turn] = deque()
        self.bodies: list[dict[str, Any]] = []
        self.truth = Truth()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms stall

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                turn = server._take(body)
                time.sleep(turn.delay_s)
                if turn.status != 200:
                    _send_json(self, turn.status, _error_body(turn.status),
                               {"retry-after": "0"} if turn.status == 429 else {})
                elif self.path.endswith("/api/chat"):  # Kaizen's Ollama-native wire
                    _send_json(self, 200, _ollama(turn), {})
                elif self.path.split("?")[0].endswith(":generateContent"):  # Gemini
                    _send_json(self, 200, _gemini(turn), {})
                elif self.path.split("?")[0].endswith("/chat"):  # Cohere
                    _send_json(self, 200, _cohere(turn), {})
                elif body.get("stream") is True:
                    _send_sse(self, _chunks(turn))
                else:
                    _send_json(self, 200, _completion(turn), {})

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._serve(Handler, "openai-chat")

    @classmethod
    def start(cls, *turns: Turn) -> OpenAIChatServer:
        server = cls()
        server.script(*turns)
        server._run()
        return server

    def script(self, *turns: Turn) -> None:
        with self._lock:
            self.turns.extend(turns)

    def _take(self, body: dict[str, Any]) -> Turn:
        with self._lock:
            self.bodies.append(body)
            turn = self.turns.popleft() if self.turns else Turn(text="unscripted", status=500)
            t = self.truth
            t.requests += 1
            t.by_status[turn.status] += 1
            if turn.status == 200:
                t.streamed += body.get("stream") is True
                t.input_tokens += turn.prompt_tokens - turn.cached_tokens
                t.output_tokens += turn.completion_tokens
                t.cache_read_tokens += turn.cached_tokens
                if turn.tool:
                    t.tool_calls[turn.tool] += 1
            return turn


def _usage(turn: Turn) -> dict[str, Any]:
    return {"prompt_tokens": turn.prompt_tokens, "completion_tokens": turn.completion_tokens,
            "total_tokens": turn.prompt_tokens + turn.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": turn.cached_tokens}}


def _tool_calls(turn: Turn) -> list[dict[str, Any]]:
    return [{"id": "call_1", "type": "function",
             "function": {"name": turn.tool, "arguments": json.dumps(turn.arguments)}}]


def _completion(turn: Turn) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": turn.text or None}
    if turn.tool:
        message["tool_calls"] = _tool_calls(turn)
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": turn.model,
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if turn.tool else "stop"}],
            "usage": _usage(turn)}


def _chunks(turn: Turn) -> list[dict[str, Any]]:
    head = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0,
            "model": turn.model}
    delta: dict[str, Any] = {"role": "assistant", "content": turn.text}
    if turn.tool:
        delta["tool_calls"] = [dict(c, index=0) for c in _tool_calls(turn)]
    return [
        {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
        {**head, "choices": [{"index": 0, "delta": {},
                              "finish_reason": "tool_calls" if turn.tool else "stop"}]},
        {**head, "choices": [], "usage": _usage(turn)},
    ]


def _ollama(turn: Turn) -> dict[str, Any]:
    """Ollama's ``/api/chat`` answer: no cache counts (``prompt_eval_count`` is all input)."""
    return {"model": turn.model, "message": {"role": "assistant", "content": turn.text},
            "done": True, "done_reason": "stop", "prompt_eval_count": turn.prompt_tokens,
            "eval_count": turn.completion_tokens}


def _gemini(turn: Turn) -> dict[str, Any]:
    """Gemini's ``generateContent`` answer; its prompt count includes cached content."""
    return {"candidates": [{"content": {"role": "model", "parts": [{"text": turn.text}]},
                            "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": turn.prompt_tokens,
                              "candidatesTokenCount": turn.completion_tokens,
                              "cachedContentTokenCount": turn.cached_tokens},
            "modelVersion": turn.model}


def _cohere(turn: Turn) -> dict[str, Any]:
    """Cohere's ``/chat`` answer: billed units only (no cache counts; cached tokens are
    billed as input)."""
    return {"text": turn.text, "finish_reason": "COMPLETE", "model": turn.model,
            "meta": {"billed_units": {"input_tokens": turn.prompt_tokens,
                                      "output_tokens": turn.completion_tokens}}}


def _error_body(status: int) -> dict[str, Any]:
    kind = "rate_limit_exceeded" if status == 429 else "server_error"
    return {"error": {"type": kind, "message": f"{kind} {status}", "code": kind}}


def _send_json(h: BaseHTTPRequestHandler, status: int, body: dict[str, Any],
               headers: dict[str, str]) -> None:
    data = json.dumps(body).encode()
    h.send_response(status)
    for name, value in headers.items():
        h.send_header(name, value)
    h.send_header("content-type", "application/json")
    h.send_header("content-length", str(len(data)))
    h.end_headers()
    h.wfile.write(data)


def _send_sse(h: BaseHTTPRequestHandler, chunks: list[dict[str, Any]]) -> None:
    h.send_response(200)
    h.send_header("content-type", "text/event-stream")
    h.send_header("transfer-encoding", "chunked")
    h.end_headers()
    for item in [*(json.dumps(c) for c in chunks), "[DONE]"]:
        frame = f"data: {item}\n\n".encode()
        h.wfile.write(f"{len(frame):x}\r\n".encode() + frame + b"\r\n")
        h.wfile.flush()
    h.wfile.write(b"0\r\n\r\n")


def main(argv: list[str]) -> None:
    """Serve the turns of a JSON file (a list of Turn fields) until stdin closes."""
    with open(argv[0]) as f:
        turns = [Turn(**t) for t in json.load(f)]
    server = OpenAIChatServer.start(*turns)
    print(server.url, flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
