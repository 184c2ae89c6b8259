"""The Sink protocol: what a sink reports reaches /metrics, and plain handlers still work."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kaizen_perf import Monitor
from kaizen_perf.events import Event, InvalidInput
from kaizen_perf.pipeline import Pipeline, Sink, SinkBase
from tests.unit.metrics_util import value


class _Lossy(SinkBase):
    """A sink that lost events and failed exports, as an exporter would report them."""

    def __init__(self) -> None:
        self.lost = 0

    def handle(self, batch: Sequence[Event]) -> None:
        self.lost += len(batch)

    @property
    def dropped_events(self) -> Mapping[str, int]:
        return {"mine-queue": self.lost}

    @property
    def export_errors(self) -> Mapping[str, int]:
        return {"mine": 2}


class _Plain:
    """A user's sink with nothing but ``handle``."""

    def __init__(self) -> None:
        self.seen = 0

    def handle(self, batch: Sequence[Event]) -> None:
        self.seen += len(batch)


def test_what_a_sink_declares_reaches_the_self_metrics() -> None:
    """dropped_events and export_errors of a sink show under its own names on /metrics."""
    lossy = _Lossy()
    mon = Monitor("a", environ={}, sinks=[lossy], flush_interval_s=3600)
    try:
        with mon.tool("x"):
            pass
        text = mon.export_metrics()
        assert value(text, "kaizen_perf_events_dropped_total", sink="mine-queue") == 1
        assert value(text, "kaizen_perf_export_errors_total", exporter="mine") == 2
        assert mon.pipeline.dropped_events() == {"buffer": 0, "mine-queue": 1}
    finally:
        mon.shutdown(2.0)


def test_a_plain_handler_is_adapted_and_can_be_removed() -> None:
    """An object with only handle() gets every batch as a full Sink, and remove_sink(obj)
    detaches it (the adapter made for it goes)."""
    plain = _Plain()
    pipe = Pipeline([plain], flush_interval_s=3600)
    pipe.put(InvalidInput("a", "r", "m"))
    pipe.drain()
    assert plain.seen == 1 and all(isinstance(s, Sink) for s in pipe.sinks)
    assert pipe.dropped_events() == {"buffer": 0} and pipe.export_errors() == {}
    pipe.remove_sink(plain)
    pipe.put(InvalidInput("a", "r", "m"))
    pipe.drain()
    assert plain.seen == 1 and pipe.sinks == ()
    pipe.shutdown(1.0)
