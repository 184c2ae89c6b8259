"""The original design's API (ADR-017) through kaizen_perf.compat, its own examples ported."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kaizen_perf.compat import (
    AuditEntry,
    AuditTrailManager,
    ComponentDisabled,
    FileAuditStorage,
    MetricsCollector,
    ObservabilityManager,
    TracingManager,
)
from kaizen_perf.errors import AuditStoreError


def test_metrics_collector_counter() -> None:
    """The original's own test: a counter is summed per name and labels."""
    collector = MetricsCollector()
    collector.counter("test_counter", 5.0, labels={"env": "test"})
    assert collector._counters["test_counter{env=test}"] == 5.0
    collector.counter("test_counter", 2.0, labels={"env": "test"})
    collector.counter("test_counter", 1.0, labels={"env": "prod"})
    assert collector._counters == {"test_counter{env=test}": 7.0, "test_counter{env=prod}": 1.0}


def test_audit_trail_append(tmp_path: Path) -> None:
    """The original's own test: an appended entry is found by agent (and survives a reopen)."""
    storage = FileAuditStorage(tmp_path / "audit" / "test-audit.jsonl")

    async def run() -> list[AuditEntry]:
        naive = datetime.now(UTC).replace(tzinfo=None)  # what the original's utcnow() gave
        await storage.append(AuditEntry(timestamp=naive, agent_id="test-agent",
                                        action="test_action", details={}, result="success"))
        return await FileAuditStorage(storage.file_path).query(agent_id="test-agent")

    entries = asyncio.run(run())
    assert len(entries) == 1
    assert entries[0].action == "test_action" and entries[0].timestamp.tzinfo is not None


def test_export_is_prometheus_text_with_real_histograms() -> None:
    """export() parses as Prometheus text; histograms have cumulative buckets, sum and count."""
    c = MetricsCollector(buckets=(10, 100, 1000))
    for v in (5, 50, 50, 500, 5000):
        c.histogram("tool_ms", v, {"tool": "search"})
    c.gauge("queue_depth", 3)
    c.counter("calls_total", labels={"tool": 'a "quoted"\nname'})
    text = asyncio.run(c.export())
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for fam in text_string_to_metric_families(text) for s in fam.samples}
    assert samples[("tool_ms_bucket", (("le", "10.0"), ("tool", "search")))] == 1
    assert samples[("tool_ms_bucket", (("le", "100.0"), ("tool", "search")))] == 3
    assert samples[("tool_ms_bucket", (("le", "+Inf"), ("tool", "search")))] == 5
    assert samples[("tool_ms_sum", (("tool", "search"),))] == 5605
    assert samples[("queue_depth", ())] == 3
    assert samples[("calls_total", (("tool", 'a "quoted"\nname'),))] == 1


def test_memory_is_bounded_by_series_not_observations() -> None:
    """A million observations of one series keep one histogram; new series past the cap drop."""
    c = MetricsCollector(max_series=2)
    for i in range(100_000):
        c.histogram("lat", float(i % 1000))
    c.counter("a")
    c.counter("b")
    assert c.dropped == 1
    assert "kaizen_compat_series_dropped_total 1" in c.render()
    assert c.render().count("lat_count 100000") == 1


def test_invalid_observations_are_ignored_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    """A bad name, a negative counter step or a kind clash is logged and ignored."""
    c = MetricsCollector()
    with caplog.at_level(logging.WARNING, logger="kaizen_perf"):
        c.counter("bad name")
        c.counter("ok", -1)
        c.gauge("ok", 1)
        c.counter("ok", float("nan"))
    assert c.render() == "# TYPE ok gauge\nok 1.0\n"
    assert "not a valid Prometheus name" in caplog.text


def test_timer_observes_milliseconds_even_on_error() -> None:
    """The async timer records the block's duration in ms, also when the block raises."""
    ticks = iter([1.0, 1.25])
    c = MetricsCollector(clock=lambda: next(ticks))

    async def run() -> None:
        async with c.timer("op"):
            raise KeyError("boom")

    with pytest.raises(KeyError):
        asyncio.run(run())
    assert "op_sum 250.0" in c.render()


def test_structured_logger_writes_json_with_context(caplog: pytest.LogCaptureFixture) -> None:
    """Every line is JSON with the persistent context merged with the call's fields."""
    obs = ObservabilityManager("svc", enable_audit=False)
    log = obs.get_logger("svc.component")
    log.add_context(run_id="r1")
    with caplog.at_level(logging.INFO, logger="svc.component"):
        log.info("started", step=2)
        log.error("failed", step=3)
    lines = [json.loads(r.getMessage()) for r in caplog.records]
    assert [(x["level"], x["message"], x["context"]) for x in lines] == [
        ("INFO", "started", {"run_id": "r1", "step": 2}),
        ("ERROR", "failed", {"run_id": "r1", "step": 3})]


def test_tracing_span_marks_errors_and_nests() -> None:
    """span() is an async context manager; inner spans are children; an exception marks it."""
    tracing = TracingManager("svc")

    async def run() -> None:
        async with tracing.span("outer", {"agent_id": "a"}) as outer:
            async with tracing.span("inner") as inner:
                assert inner.trace_id == outer.trace_id
                assert inner.parent_span_id == outer.span_id
            raise RuntimeError("tool broke")

    with pytest.raises(RuntimeError):
        asyncio.run(run())
    inner, outer = tracing.finished
    assert outer.attributes == {"agent_id": "a", "error": True, "error.message": "tool broke"}
    assert "error" not in inner.attributes and outer.end_time is not None


def test_audit_manager_queries_by_agent_action_and_time(tmp_path: Path) -> None:
    """record() then query_by_agent / query_by_action / a time window find the right entries."""
    audit = AuditTrailManager(FileAuditStorage(tmp_path / "a.jsonl"))

    async def run() -> tuple[list[AuditEntry], ...]:
        await audit.record("a1", "tool_execute", {"tool": "bash"}, "success", user_id="u")
        await audit.record("a2", "permission_grant", {"tool": "bash"}, "denied")
        await audit.record("a1", "permission_grant", {}, "success")
        later = datetime.now(UTC) + timedelta(hours=1)
        return (await audit.query_by_agent("a1"), await audit.query_by_action("permission_grant"),
                await audit.storage.query(start_time=later))

    by_agent, by_action, future = asyncio.run(run())
    assert [e.action for e in by_agent] == ["tool_execute", "permission_grant"]
    assert [e.agent_id for e in by_action] == ["a2", "a1"]
    assert by_agent[0].user_id == "u" and future == []


def test_corrupt_audit_line_is_reported(tmp_path: Path) -> None:
    """An unreadable line in the middle raises AuditStoreError naming the line; a torn tail not."""
    path = tmp_path / "a.jsonl"
    audit = AuditTrailManager(FileAuditStorage(path))
    asyncio.run(audit.record("a1", "x", {}, "success"))
    path.write_text(path.read_text() + '{"torn": ')
    assert len(asyncio.run(audit.query_by_agent("a1"))) == 1
    path.write_text("not json\n" + path.read_text())
    with pytest.raises(AuditStoreError, match="line 1"):
        asyncio.run(audit.query_by_agent("a1"))


def test_disabled_components() -> None:
    """Disabled metrics export nothing; a disabled logger is a clear error."""
    obs = ObservabilityManager("svc", enable_metrics=False, enable_logging=False,
                               enable_tracing=False, enable_audit=False)
    asyncio.run(obs.record_metric("x", 1.0))
    assert asyncio.run(obs.export_metrics()) == ""
    with pytest.raises(ComponentDisabled, match="enable_logging=True"):
        obs.get_logger("x")


def test_audit_manager_over_the_durable_trail(tmp_path: Path) -> None:
    """The original AuditTrailManager API works over kaizen-perf's hash-chained SQLite trail."""
    from kaizen_perf.audit import open_trail
    from kaizen_perf.compat.audit import AuditTrailManager, TrailStorage

    trail = open_trail(f"sqlite:///{tmp_path / 'a.db'}", agent_id="compat")
    manager = AuditTrailManager(TrailStorage(trail))

    async def scenario() -> tuple[list[Any], list[Any]]:
        await manager.record("agent-1", "tool_execute", {"tool": "search"}, "success")
        await manager.record("agent-2", "permission_check", {"tool": "bash"}, "denied")
        return await manager.query_by_agent("agent-1"), await manager.query_by_action(
            "permission_check")

    try:
        by_agent, by_action = asyncio.run(scenario())
        assert trail.verify().ok
    finally:
        trail.close(2.0)
    assert [e.action for e in by_agent] == ["tool_execute"]
    assert [(e.agent_id, e.result) for e in by_action] == [("agent-2", "denied")]
