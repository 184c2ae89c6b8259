"""Forwarding hook events from monitored child processes to the ``kaizen-perf run`` process.

Under ``kaizen-perf run`` every Python process of the agent's tree records hook
events with its own monitor, but only the runner serves /metrics. Each child's
:class:`ForwardSink` sends its batches as JSON datagrams over a Unix socket in
the run directory; the runner's :class:`ForwardReceiver` thread decodes them
into events and puts them on its own pipeline. Datagrams are sent without
blocking: when the runner is slow or gone, the batch is dropped and counted.
JSON rather than pickle: nothing a child sends can execute code in the runner.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from kaizen_perf.events import EVENT_TYPES, Event
from kaizen_perf.pipeline import SinkBase

_MAX_DATAGRAM = 60_000
_INDEX = {cls: i for i, cls in enumerate(EVENT_TYPES)}


def encode(batch: Sequence[Event]) -> list[bytes]:
    """Encode events as JSON datagrams of at most ~60 KB each."""
    out: list[bytes] = []
    chunk: list[str] = []
    size = 2
    for event in batch:
        item = json.dumps([_INDEX[type(event)], *event], separators=(",", ":"))
        if chunk and size + len(item) + 1 > _MAX_DATAGRAM:
            out.append(("[" + ",".join(chunk) + "]").encode())
            chunk, size = [], 2
        chunk.append(item)
        size += len(item) + 1
    if chunk:
        out.append(("[" + ",".join(chunk) + "]").encode())
    return out


def decode(data: bytes) -> list[Event]:
    """Events from one datagram; malformed items are skipped."""
    events: list[Event] = []
    try:
        items = json.loads(data)
    except ValueError:
        return events
    for item in items if isinstance(items, list) else ():
        try:
            cls = EVENT_TYPES[item[0]]
            # JSON has no tuples: a tuple field (ApiCallEvent.tool_calls) comes back a list
            events.append(cls(*[tuple(x) if type(x) is list else x for x in item[1:]]))
        except (IndexError, TypeError, KeyError):
            continue
    return events


class ForwardSink(SinkBase):
    """Child side: sends every batch to the runner's socket, never blocking."""

    def __init__(self, path: str | Path) -> None:
        self._path = str(path)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self.dropped = 0
        self.errors = 0

    @property
    def export_errors(self) -> dict[str, int]:
        """Failed sends (``kaizen_perf_export_errors_total{exporter="forward"}``)."""
        return {"forward": self.errors}

    @property
    def dropped_events(self) -> dict[str, int]:
        """Events not delivered to the runner (``kaizen_perf_events_dropped_total``)."""
        return {"forward": self.dropped}

    def handle(self, batch: Sequence[Event]) -> None:
        """Send the batch; count what could not be sent."""
        for datagram in encode(batch):
            try:
                self._sock.sendto(datagram, self._path)
            except (BlockingIOError, ConnectionRefusedError, FileNotFoundError, OSError):
                self.dropped += datagram.count(b"],[") + 1
                self.errors += 1

    def after_fork(self) -> None:
        """A forked child gets its own socket."""
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setblocking(False)

    def close(self, timeout_s: float) -> None:
        """Close the socket."""
        self._sock.close()


class ForwardReceiver:
    """Runner side: a thread that receives datagrams and hands their events to ``put``."""

    def __init__(self, path: str | Path, put: Callable[[Event], None]) -> None:
        self.path = str(path)
        self._put = put
        if os.path.exists(self.path):
            os.unlink(self.path)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(self.path)
        os.chmod(self.path, 0o600)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 2**20)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self.received = 0
        self._thread = threading.Thread(target=self._run, name="kaizen-perf-forward", daemon=True)

    def start(self) -> ForwardReceiver:
        """Start receiving."""
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._sock.recv(2**16)
            except (TimeoutError, OSError):
                continue
            for event in decode(data):
                self.received += 1
                self._put(event)

    def stop(self, timeout_s: float = 1.0) -> None:
        """Stop the thread, hand over what is still queued, close and remove the socket."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(timeout_s)
        self._sock.setblocking(False)
        while True:
            try:
                data = self._sock.recv(2**16)
            except OSError:
                break
            for event in decode(data):
                self.received += 1
                self._put(event)
        self._sock.close()
        if os.path.exists(self.path):
            os.unlink(self.path)
