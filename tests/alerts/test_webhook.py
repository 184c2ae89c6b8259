"""Webhook delivery to a real HTTP server on 127.0.0.1: retries, timeouts, never blocking."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from kaizen_perf import Monitor
from kaizen_perf.alerts import Alert, WebhookNotifier
from kaizen_perf.alerts.notify import urllib_post
from kaizen_perf.errors import ConfigError
from kaizen_perf.testing import FakeClock
from tests.helpers import free_port
from tests.unit.metrics_util import value


class Receiver:
    """A real HTTP server that records POSTed JSON; can fail or hang on purpose."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.statuses: list[int] = []  # responses to give, in order (then 200)
        self.release = threading.Event()
        self.release.set()
        self.started = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver.started.set()
                receiver.release.wait(10)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                if status == 200:
                    receiver.bodies.append(json.loads(body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, name="test-receiver")

    def wait_for(self, n: int, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.bodies) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.bodies) >= n, f"received {len(self.bodies)} of {n} alerts"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.release.set()
    r.server.shutdown()
    r.server.server_close()
    r.thread.join(5)


def _alert(rule: str = "KaizenAgentStuck") -> Alert:
    return Alert(rule, "stuck", "critical", "firing", {"agent": "a"}, 700.0, 600.0,
                 "agent 'a' finished no loop iteration for 700s", 1.0, 2.0,
                 {"tools_in_progress": [{"tool": "bash", "running_s": 700.0}]})


def _wait(cond: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cond()


def test_alert_is_posted_as_json(receiver: Receiver) -> None:
    """The receiver gets the alert, its labels and the stuck snapshot as JSON."""
    hook = WebhookNotifier(receiver.url)
    hook.notify(_alert())
    receiver.wait_for(1)
    hook.close(2.0)
    body = receiver.bodies[0]
    assert body["version"] == 1 and body["rule"] == "KaizenAgentStuck"
    assert body["status"] == "firing" and body["labels"] == {"agent": "a"}
    assert body["snapshot"]["tools_in_progress"][0]["tool"] == "bash"


def test_server_errors_are_retried(receiver: Receiver) -> None:
    """Two 503s then a 200: delivered on the third attempt."""
    receiver.statuses = [503, 503]
    hook = WebhookNotifier(receiver.url, backoff_s=0.01, retries=3)
    hook.notify(_alert())
    receiver.wait_for(1)
    _wait(lambda: hook.delivered == 1)
    hook.close(2.0)
    assert hook.failed == 0


def test_server_down_retries_then_counts_a_failure() -> None:
    """With nothing listening, each attempt is made, then one failure is counted."""
    attempts: list[int] = []
    failures: list[int] = []

    def post(url: str, body: bytes, timeout_s: float) -> int:
        attempts.append(1)
        return urllib_post(url, body, timeout_s)

    hook = WebhookNotifier(f"http://127.0.0.1:{free_port()}/", retries=2, backoff_s=0.01,
                           post=post, on_failure=lambda: failures.append(1))
    hook.notify(_alert())
    _wait(lambda: hook.failed == 1)
    hook.close(2.0)
    assert len(attempts) == 3 and failures == [1] and hook.delivered == 0


def test_a_hanging_receiver_never_blocks_the_agent(receiver: Receiver) -> None:
    """While the webhook waits on a stuck receiver, hooks run and alerts queue up."""
    receiver.release.clear()
    clock = FakeClock()
    mon = Monitor("hooked", clock=clock, environ={}, budget_usd=0.001,
                  alert_webhook=receiver.url)
    try:
        assert mon.alerts is not None
        for _ in range(2):
            mon.record_api_call("anthropic", "claude-haiku-4-5", input_tokens=1000)
        mon.flush()
        mon.alerts.evaluate()  # three budget alerts: the first POST hangs in the receiver
        assert receiver.started.wait(10)
        for _ in range(1000):
            with mon.tool("work"):
                clock.advance(0.001)
        assert value(mon, "kaizen_tool_calls_total", agent="hooked", tool="work",
                     status="ok") == 1000
        assert receiver.bodies == []  # still hanging: nothing delivered, nothing blocked
        receiver.release.set()
        receiver.wait_for(3)
    finally:
        receiver.release.set()
        mon.shutdown(3.0)
    assert {b["labels"]["threshold"] for b in receiver.bodies} == {"50%", "80%", "100%"}


def test_failed_deliveries_count_as_export_errors() -> None:
    """A monitor's webhook that cannot deliver shows in kaizen_perf_export_errors_total."""
    mon = Monitor("down", environ={}, alert_webhook=f"http://127.0.0.1:{free_port()}/")
    try:
        hook = mon.alerts.notifiers[-1] if mon.alerts else None
        assert isinstance(hook, WebhookNotifier)
        hook._backoff = 0.01
        hook.notify(_alert())
        _wait(lambda: hook.failed == 1)
        assert value(mon, "kaizen_perf_export_errors_total", exporter="alert_webhook") == 1
    finally:
        mon.shutdown(3.0)


def test_webhook_url_must_be_http() -> None:
    """A URL without http:// or https:// is a ConfigError at start-up."""
    with pytest.raises(ConfigError, match="KAIZEN_PERF_ALERT_WEBHOOK='ftp://x'"):
        Monitor(environ={"KAIZEN_PERF_ALERT_WEBHOOK": "ftp://x"})
    with pytest.raises(ConfigError, match="http:// or https://"):
        WebhookNotifier("localhost:9000")
