"""Kaizen's public MetricsCollector and logging API, run on Kaizen and on compat alike.

Written from Kaizen 2.46's docstrings and source (``observability/metrics.py``,
``observability/logging.py``): each test states behaviour a Kaizen user relies on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.compat.conftest import Api, Lines


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


# -- MetricsCollector ----------------------------------------------------------------------
def test_counter_sums_per_label_set(api: Api) -> None:
    """A counter adds 1.0 by default or the given value, per label set, in any label order."""
    c = api.MetricsCollector()
    c.counter("api_calls")
    c.counter("api_calls", 2.5)
    c.counter("tool_calls", 1.0, labels={"tool": "search", "status": "ok"})
    c.counter("tool_calls", 3.0, labels={"status": "ok", "tool": "search"})
    c.counter("tool_calls", 1.0, labels={"tool": "bash", "status": "ok"})
    assert c.get_counter_value("api_calls") == 3.5
    assert c.get_counter_value("tool_calls", {"tool": "search", "status": "ok"}) == 4.0
    assert c.get_counter_value("tool_calls", {"tool": "bash", "status": "ok"}) == 1.0
    assert c.get_counter_value("never_seen") == 0.0
    assert c.get_metric_count() == 5
    assert c.backend == "prometheus" and api.MetricsCollector(backend="x").backend == "x"


def test_gauge_keeps_the_last_value(api: Api) -> None:
    """A gauge is overwritten, not summed; an unset gauge reads None."""
    c = api.MetricsCollector()
    c.gauge("memory_bytes", 100, {"agent_id": "a"})
    c.gauge("memory_bytes", 40, {"agent_id": "a"})
    c.gauge("memory_bytes", 7, {"agent_id": "b"})
    assert c.get_gauge_value("memory_bytes", {"agent_id": "a"}) == 40
    assert c.get_gauge_value("memory_bytes", {"agent_id": "b"}) == 7
    assert c.get_gauge_value("memory_bytes") is None
    assert c.get_metric_count() == 3


def test_histogram_values_per_series_in_order(api: Api) -> None:
    """get_histogram_values returns a series' observations in the order they came, as a copy."""
    c = api.MetricsCollector()
    for v in (125.5, 3.0, 40.0):
        c.histogram("latency_ms", v, {"tool": "search"})
    c.histogram("latency_ms", 9.0, {"tool": "write"})
    values = c.get_histogram_values("latency_ms", {"tool": "search"})
    assert values == [125.5, 3.0, 40.0]
    values.append(1.0)
    assert c.get_histogram_values("latency_ms", {"tool": "search"}) == [125.5, 3.0, 40.0]
    assert c.get_histogram_values("latency_ms", {"tool": "write"}) == [9.0]
    assert c.get_histogram_values("latency_ms") == []


def test_timers_observe_milliseconds_even_when_the_block_raises(api: Api) -> None:
    """timer() and timer_sync() observe the block's duration in ms, also when it raises."""
    c = api.MetricsCollector()

    async def timed() -> None:
        async with c.timer("step_ms", labels={"kind": "async"}):
            await asyncio.sleep(0.02)
    asyncio.run(timed())
    with c.timer_sync("step_ms", labels={"kind": "sync"}):
        time.sleep(0.02)
    with pytest.raises(KeyError), c.timer_sync("step_ms", labels={"kind": "fail"}):
        raise KeyError("x")
    # sleep guarantees at least its duration: 20 ms is >= 20 in ms, never 0.02 (seconds)
    assert c.get_histogram_values("step_ms", {"kind": "async"})[0] >= 20.0
    assert c.get_histogram_values("step_ms", {"kind": "sync"})[0] >= 20.0
    assert len(c.get_histogram_values("step_ms", {"kind": "fail"})) == 1


def test_export_is_prometheus_text_with_kaizen_lines(api: Api) -> None:
    """export() parses as Prometheus text with Kaizen's series, including p50/p95/p99."""
    c = api.MetricsCollector()
    assert asyncio.run(c.export()) == ""
    c.counter("api_calls", 10.0, {"provider": "openai"})
    c.gauge("active_agents", 3)
    for i in range(1, 101):
        c.histogram("latency", float(i), {"route": "/x"})
    text = asyncio.run(c.export())
    assert 'api_calls{provider="openai"} 10.0' in text
    s = _samples(text)
    assert s[("active_agents", ())] == 3
    assert s[("latency_p50", (("route", "/x"),))] == 50.5
    assert s[("latency_p95", (("route", "/x"),))] == pytest.approx(95.05)
    assert s[("latency_p99", (("route", "/x"),))] == pytest.approx(99.01)


def test_reset_forgets_everything(api: Api) -> None:
    """reset() clears every series and the observation count; recording works after it."""
    c = api.MetricsCollector()
    c.counter("c", 5.0)
    c.gauge("g", 1)
    c.histogram("h", 2.0)
    c.reset()
    assert (c.get_metric_count(), c.get_counter_value("c"), c.get_gauge_value("g"),
            c.get_histogram_values("h")) == (0, 0.0, None, [])
    assert asyncio.run(c.export()) == ""
    c.counter("c", 2.0)
    assert c.get_counter_value("c") == 2.0 and c.get_metric_count() == 1


def test_metric_record_type(api: Api) -> None:
    """types.Metric has Kaizen's fields and defaults."""
    now = datetime.now(UTC)
    m = api.mod("types").Metric(name="x_ms", value=1.5, type="histogram", timestamp=now)
    assert (m.name, m.value, m.type, m.timestamp, m.labels, m.unit) == (
        "x_ms", 1.5, "histogram", now, {}, None)


# -- StructuredLogger / LoggingManager -------------------------------------------------------
def _capture(api: Api, name: str) -> tuple[object, Lines]:
    log = api.mod("logging").StructuredLogger(name)
    lines = Lines()
    logging.getLogger(name).addHandler(lines)
    logging.getLogger(name).propagate = False
    return log, lines


def test_log_line_is_json_with_context(api: Api, logger_name: str) -> None:
    """Each call logs one JSON object; persistent context merges with the call's extras."""
    log, lines = _capture(api, logger_name)
    log.add_context(agent_id="qa-agent", trace_id="t-1", span_id="s-1")  # type: ignore[attr-defined]
    log.add_context(user_id="u1", step=1)  # type: ignore[attr-defined]
    log.info("Tool executed", tool_name="search", step=2)  # type: ignore[attr-defined]
    log.error("failed", error="timeout")  # type: ignore[attr-defined]
    first, second = (json.loads(r.getMessage()) for r in lines.records)
    assert set(first) == {"timestamp", "level", "message", "context", "agent_id", "trace_id",
                          "span_id"}
    assert first["level"] == "INFO" and first["message"] == "Tool executed"
    assert first["context"] == {"agent_id": "qa-agent", "trace_id": "t-1", "span_id": "s-1",
                                "user_id": "u1", "step": 2, "tool_name": "search"}
    assert (first["agent_id"], first["trace_id"], first["span_id"]) == ("qa-agent", "t-1", "s-1")
    assert datetime.fromisoformat(first["timestamp"]).tzinfo is not None
    assert second["level"] == "ERROR" and lines.records[1].levelno == logging.ERROR
    assert "error" not in log.get_context()  # type: ignore[attr-defined]


def test_levels_and_default_handler(api: Api, logger_name: str) -> None:
    """A fresh logger prints at INFO through its own handler; debug..critical map to levels."""
    log = api.mod("logging").StructuredLogger(logger_name)
    assert log.logger.handlers and log.logger.level == logging.INFO
    lines = Lines()
    log.logger.addHandler(lines)
    log.logger.propagate = False
    log.debug("hidden")
    for method in ("info", "warning", "error", "critical"):
        getattr(log, method)(method)
    assert [r.levelname for r in lines.records] == ["INFO", "WARNING", "ERROR", "CRITICAL"]
    assert [json.loads(r.getMessage())["message"] for r in lines.records] == [
        "info", "warning", "error", "critical"]


def test_context_copy_and_clear(api: Api, logger_name: str) -> None:
    """get_context returns a copy; clear_context removes the context from later lines."""
    log, lines = _capture(api, logger_name)
    log.add_context(agent_id="a")  # type: ignore[attr-defined]
    copy = log.get_context()  # type: ignore[attr-defined]
    copy["x"] = 1
    assert log.get_context() == {"agent_id": "a"}  # type: ignore[attr-defined]
    log.clear_context()  # type: ignore[attr-defined]
    log.info("after")  # type: ignore[attr-defined]
    line = json.loads(lines.records[0].getMessage())
    assert line["context"] == {} and line["agent_id"] is None


def test_log_entry_logs_a_prebuilt_entry(api: Api, logger_name: str) -> None:
    """log_entry() writes a LogEntry at its own level with its ids."""
    log, lines = _capture(api, logger_name)
    entry = api.LogEntry(timestamp=datetime.now(UTC), level="WARNING", message="m",
                         context={"k": "v"}, agent_id="a", trace_id="t", span_id="s")
    log.log_entry(entry)  # type: ignore[attr-defined]
    line = json.loads(lines.records[0].getMessage())
    assert lines.records[0].levelno == logging.WARNING
    assert (line["message"], line["context"], line["agent_id"], line["trace_id"]) == (
        "m", {"k": "v"}, "a", "t")


def test_logging_manager_registry_and_levels(api: Api, logger_name: str) -> None:
    """get_logger caches per name; set_log_level and clear_all_context apply to all loggers."""
    manager = api.LoggingManager()
    a, b = manager.get_logger(logger_name), manager.get_logger(logger_name + "-b")
    assert manager.get_logger(logger_name) is a and a is not b
    assert manager.get_logger_count() == 2
    registry = manager.get_all_loggers()
    registry.clear()
    assert set(manager.get_all_loggers()) == {logger_name, logger_name + "-b"}
    manager.set_log_level("DEBUG")
    assert a.logger.level == logging.DEBUG and b.logger.level == logging.DEBUG
    manager.set_log_level("WARNING")
    assert a.logger.level == logging.WARNING
    a.add_context(x=1)
    b.add_context(y=2)
    manager.clear_all_context()
    assert a.get_context() == {} and b.get_context() == {}
    logging.getLogger(logger_name + "-b").handlers.clear()
