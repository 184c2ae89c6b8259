"""The shipped test doubles behave as documented."""

from __future__ import annotations

import pytest

from kaizen_perf import Monitor
from kaizen_perf.events import ToolEvent
from kaizen_perf.testing import FakeClock, InMemorySink, capture_events


def test_capture_events_and_fake_clock() -> None:
    """capture_events returns the events of the block, timed by the FakeClock."""
    clock = FakeClock()
    mon = Monitor("t", clock=clock, environ={})
    try:
        with capture_events(mon) as events, mon.tool("search"):
            clock.advance(0.25)
        (event,) = events
        assert isinstance(event, ToolEvent)
        assert event.tool == "search" and event.end_ns - event.start_ns == 250_000_000
    finally:
        mon.shutdown(2.0)


def test_fake_clock_refuses_to_go_back() -> None:
    """FakeClock raises on a negative advance."""
    with pytest.raises(ValueError, match="backwards"):
        FakeClock().advance(-1)


def test_in_memory_sink_is_bounded_and_filters_by_type() -> None:
    """InMemorySink keeps at most max_events and filters with of()."""
    sink = InMemorySink(max_events=3)
    mon = Monitor("t", environ={}, sinks=[sink])
    try:
        for i in range(5):
            with mon.tool(f"t{i}"):
                pass
        mon.flush()
        assert [e.tool for e in sink.of(ToolEvent)] == ["t2", "t3", "t4"]
    finally:
        mon.shutdown(2.0)
