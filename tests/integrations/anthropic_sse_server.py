"""A scripted Anthropic Messages server on 127.0.0.1, streaming as the ``claude`` CLI asks.

The CLI bundled with ``claude-agent-sdk`` only sends ``POST /v1/messages?beta=true`` with
``"stream": true``. Each request takes the next scripted :class:`Turn`: an answer (text
and ``tool_use`` blocks, several for parallel tool calls, with the usage to report) or an
HTTP error (529 overloaded, 500 api_error) that the CLI retries. The server keeps the
ground truth tests compare kaizen-perf's figures with: every request, the answered ones
with their message id and usage, and the error statuses it sent.

Usage is reported as the real API does in streaming: ``message_start`` carries the input
and cache counts with ``output_tokens`` 1, and ``message_delta`` the final output count.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.integrations.loopback_http import LoopbackHTTP

MODEL = "claude-opus-5-5"  # the bundled CLI's default model


@dataclass(frozen=True)
class Tokens:
    """The usage one answer reports."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(self.input + other.input, self.output + other.output,
                      self.cache_read + other.cache_read, self.cache_write + other.cache_write)


@dataclass(frozen=True)
class Turn:
    """One scripted answer: content blocks and usage, or an HTTP error status."""

    text: str = ""
    tools: tuple[tuple[str, dict[str, Any]], ...] = ()  #: (tool name, input) per block
    usage: Tokens = Tokens()
    status: int = 200
    delay_s: float = 0.0  #: before the status line (a slow model)


def text(value: str, usage: Tokens) -> Turn:
    """An answer that ends the turn with ``value``."""
    return Turn(text=value, usage=usage)


def tool_use(*calls: tuple[str, dict[str, Any]], usage: Tokens) -> Turn:
    """An answer asking for one tool call, or several in parallel."""
    return Turn(tools=tuple(calls), usage=usage)


def error(status: int) -> Turn:
    """An HTTP error answer (529 overloaded, 500 api_error, ...)."""
    return Turn(status=status)


@dataclass(frozen=True)
class Request:
    """A request the server received, and what it answered."""

    path: str
    body: dict[str, Any]
    status: int
    message_id: str | None
    usage: Tokens | None
    received_s: float  #: perf_counter when the body had been read
    answered_s: float  #: perf_counter after the last byte was written


@dataclass
class Truth:
    """What the server did, to compare recorded figures with."""

    requests: list[Request] = field(default_factory=list)

    @property
    def answered(self) -> list[Request]:
        return [r for r in self.requests if r.status == 200 and r.usage is not None]

    @property
    def errors(self) -> list[int]:
        return [r.status for r in self.requests if r.status != 200]

    @property
    def tokens(self) -> Tokens:
        total = Tokens()
        for r in self.answered:
            assert r.usage is not None
            total = total + r.usage
        return total

    def tool_results(self) -> list[dict[str, Any]]:
        """Every distinct ``tool_result`` block the CLI sent back, in order."""
        seen: dict[str, dict[str, Any]] = {}
        for r in self.requests:
            for msg in r.body.get("messages", []):
                content = msg.get("content")
                for block in content if isinstance(content, list) else ():
                    if isinstance(block, dict) and block.get("type") == "tool_result":
                        seen.setdefault(block["tool_use_id"], block)
        return list(seen.values())


class AnthropicServer(LoopbackHTTP):
    """``AnthropicServer.start()``, ``script(...)`` turns, read ``truth``, ``stop()``."""

    def __init__(self, model: str = MODEL) -> None:
        self.model = model
        self.turns: deque[Turn] = deque()
        self.routes: dict[str, deque[Turn]] = {}  # marker in the first message → its turns
        self.truth = Truth()
        self.unscripted = 0  #: requests that found no turn left (answered with a short text)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._ready = threading.Event()
        self._serve(self._handler(), "anthropic-sse")

    @classmethod
    def start(cls, model: str = MODEL) -> AnthropicServer:
        server = cls(model)
        server._run()
        return server

    def script(self, *turns: Turn) -> None:
        with self._lock:
            self.turns.extend(turns)

    def route(self, marker: str, *turns: Turn) -> None:
        """Answer requests told ``marker`` but never saying it (a subagent's) with ``turns``.

        A subagent runs beside its parent, so one ordered script would race between them.
        """
        with self._lock:
            self.routes.setdefault(marker, deque()).extend(turns)

    def reset(self) -> Truth:
        """Start a fresh record (and drop unused turns); returns the old one."""
        with self._lock:
            old, self.truth = self.truth, Truth()
            self.turns.clear()
            self.routes.clear()
            self.unscripted = 0
            return old

    def _next(self, body: dict[str, Any]) -> Turn:
        said = {"user": "", "assistant": ""}
        for m in body.get("messages") or ():
            said[m.get("role", "user")] = said.get(m.get("role", "user"), "") + json.dumps(m)
        with self._lock:
            for marker, turns in self.routes.items():
                if turns and marker in said["user"] and marker not in said["assistant"]:
                    return turns.popleft()
            if self.turns:
                return self.turns.popleft()
            self.unscripted += 1
        return text("(unscripted)", Tokens(10, 2))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                received = time.perf_counter()
                if not self.path.startswith("/v1/messages") or "count_tokens" in self.path:
                    self._send_json(404, {"type": "error", "error": {
                        "type": "not_found_error", "message": self.path}})
                    server._log(Request(self.path, body, 404, None, None, received,
                                        time.perf_counter()))
                    return
                turn = server._next(body)
                if turn.delay_s:
                    time.sleep(turn.delay_s)
                if turn.status != 200:
                    kind = "overloaded_error" if turn.status == 529 else "api_error"
                    self._send_json(turn.status, {"type": "error", "error": {
                        "type": kind, "message": f"scripted {turn.status}"}})
                    server._log(Request(self.path, body, turn.status, None, None, received,
                                        time.perf_counter()))
                    return
                message_id = f"msg_{next(server._ids):04d}"
                self._stream(server._events(message_id, turn, body))
                server._log(Request(self.path, body, 200, message_id, turn.usage, received,
                                    time.perf_counter()))

            def do_GET(self) -> None:
                self._send_json(404, {"type": "error", "error": {"type": "not_found_error",
                                                                 "message": self.path}})

            def _send_json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.send_header("request-id", f"req_{status}")
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, events: Iterator[tuple[str, dict[str, Any]]]) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("cache-control", "no-cache")
                self.send_header("connection", "close")
                self.end_headers()
                for name, data in events:
                    self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
                    self.wfile.flush()
                self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler

    def _log(self, request: Request) -> None:
        with self._lock:
            self.truth.requests.append(request)

    def _events(self, message_id: str, turn: Turn, body: dict[str, Any],
                ) -> Iterator[tuple[str, dict[str, Any]]]:
        u = turn.usage
        start_usage = {"input_tokens": u.input, "cache_creation_input_tokens": u.cache_write,
                       "cache_read_input_tokens": u.cache_read, "output_tokens": 1}
        yield "message_start", {"type": "message_start", "message": {
            "id": message_id, "type": "message", "role": "assistant",
            "model": body.get("model", self.model), "content": [], "stop_reason": None,
            "stop_sequence": None, "usage": start_usage}}
        index = 0
        if turn.text:
            yield from _block(index, {"type": "text", "text": ""},
                              {"type": "text_delta", "text": turn.text})
            index += 1
        for name, tool_input in turn.tools:
            block = {"type": "tool_use", "id": f"toolu_{message_id[4:]}_{index}", "name": name,
                     "input": {}}
            yield from _block(index, block, {"type": "input_json_delta",
                                             "partial_json": json.dumps(tool_input)})
            index += 1
        yield "message_delta", {"type": "message_delta", "delta": {
            "stop_reason": "tool_use" if turn.tools else "end_turn", "stop_sequence": None},
            "usage": {**start_usage, "output_tokens": u.output}}
        yield "message_stop", {"type": "message_stop"}


def _block(index: int, start: dict[str, Any], delta: dict[str, Any],
           ) -> Iterator[tuple[str, dict[str, Any]]]:
    yield "content_block_start", {"type": "content_block_start", "index": index,
                                  "content_block": start}
    yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
    yield "content_block_stop", {"type": "content_block_stop", "index": index}
