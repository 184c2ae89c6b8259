"""The event pipeline: overflow, series caps, failing sinks, shutdown deadline, fork."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Sequence

import pytest

from kaizen_perf import Monitor
from kaizen_perf.events import Event
from kaizen_perf.metrics import OVERFLOW
from kaizen_perf.pipeline import Pipeline
from tests.unit.metrics_util import value


def test_overflow_drops_and_counts() -> None:
    """When the buffer is full new events are dropped and counted, never blocking the caller."""
    mon = Monitor("a", environ={}, buffer_size=10, flush_interval_s=3600)
    try:
        for _ in range(25):
            with mon.tool("x"):
                pass
        assert mon.pipeline.dropped == 15
        text = mon.export_metrics()
        assert value(text, "kaizen_perf_events_dropped_total", sink="buffer") == 15
        assert value(text, "kaizen_tool_calls_total", agent="a", tool="x", status="ok") == 10
    finally:
        mon.shutdown(2.0)


def test_series_cap_folds_new_values_into_overflow() -> None:
    """Past the per-metric series cap, new tool names fold into __overflow__ and are counted."""
    mon = Monitor("a", environ={}, series_cap=3)
    try:
        for i in range(7):
            with mon.tool(f"tool-{i}"):
                pass
        text = mon.export_metrics()
        assert value(text, "kaizen_tool_calls_total", agent="a", tool="tool-2", status="ok") == 1
        assert value(text, "kaizen_tool_calls_total", agent="a", tool=OVERFLOW,
                     status="ok") == 4
        assert value(text, "kaizen_perf_series_overflow_total",
                     metric="kaizen_tool_calls_total") == 4
    finally:
        mon.shutdown(2.0)


def test_overflow_folds_the_agent_too_when_agents_explode() -> None:
    """When even the per-agent overflow series exceed the headroom, the agent folds as well."""
    from kaizen_perf.metrics import METRICS, Family
    fam = Family(METRICS["kaizen_tool_calls_total"], cap=10)
    for i in range(40):
        fam.inc((f"agent-{i}", f"tool-{i}", "ok"))
    assert len(fam.series) <= 10 + 2 + 1
    assert (OVERFLOW, OVERFLOW, "ok") in fam.series
    assert sum(slot[0] for slot in fam.series.values()) == 40


class _Broken:
    def handle(self, batch: Sequence[Event]) -> None:
        raise RuntimeError("backend down")


def test_failing_sink_is_counted_and_other_sinks_still_work() -> None:
    """A sink that raises is counted in kaizen_perf_export_errors_total; metrics keep flowing."""
    mon = Monitor("a", environ={}, sinks=[_Broken()])
    try:
        with mon.tool("x"):
            pass
        text = mon.export_metrics()
        assert value(text, "kaizen_perf_export_errors_total", exporter="_Broken") == 1
        assert value(text, "kaizen_tool_calls_total", agent="a", tool="x", status="ok") == 1
    finally:
        mon.shutdown(2.0)


class _Hangs:
    def __init__(self) -> None:
        self.release = threading.Event()

    def handle(self, batch: Sequence[Event]) -> None:
        pass

    def close(self, timeout_s: float) -> None:
        self.release.wait(30)  # a dead backend that ignores our deadline


def test_shutdown_meets_its_deadline_with_a_hanging_sink() -> None:
    """shutdown() returns within its deadline even when a sink's close() hangs."""
    sink = _Hangs()
    pipe = Pipeline([sink], flush_interval_s=0.05)
    pipe.start()
    start = time.monotonic()
    ok = pipe.shutdown(0.5)
    elapsed = time.monotonic() - start
    sink.release.set()
    assert not ok
    assert elapsed < 1.0


def test_dispatcher_drains_in_the_background() -> None:
    """Events reach sinks without a scrape, within a few flush intervals."""
    mon = Monitor("a", environ={}, flush_interval_s=0.02)
    try:
        with mon.tool("x"):
            pass
        deadline = time.monotonic() + 2
        while mon.pipeline.backlog and time.monotonic() < deadline:
            time.sleep(0.01)
        assert mon.pipeline.backlog == 0
        assert mon.health().ready
    finally:
        mon.shutdown(2.0)


def test_readiness_reports_a_backlog() -> None:
    """/readyz turns not-ready when the buffer is fuller than the backlog fraction."""
    mon = Monitor("a", environ={}, buffer_size=10, flush_interval_s=3600, ready_backlog=0.5)
    try:
        for _ in range(6):
            mon.interrupt("graceful")
        report = mon.health()
        assert not report.ready
        assert "backlogged" in report.to_json()["components"]["pipeline"]["detail"]
    finally:
        mon.shutdown(2.0)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_forked_child_has_its_own_working_pipeline() -> None:
    """After fork the child records into fresh aggregates with a live dispatcher."""
    mon = Monitor("a", environ={}, flush_interval_s=0.02)
    try:
        with mon.tool("parent_tool"):
            pass
        mon.flush()
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # child
            code = 1
            try:
                with mon.tool("child_tool"):
                    pass
                deadline = time.monotonic() + 3
                while mon.pipeline.backlog and time.monotonic() < deadline:
                    time.sleep(0.01)
                text = mon.export_metrics()
                result = {"alive": mon.pipeline.alive,
                          "child": value(text, "kaizen_tool_calls_total", agent="a",
                                         tool="child_tool", status="ok"),
                          "parent": value(text, "kaizen_tool_calls_total", agent="a",
                                          tool="parent_tool", status="ok")}
                os.write(write_fd, json.dumps(result).encode())
                mon.shutdown(1.0)
                code = 0
            finally:
                os._exit(code)
        os.close(write_fd)
        _, status = os.waitpid(pid, 0)
        data = json.loads(os.read(read_fd, 4096))
        os.close(read_fd)
        assert os.waitstatus_to_exitcode(status) == 0
        assert data == {"alive": True, "child": 1.0, "parent": 0.0}
        assert value(mon, "kaizen_tool_calls_total", agent="a", tool="parent_tool",
                     status="ok") == 1
    finally:
        mon.shutdown(2.0)
