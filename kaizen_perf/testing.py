"""Test doubles shipped for users' tests (and ours): in-memory sink, fake clock, event capture.

Example::

    from kaizen_perf import Monitor
    from kaizen_perf.testing import FakeClock, capture_events

    clock = FakeClock()
    mon = Monitor("test-agent", clock=clock)
    with capture_events(mon) as events:
        with mon.tool("search"):
            clock.advance(0.25)
    assert events[0].tool == "search"
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from kaizen_perf.events import Event
from kaizen_perf.monitor import Monitor

E = TypeVar("E")


class InMemorySink:
    """Keeps every event it is handed (bounded by ``max_events``; older ones are discarded)."""

    def __init__(self, max_events: int = 1_000_000) -> None:
        self.events: list[Event] = []
        self._max = max_events
        self._lock = threading.Lock()

    def handle(self, batch: Sequence[Event]) -> None:
        """Store a batch."""
        with self._lock:
            self.events.extend(batch)
            if len(self.events) > self._max:
                del self.events[: len(self.events) - self._max]

    def of(self, kind: type[E]) -> list[E]:
        """The stored events of one type."""
        with self._lock:
            return [e for e in self.events if isinstance(e, kind)]

    def clear(self) -> None:
        """Forget everything stored."""
        with self._lock:
            self.events.clear()


class FakeClock:
    """A monotonic nanosecond clock that moves only when told (``advance``)."""

    def __init__(self, start_s: float = 1000.0) -> None:
        self.ns = int(start_s * 1e9)

    def __call__(self) -> int:
        return self.ns

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        if seconds < 0:
            msg = "FakeClock cannot go backwards; advance by 0 seconds or more."
            raise ValueError(msg)
        self.ns += round(seconds * 1e9)


@contextmanager
def capture_events(mon: Monitor) -> Iterator[list[Event]]:
    """Collect the events ``mon`` records inside the block; the list is complete on exit."""
    sink = InMemorySink()
    mon.flush()
    mon.pipeline.add_sink(sink)
    captured: list[Event] = []
    try:
        yield captured
    finally:
        mon.flush()
        mon.pipeline.remove_sink(sink)
        captured.extend(sink.events)
