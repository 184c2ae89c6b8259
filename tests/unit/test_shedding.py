"""Overload: sinks that may shed (spans, the event log) skip batches; metrics stay exact."""

from __future__ import annotations

from collections.abc import Sequence

from kaizen_perf import Monitor
from kaizen_perf.events import Event
from kaizen_perf.pipeline import Pipeline, SinkBase
from tests.unit.metrics_util import value


class _Counting(SinkBase):
    """A sink that counts what it is given; ``sheddable`` like the trace and log sinks."""

    def __init__(self, sheddable: bool) -> None:
        self.sheddable = sheddable
        self.handled = 0
        self.skipped = 0

    def handle(self, batch: Sequence[Event]) -> None:
        self.handled += len(batch)

    def shed(self, batch: Sequence[Event]) -> None:
        self.skipped += len(batch)


def test_a_backlog_past_the_threshold_sheds_only_sheddable_sinks() -> None:
    """With the dispatcher behind, a sink that must see everything gets every event and a
    sheddable one skips (and counts) the batches drained while the backlog was high."""
    must, may = _Counting(False), _Counting(True)
    pipe = Pipeline([must, may], capacity=1024)  # never started: drained by hand
    events = 1000
    for i in range(events):
        pipe.put(("e", i))  # type: ignore[arg-type]
    pipe.drain()
    assert must.handled == events
    assert may.skipped > 0 and may.handled + may.skipped == events
    assert pipe.dropped == 0


def test_without_a_backlog_nothing_is_shed() -> None:
    """Below the threshold every sink gets every event."""
    may = _Counting(True)
    pipe = Pipeline([may], capacity=1024)
    for i in range(pipe.shed_at):
        pipe.put(("e", i))  # type: ignore[arg-type]
    pipe.drain()
    assert (may.handled, may.skipped) == (pipe.shed_at, 0)


def test_shed_events_are_counted_in_the_drop_metric() -> None:
    """Events the trace sink and the event log skipped show in
    kaizen_perf_events_dropped_total, while the tool counter stays exact."""
    mon = Monitor("s", traces="memory", buffer_size=256,
                  environ={"KAIZEN_PERF_LOG_EVENTS": "all",
                           "KAIZEN_PERF_LOG_FILE": "/dev/null"})
    try:
        with mon.pipeline.lock:  # hold the dispatcher off: the backlog builds up
            for _ in range(200):
                with mon.tool("t"):
                    pass
            text = mon.export_metrics()
    finally:
        mon.shutdown(5.0)
    assert value(text, "kaizen_tool_calls_total", agent="s", tool="t", status="ok") == 200
    assert value(text, "kaizen_perf_events_dropped_total", sink="traces-shed") > 0
    assert value(text, "kaizen_perf_events_dropped_total", sink="logs-shed") > 0
