"""A real Kaizen interrupt's source: on its event-log line, span and audit entry, while
``kaizen_interrupts_total`` keeps its ``agent, kind`` labels."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from kaizen.core.autonomy.interrupts.manager import InterruptManager
from kaizen.core.autonomy.interrupts.types import InterruptMode, InterruptSource
from opentelemetry.sdk.resources import Resource
from prometheus_client.parser import text_string_to_metric_families

from kaizen_perf import Monitor
from kaizen_perf.events import InterruptEvent
from kaizen_perf.integrations.kaizen import instrument, uninstrument
from kaizen_perf.integrations.kaizen._agents import AGENTS
from kaizen_perf.redact import Redactor
from kaizen_perf.testing import InMemorySink
from kaizen_perf.tracing.spans import SpanBuilder


@pytest.fixture
def sink() -> InMemorySink:
    return InMemorySink()


@pytest.fixture
def kmon(sink: InMemorySink, tmp_path: Path) -> Iterator[Monitor]:
    """Kaizen instrumented into a monitor with an audit store and an event log file."""
    mon = Monitor("process", environ={}, sinks=[sink],
                  audit_url=f"sqlite:///{tmp_path / 'audit.db'}", log_events="all",
                  log_file=str(tmp_path / "events.log"))
    AGENTS.seen.clear()
    instrument(mon)
    yield mon
    uninstrument()
    AGENTS.seen.clear()
    mon.shutdown(2.0)


def test_the_interrupt_source_reaches_log_span_and_audit_not_labels(
        kmon: Monitor, sink: InMemorySink, tmp_path: Path) -> None:
    """InterruptManager's accepted request is recorded with its source (timeout) on the log
    line, the span and the audit entry; the counter is labelled by agent and kind only."""
    manager = InterruptManager()
    manager.request_interrupt(InterruptMode.GRACEFUL, InterruptSource.TIMEOUT, "too slow")
    manager.request_interrupt(InterruptMode.IMMEDIATE, InterruptSource.USER, "ignored")
    kmon.flush()
    [event] = sink.of(InterruptEvent)
    assert (event.agent, event.kind, event.source) == ("process", "graceful", "timeout")

    [entry] = kmon.audit.query(agent_id="process")
    assert (entry.action, entry.details) == ("interrupt", {"kind": "graceful",
                                                           "source": "timeout"})
    builder = SpanBuilder(resource=Resource.create({}), redactor=Redactor())
    span = builder.describe(event, 0)
    assert (span.name, span.attributes["kaizen.interrupt.source"]) == (
        "interrupt graceful", "timeout")

    [series] = [s for f in text_string_to_metric_families(kmon.export_metrics())
                for s in f.samples if s.name == "kaizen_interrupts_total"]
    assert (series.labels, series.value) == ({"agent": "process", "kind": "graceful"}, 1.0)

    kmon.shutdown(2.0)  # closes the log file
    lines = [json.loads(line) for path in tmp_path.glob("events.log*")
             for line in path.read_text().splitlines()]
    assert [(r["event"], r["kind"], r["source"]) for r in lines
            if r.get("event") == "interrupt"] == [("interrupt", "graceful", "timeout")]


def test_an_interrupt_without_source_is_unchanged(sink: InMemorySink) -> None:
    """mon.interrupt(kind) alone records no source and no source attribute; a non-text
    source is refused like any unusable hook value."""
    mon = Monitor("plain", environ={}, sinks=[sink])
    try:
        mon.interrupt("immediate")
        mon.interrupt("immediate", source=3)  # type: ignore[arg-type]
        mon.flush()
        [event] = sink.of(InterruptEvent)
        assert event.source is None
        builder = SpanBuilder(resource=Resource.create({}), redactor=Redactor())
        assert "kaizen.interrupt.source" not in builder.describe(event, 0).attributes
        assert 'reason="invalid_text"' in mon.export_metrics()
    finally:
        mon.shutdown(2.0)
