"""A scripted HTTP server on 127.0.0.1 that speaks the Anthropic and OpenAI wire formats.

Each request pops the next scripted :class:`Reply`: a status, a JSON body or a list of
server-sent events, and delays (before the headers, and between events). Requests are
kept (path, headers, JSON body) so tests can check what the real client sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.integrations.loopback_http import LoopbackHTTP


@dataclass(frozen=True)
class Reply:
    """One scripted response."""

    status: int = 200
    body: dict[str, Any] | None = None
    events: tuple[tuple[str | None, dict[str, Any] | str], ...] = ()
    delay_s: float = 0.0  #: before the status line
    event_delay_s: float = 0.0  #: before each event
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Seen:
    """A request the server received."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class LLMServer(LoopbackHTTP):
    """Start with ``LLMServer.start()``; ``script(...)`` the replies; ``stop()`` at the end."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                server._record(Seen(self.path, dict(self.headers.items()), body))
                server._answer(self, server._next())

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._serve(Handler, "llm-server")

    @classmethod
    def start(cls) -> LLMServer:
        server = cls()
        server._run()
        return server

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self.replies.extend(replies)

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)

    def _next(self) -> Reply:
        with self._lock:
            if self.replies:
                return self.replies.popleft()
        return Reply(500, {"error": {"type": "test_error", "message": "no reply scripted"}})

    def _answer(self, h: BaseHTTPRequestHandler, reply: Reply) -> None:
        time.sleep(reply.delay_s)
        h.send_response(reply.status)
        for name, value in reply.headers.items():
            h.send_header(name, value)
        if not reply.events:
            data = json.dumps(reply.body or {}).encode()
            h.send_header("content-type", "application/json")
            h.send_header("content-length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
            return
        h.send_header("content-type", "text/event-stream")
        h.send_header("transfer-encoding", "chunked")
        h.end_headers()
        for chunk in _sse(reply.events):
            time.sleep(reply.event_delay_s)
            h.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            h.wfile.flush()
        h.wfile.write(b"0\r\n\r\n")


def _sse(events: tuple[tuple[str | None, dict[str, Any] | str], ...]) -> Iterator[bytes]:
    for name, data in events:
        text = data if isinstance(data, str) else json.dumps(data)
        head = f"event: {name}\n" if name else ""
        yield f"{head}data: {text}\n\n".encode()


def error(status: int, kind: str = "api_error", *, retry_after_ms: int = 5) -> Reply:
    """An API error both clients understand, asking for a short retry delay."""
    return Reply(status, {"type": "error", "error": {"type": kind, "message": f"{kind} {status}"}},
                 headers={"retry-after-ms": str(retry_after_ms)})
