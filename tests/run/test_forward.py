"""Hook events from children reach the runner over a real Unix datagram socket."""

from __future__ import annotations

import time
from pathlib import Path

from kaizen_perf.events import ApiCallEvent, Event, ProcessSample, ToolEvent
from kaizen_perf.forward import ForwardReceiver, ForwardSink, decode, encode


def test_encode_decode_round_trip_in_small_datagrams() -> None:
    """Every event type survives encoding, and large batches split under 60 KB per datagram."""
    events: list[Event] = [
        ToolEvent("a", "t" * 50, 1, 2, None, 2**127 + 5, 7, 0),
        ApiCallEvent("a", "anthropic", "m", 1, 2, 3, 4, 0.5, "RateLimit", 10**15, "t", 9, 1, 2, 3),
        ProcessSample("a", 1, 0.5, 0.1, 10, 20, 1, 2, 3, 4, 5, 6, 0.01),
    ] * 500
    datagrams = encode(events)
    assert len(datagrams) > 1 and all(len(d) <= 60_000 for d in datagrams)
    assert [e for d in datagrams for e in decode(d)] == events


def test_malformed_datagrams_are_ignored() -> None:
    """Garbage or unknown event kinds decode to nothing instead of raising."""
    assert decode(b"not json") == []
    assert decode(b'[[99, 1, 2], ["x"], 5]') == []


def test_sink_to_receiver_over_a_socket(tmp_path: Path) -> None:
    """A child's ForwardSink delivers to the runner's ForwardReceiver."""
    got: list[Event] = []
    receiver = ForwardReceiver(tmp_path / "f.sock", got.append).start()
    sink = ForwardSink(tmp_path / "f.sock")
    try:
        sink.handle([ToolEvent("a", "x", 1, 2, None, 1, 2, 0)] * 10)
        deadline = time.monotonic() + 2
        while len(got) < 10 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        receiver.stop()
        sink.close(1.0)
    assert len(got) == 10 and got[0].tool == "x"


def test_sink_never_blocks_or_raises_without_a_receiver(tmp_path: Path) -> None:
    """When the runner is gone, batches are dropped and counted, never raised."""
    sink = ForwardSink(tmp_path / "nobody.sock")
    sink.handle([ToolEvent("a", "x", 1, 2, None, 1, 2, 0)] * 3)
    assert sink.dropped == 3 and sink.errors == 1
    sink.close(1.0)
