"""The head-to-head workload and the one scripted LLM server that replays it (not a
benchmark module: no ``bench_`` prefix).

:func:`load_workload` reads ``h2h_workload.json``. :class:`H2HServer` answers its
steps in order, in the protocol of the framework under test:

- ``anthropic``: the Anthropic Messages API as the Claude Agent SDK's bundled CLI
  calls it (``POST /v1/messages?beta=true``, SSE streaming, usage split between
  ``message_start`` and ``message_delta`` as the real API does); a step with several
  tool calls is one answer with several ``tool_use`` blocks (a parallel call);
- ``openai``: OpenAI chat completions as a Kaizen agent calls it (``POST
  /chat/completions``, no streaming); ``MultiCycleStrategy`` runs one JSON tool
  action per cycle, so a parallel step is answered as one action per request,
  its usage split between them (the totals of both protocols are equal).

Every request is recorded (:class:`Record`): when its body had arrived and when
the answer's last byte was written (``time.perf_counter``, which is
CLOCK_MONOTONIC and so comparable with the drivers' timestamps on Linux), its
status, the tool calls and usage answered, and the tool results it carried.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

WORKLOAD = Path(__file__).with_name("h2h_workload.json")
ANTHROPIC_MODEL = "claude-opus-5-5"  # the bundled CLI's default model
OPENAI_MODEL = "gpt-4o-mini"
OBSERVATION = "Observation: "  # how Kaizen's prompt carries the last tool result

Call = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Step:
    """One scripted answer: tool calls, an HTTP error, or the final text."""

    tools: tuple[Call, ...] = ()
    error: int = 0
    text: str = ""
    usage: tuple[int, int] = (0, 0)  #: input, output tokens


@dataclass(frozen=True)
class Workload:
    """The prompt, the tool the user denies, and the steps, with ``{work}`` filled in."""

    prompt: str
    denied_tools: tuple[str, ...]
    steps: tuple[Step, ...]

    @property
    def calls(self) -> list[Call]:
        """Every tool call the model asks for, in order."""
        return [c for s in self.steps for c in s.tools]

    @property
    def tokens(self) -> tuple[int, int]:
        """Input and output tokens of every answered step."""
        return (sum(s.usage[0] for s in self.steps), sum(s.usage[1] for s in self.steps))

    @property
    def errors(self) -> list[int]:
        return [s.error for s in self.steps if s.error]


def load_workload(work: Path, path: Path = WORKLOAD) -> Workload:
    """The workload file with ``{work}`` replaced by the run's working directory."""
    raw = json.loads(path.read_text().replace("{work}", str(work)))
    steps = tuple(Step(tools=tuple((str(n), dict(a)) for n, a in s.get("tools", [])),
                       error=int(s.get("error", 0)), text=str(s.get("text", "")),
                       usage=(int(s.get("usage", [0, 0])[0]), int(s.get("usage", [0, 0])[1])))
                  for s in raw["steps"])
    return Workload(str(raw["prompt"]), tuple(raw["denied_tools"]), steps)


@dataclass(frozen=True)
class Record:
    """One request the server received and what it answered."""

    arrived_s: float  #: perf_counter when the request body had been read
    answered_s: float  #: perf_counter after the answer's last byte
    status: int
    calls: tuple[Call, ...]  #: tool calls answered
    usage: tuple[int, int]
    results: tuple[str, ...]  #: tool results the request carried (new ones)

    @property
    def server_s(self) -> float:
        return self.answered_s - self.arrived_s


@dataclass
class _Script:
    answers: list[Step]
    records: list[Record] = field(default_factory=list)
    unscripted: int = 0


def _openai_answers(steps: tuple[Step, ...]) -> list[Step]:
    out = []
    for s in steps:
        n = len(s.tools)
        if n <= 1:
            out.append(s)
            continue
        for i, call in enumerate(s.tools):  # one action per cycle; usage split, totals kept
            share = tuple(u // n + (u % n if i == 0 else 0) for u in s.usage)
            out.append(Step(tools=(call,), usage=(share[0], share[1])))
    return out


class H2HServer:
    """``H2HServer(workload, "anthropic" | "openai")``; ``url``; ``records``; ``stop()``."""

    def __init__(self, workload: Workload, protocol: str) -> None:
        if protocol not in ("anthropic", "openai"):
            msg = f"Protocol {protocol!r} is not served; use 'anthropic' or 'openai'."
            raise ValueError(msg)
        self.protocol = protocol
        answers = list(workload.steps) if protocol == "anthropic" \
            else _openai_answers(workload.steps)
        self._script = _Script(answers)
        self._lock = threading.Lock()
        self._ids = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="h2h-llm",
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def records(self) -> list[Record]:
        """Every request in arrival order (a handler thread may record after the next
        request's thread when the scheduler descheduled it between answering and recording)."""
        with self._lock:
            return sorted(self._script.records, key=lambda r: r.arrived_s)

    @property
    def unscripted(self) -> int:
        return self._script.unscripted

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)

    def _next(self) -> Step:
        with self._lock:
            if self._script.answers:
                return self._script.answers.pop(0)
            self._script.unscripted += 1
            return Step(text="(unscripted)", usage=(1, 1))

    def _record(self, record: Record) -> None:
        with self._lock:
            self._script.records.append(record)

    def _message_id(self) -> str:
        with self._lock:
            self._ids += 1
            return f"msg_{self._ids:04d}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", "0")))
                                  or b"{}")
                arrived = time.perf_counter()
                if "count_tokens" in self.path or not (
                        self.path.startswith("/v1/messages")
                        or self.path.endswith("/chat/completions")):
                    _send(self, 404, {"error": {"type": "not_found_error",
                                                "message": self.path}})
                    return
                step = server._next()
                results = _carried(body, server.protocol)
                if step.error:
                    _send(self, step.error, _error_body(step.error, server.protocol))
                elif server.protocol == "anthropic":
                    _stream(self, _anthropic_events(server._message_id(), step))
                else:
                    _send(self, 200, _completion(step))
                server._record(Record(arrived, time.perf_counter(), step.error or 200,
                                      () if step.error else step.tools,
                                      (0, 0) if step.error else step.usage, results))

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: a line per request would be timed as the framework's

        return Handler


def _carried(body: dict[str, Any], protocol: str) -> tuple[str, ...]:
    """The tool results the request's last user message carries."""
    messages = [m for m in body.get("messages") or () if m.get("role") == "user"]
    if not messages:
        return ()
    content = messages[-1].get("content")
    if protocol == "anthropic":
        return tuple(json.dumps(b.get("content")) for b in
                     (content if isinstance(content, list) else ())
                     if isinstance(b, dict) and b.get("type") == "tool_result")
    text = content if isinstance(content, str) else json.dumps(content)
    found = re.search(re.escape(OBSERVATION) + r"(.*?)(?:\n\n|$)", text, re.S)
    return (found.group(1),) if found else ()


def _error_body(status: int, protocol: str) -> dict[str, Any]:
    kind = "overloaded_error" if status == 529 else "api_error"
    if protocol == "anthropic":
        return {"type": "error", "error": {"type": kind, "message": f"scripted {status}"}}
    return {"error": {"type": kind, "message": f"scripted {status}", "code": kind}}


def _send(h: BaseHTTPRequestHandler, status: int, payload: dict[str, Any]) -> None:
    data = json.dumps(payload).encode()
    h.send_response(status)
    h.send_header("content-type", "application/json")
    h.send_header("content-length", str(len(data)))
    h.end_headers()
    h.wfile.write(data)


def _completion(step: Step) -> dict[str, Any]:
    if step.tools:
        name, args = step.tools[0]
        content = json.dumps({"action": "tool_use",
                              "action_input": {"tool_name": name, "params": args}})
    else:
        content = json.dumps({"answer": step.text, "done": True})
    return {"id": "chatcmpl-h2h", "object": "chat.completion", "created": 0,
            "model": OPENAI_MODEL,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": step.usage[0], "completion_tokens": step.usage[1],
                      "total_tokens": sum(step.usage)}}


def _stream(h: BaseHTTPRequestHandler, events: list[tuple[str, dict[str, Any]]]) -> None:
    h.send_response(200)
    h.send_header("content-type", "text/event-stream")
    h.send_header("cache-control", "no-cache")
    h.send_header("connection", "close")
    h.end_headers()
    h.wfile.write(b"".join(f"event: {n}\ndata: {json.dumps(d)}\n\n".encode()
                           for n, d in events))
    h.wfile.flush()
    h.close_connection = True


def _anthropic_events(message_id: str, step: Step) -> list[tuple[str, dict[str, Any]]]:
    start_usage = {"input_tokens": step.usage[0], "cache_creation_input_tokens": 0,
                   "cache_read_input_tokens": 0, "output_tokens": 1}
    events: list[tuple[str, dict[str, Any]]] = [("message_start", {
        "type": "message_start", "message": {
            "id": message_id, "type": "message", "role": "assistant",
            "model": ANTHROPIC_MODEL, "content": [], "stop_reason": None,
            "stop_sequence": None, "usage": start_usage}})]
    blocks: list[tuple[dict[str, Any], dict[str, Any]]] = []
    if step.text:
        blocks.append(({"type": "text", "text": ""}, {"type": "text_delta", "text": step.text}))
    for i, (name, args) in enumerate(step.tools):
        blocks.append(({"type": "tool_use", "id": f"toolu_{message_id[4:]}_{i}", "name": name,
                        "input": {}},
                       {"type": "input_json_delta", "partial_json": json.dumps(args)}))
    for index, (start, delta) in enumerate(blocks):
        events += [("content_block_start", {"type": "content_block_start", "index": index,
                                            "content_block": start}),
                   ("content_block_delta", {"type": "content_block_delta", "index": index,
                                            "delta": delta}),
                   ("content_block_stop", {"type": "content_block_stop", "index": index})]
    events += [("message_delta", {"type": "message_delta", "delta": {
        "stop_reason": "tool_use" if step.tools else "end_turn", "stop_sequence": None},
        "usage": {**start_usage, "output_tokens": step.usage[1]}}),
        ("message_stop", {"type": "message_stop"})]
    return events
