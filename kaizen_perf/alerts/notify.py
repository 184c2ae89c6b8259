"""Where alerts go: the log, a webhook (HTTP POST of JSON), a user callback.

Notifiers are called on the alert thread. The webhook notifier only queues: its
own thread (``kaizen-perf-alerts``) posts with a timeout and retries with
backoff, so a dead receiver delays nothing but its own deliveries. Its queue is
bounded; what does not fit is dropped and counted.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from typing import Any

from kaizen_perf._ratelimit import RateLimitedLog
from kaizen_perf.alerts.model import Alert
from kaizen_perf.errors import ConfigError

logger = logging.getLogger("kaizen_perf.alerts")
Post = Callable[[str, bytes, float], int]


class LogNotifier:
    """Logs firing alerts as warnings (critical ones as errors) and resolutions as info."""

    def __init__(self, log: logging.Logger = logger) -> None:
        self._log = log

    def notify(self, alert: Alert) -> None:
        """Write one line per notification (plus where a stuck agent is, when known)."""
        if alert.status == "resolved":
            self._log.info("kaizen-perf alert resolved: %s %s", alert.rule, dict(alert.labels))
            return
        level = logging.ERROR if alert.severity == "critical" else logging.WARNING
        where = ""
        if alert.snapshot:
            tools = alert.snapshot.get("tools_in_progress") or []
            llm = alert.snapshot.get("llm_calls_in_progress") or []
            parts = [f"tool {t['tool']!r} running {t['running_s']:.0f}s" for t in tools[:3]]
            parts += [f"LLM call in {c['frame']}" for c in llm[:2]]
            where = f"; in progress: {', '.join(parts)}" if parts else ""
        self._log.log(level, "kaizen-perf alert [%s] %s: %s%s", alert.severity, alert.rule,
                      alert.summary, where)


class CallbackNotifier:
    """Calls a user function with each alert; its exceptions are logged, never raised."""

    def __init__(self, fn: Callable[[Alert], object], *, log: RateLimitedLog | None = None) -> None:
        self._fn, self._log = fn, log or RateLimitedLog()

    def notify(self, alert: Alert) -> None:
        """Hand the alert to the callback."""
        try:
            self._fn(alert)
        except Exception as exc:
            self._log("alert-callback", f"kaizen-perf alert callback failed on {alert.rule}: "
                      f"{exc!r}")


def urllib_post(url: str, body: bytes, timeout_s: float) -> int:
    """POST JSON with the standard library; returns the HTTP status."""
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/json",
                                          "User-Agent": "kaizen-perf-alerts"})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def check_url(url: str) -> str:
    """The webhook URL, or ConfigError when it is not http(s)."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        msg = (f"Alert webhook URL {url!r} is not valid: expected an http:// or https:// URL "
               "such as http://127.0.0.1:9000/alerts (KAIZEN_PERF_ALERT_WEBHOOK).")
        raise ConfigError(msg)
    return url


class WebhookNotifier:
    """POSTs each alert as JSON from its own thread, with a timeout and retries."""

    def __init__(self, url: str, *, timeout_s: float = 2.0, retries: int = 3,
                 backoff_s: float = 0.5, queue_size: int = 1000, post: Post = urllib_post,
                 on_failure: Callable[[], object] | None = None,
                 log: RateLimitedLog | None = None) -> None:
        self.url = check_url(url)
        self._timeout, self._retries, self._backoff = timeout_s, retries, backoff_s
        self._post, self._on_failure = post, on_failure
        self._log = log or RateLimitedLog()
        # Unbounded deque, bounded by the check in notify(): a deque maxlen would drop the
        # oldest alert silently; here the newest is refused and counted. Only the alert
        # thread appends and only the delivery thread pops, and both are atomic on a deque,
        # so the two threads share it without a lock.
        self._queue: deque[Alert] = deque(maxlen=None)
        self._size = queue_size
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # only for starting the thread (once, and after a fork)
        # delivered/failed: written by the delivery thread; dropped: by the alert thread,
        # then by close(), which the engine calls after joining that thread. One writer
        # at a time each: no lock.
        self.delivered = self.failed = self.dropped = 0

    def notify(self, alert: Alert) -> None:
        """Queue the alert for delivery (drop and count when the queue is full)."""
        if self._stop.is_set():
            return
        if len(self._queue) >= self._size:
            self.dropped += 1
            return
        self._queue.append(alert)
        self._ensure_thread()
        self._wake.set()

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="kaizen-perf-alerts",
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            # The timeout is a safety net, not the signal: clearing before draining means
            # an alert queued while we deliver sets the event again and is not missed.
            self._wake.wait(1.0)
            self._wake.clear()
            while self._queue and not self._stop.is_set():
                self._deliver(self._queue.popleft())

    def _deliver(self, alert: Alert) -> None:
        body = json.dumps({"version": 1, **alert.to_json()}, default=str).encode("utf-8")
        error: Any = None
        for attempt in range(self._retries + 1):
            # Backoff waits on the stop event, not time.sleep: close() ends a retry at once,
            # so a dead receiver never holds up shutdown beyond one request's timeout.
            if attempt and self._stop.wait(self._backoff * 2 ** (attempt - 1)):
                break  # shutting down: give up the retries
            try:
                status = self._post(self.url, body, self._timeout)
            except (OSError, ValueError) as exc:
                error = exc
                continue
            if 200 <= status < 300:
                self.delivered += 1
                return
            error = f"HTTP {status}"
        self.failed += 1
        if self._on_failure is not None:
            self._on_failure()
        self._log("alert-webhook", f"kaizen-perf could not deliver alert {alert.rule} to "
                  f"{self.url} after {self._retries + 1} attempts: {error}")

    def close(self, timeout_s: float) -> None:
        """Stop the delivery thread (undelivered alerts are dropped and counted)."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
        self.dropped += len(self._queue)
        self._queue.clear()

    def after_fork(self) -> None:
        """A forked child has no delivery thread: start a fresh one on the next alert."""
        self._lock = threading.Lock()
        self._thread = None
