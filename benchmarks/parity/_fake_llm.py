"""A fixed OpenAI-compatible chat-completions answer, so a real Kaizen agent runs offline
(not a benchmark module). ``python -m benchmarks.parity._fake_llm`` serves it on a free
port of 127.0.0.1, prints the port, and exits when its standard input closes: the ADR-017
benchmark runs it as a child process so that its threads are not timed as the agent's.

Kaizen's SSRF guard refuses loopback peers when it connects
(``kaizen.llm.http_client.SafeDnsResolver.check_host``, no setting turns it off):
:func:`allow_loopback` lets exactly ``localhost`` through; every other host is
still checked by Kaizen's own code. The agent is pointed at
``http://localhost:PORT`` because Kaizen's URL check refuses a literal 127.0.0.1.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "gpt-4o-mini"
ANSWER = json.dumps({
    "id": "chatcmpl-parity", "object": "chat.completion", "created": 0, "model": MODEL,
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": '{"answer": "35"}'}}],
    "usage": {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49}}).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(ANSWER)))
        self.end_headers()
        self.wfile.write(ANSWER)

    def log_message(self, *args: Any) -> None:
        """Quiet: a line per request would be timed as part of the agent."""


def allow_loopback() -> None:
    """Let Kaizen's connect-time SSRF check pass ``localhost`` and ``127.0.0.1`` only."""
    from kaizen.llm.http_client import SafeDnsResolver

    original = SafeDnsResolver.check_host
    if getattr(original, "_parity_loopback", False):
        return

    def check_host(self: Any, host: str) -> None:
        if host not in ("localhost", "127.0.0.1"):
            original(self, host)

    check_host._parity_loopback = True  # type: ignore[attr-defined]
    SafeDnsResolver.check_host = check_host  # type: ignore[method-assign]


def main() -> None:
    """Serve until the parent closes our standard input (however the parent ended)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, name="parity-fake-llm", daemon=True).start()
    print(server.server_port, flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
