"""The in-process alert engine with a fake clock: fire once, stay quiet, resolve, cooldown."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kaizen_perf import Monitor
from kaizen_perf.alerts import (
    Alert,
    AlertEngine,
    CallbackNotifier,
    DroppedEventsRule,
    ErrorRateRule,
    ExportErrorsRule,
    LatencyRule,
    MemoryGrowthRule,
    Probe,
    RuleSpec,
    StuckRule,
)
from kaizen_perf.alerts import snapshot as snap
from kaizen_perf.events import Event
from kaizen_perf.pipeline import Pipeline
from kaizen_perf.testing import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def mon(clock: FakeClock) -> Iterator[Monitor]:
    m = Monitor("agent-a", clock=clock, environ={}, alerts_enabled=False)
    yield m
    m.shutdown(2.0)


def _engine(mon: Monitor, clock: FakeClock, *rules: RuleSpec, cooldown_s: float = 0.0,
            probe: Probe | None = None) -> tuple[AlertEngine, list[Alert]]:
    got: list[Alert] = []
    engine = AlertEngine(rules, [CallbackNotifier(got.append)], clock=clock,
                         cooldown_s=cooldown_s, probe=lambda: probe or Probe(),
                         snapshot=lambda _a: snap.take(clock=clock, use_py_spy=False))
    mon.pipeline.add_sink(engine)
    return engine, got


def _slow_tools(mon: Monitor, clock: FakeClock, n: int, seconds: float,
                tool: str = "search") -> None:
    for _ in range(n):
        with mon.tool(tool):
            clock.advance(seconds)
    mon.flush()


def test_p95_latency_fires_once_then_resolves(mon: Monitor, clock: FakeClock) -> None:
    """p95 over the threshold fires one alert; it resolves once the slow calls leave the window."""
    engine, got = _engine(mon, clock, LatencyRule(metric="kaizen_tool_duration_seconds",
                                                  threshold_s=1.0, window_s=60, min_count=3))
    _slow_tools(mon, clock, 5, 3.0)
    engine.evaluate()
    engine.evaluate()
    assert [(a.rule, a.status) for a in got] == [("KaizenToolLatencyHigh", "firing")]
    assert got[0].labels == {"agent": "agent-a", "tool": "search"}
    assert got[0].value == pytest.approx(2.56 + 2.56 * 0.95)  # inside the 2.56–5.12 s bucket
    clock.advance(70)
    engine.evaluate()
    assert [a.status for a in got] == ["firing", "resolved"]


def test_fast_or_rare_calls_do_not_fire(mon: Monitor, clock: FakeClock) -> None:
    """One slow call in 30 (under the p95 rank), or fewer slow calls than min_count: no alert."""
    engine, got = _engine(mon, clock, LatencyRule(metric="kaizen_tool_duration_seconds",
                                                  threshold_s=1.0, window_s=60, min_count=3))
    _slow_tools(mon, clock, 29, 0.01, tool="mostly_fast")
    _slow_tools(mon, clock, 1, 30.0, tool="mostly_fast")
    _slow_tools(mon, clock, 2, 30.0, tool="rare")
    engine.evaluate()
    assert got == []


def test_error_rate_over_threshold_fires(mon: Monitor, clock: FakeClock) -> None:
    """3 failed API calls out of 10 is over a 20 % threshold."""
    engine, got = _engine(mon, clock, ErrorRateRule(metric="kaizen_api_requests_total",
                                                    threshold=0.2, window_s=300, min_count=10))
    for i in range(10):
        mon.record_api_call("anthropic", "claude-haiku-4-5", input_tokens=10,
                            error=TimeoutError() if i < 3 else None)
    mon.flush()
    engine.evaluate()
    assert len(got) == 1 and got[0].value == pytest.approx(0.3)
    assert got[0].labels["model"] == "claude-haiku-4-5"


def test_cooldown_silences_a_flapping_alert(mon: Monitor, clock: FakeClock) -> None:
    """An alert that returns within the cooldown is not sent again; after it, it is."""
    engine, got = _engine(mon, clock, LatencyRule(metric="kaizen_tool_duration_seconds",
                                                  threshold_s=1.0, window_s=10, min_count=1),
                          cooldown_s=100)
    for _ in range(2):  # fire, resolve, fire again 20 s later: silent
        _slow_tools(mon, clock, 1, 3.0)
        engine.evaluate()
        clock.advance(15)
        engine.evaluate()
    assert [a.status for a in got] == ["firing", "resolved"]
    clock.advance(100)
    _slow_tools(mon, clock, 1, 3.0)
    engine.evaluate()
    assert [a.status for a in got] == ["firing", "resolved", "firing"]


def test_stuck_agent_fires_with_a_snapshot_and_turns_not_ready(mon: Monitor,
                                                              clock: FakeClock) -> None:
    """No loop progress for longer than after_s fires once, with the tool in progress."""
    engine, got = _engine(mon, clock, StuckRule(after_s=30))
    mon.health_checks.append(engine.stuck_check)
    with mon.agent_loop():
        pass
    mon.flush()
    with mon.agent_loop(), mon.tool("slow_tool"):
        clock.advance(31)
        engine.evaluate()
        engine.evaluate()
        report = mon.health()
    assert [(a.rule, a.status) for a in got] == [("KaizenAgentStuck", "firing")]
    snapshot = got[0].snapshot
    assert snapshot is not None
    assert snapshot["tools_in_progress"] == [{"tool": "slow_tool", "running_s": 31.0}]
    frames = [f for t in snapshot["threads"] for f in t["frames"]]
    assert any("test_stuck_agent_fires_with_a_snapshot" in f for f in frames)
    assert not report.ready
    assert report.to_json()["components"]["agents"]["ok"] is False
    mon.flush()  # the iteration finished: progress
    engine.evaluate()
    assert [a.status for a in got] == ["firing", "resolved"]
    assert mon.health().ready


def test_agent_that_never_looped_is_not_stuck(mon: Monitor, clock: FakeClock) -> None:
    """Stuck detection arms at the first loop iteration (tool-only scripts never alert)."""
    engine, got = _engine(mon, clock, StuckRule(after_s=1))
    with mon.tool("x"):
        clock.advance(100)
    mon.flush()
    engine.evaluate()
    assert got == []


def test_memory_growth_over_a_full_window_fires(mon: Monitor, clock: FakeClock) -> None:
    """RSS growing by more than the threshold across a whole window fires; start-up does not."""
    rss = [100 * 2**20]
    got: list[Alert] = []
    engine = AlertEngine([MemoryGrowthRule(threshold_bytes=50 * 2**20, window_s=100)],
                         [CallbackNotifier(got.append)], clock=clock,
                         probe=lambda: Probe(rss_bytes=rss[0], agent="agent-a"))
    for _ in range(8):  # 80 s: less than a full window, although memory grew 80 MiB
        engine.evaluate()
        clock.advance(10)
        rss[0] += 10 * 2**20
    assert got == []
    for _ in range(4):
        engine.evaluate()
        clock.advance(10)
        rss[0] += 10 * 2**20
    assert [a.rule for a in got] == ["KaizenMemoryGrowth"]
    assert got[0].labels == {"agent": "agent-a"} and got[0].value > 50 * 2**20


class _Broken:
    def handle(self, batch: object) -> None:
        raise RuntimeError("backend down")


def test_dropped_events_and_export_errors_fire(clock: FakeClock) -> None:
    """Drops of a full buffer and a failing sink, read from a real pipeline, each fire once."""
    pipe = Pipeline([_Broken()], capacity=2)
    got: list[Alert] = []
    engine = AlertEngine([DroppedEventsRule(), ExportErrorsRule()], [CallbackNotifier(got.append)],
                         clock=clock, probe=lambda: Probe(dropped=pipe.dropped,
                                                          export_errors=dict(pipe.sink_errors)))
    engine.evaluate()
    assert got == []
    event: Event = mon_event()
    for _ in range(5):
        pipe.put(event)
    pipe.drain()
    engine.evaluate()
    engine.evaluate()
    assert sorted((a.rule, dict(a.labels).popitem()[1], a.value) for a in got) == [
        ("KaizenEventsDropped", "buffer", 3), ("KaizenExportErrors", "_Broken", 1)]
    assert not engine.exporters_check().ok
    clock.advance(301)
    engine.evaluate()
    assert engine.exporters_check().ok and len(got) == 4


def mon_event() -> Event:
    from kaizen_perf.events import InterruptEvent
    return InterruptEvent("a", "graceful", 0, 0, 0, 0)


def test_monitor_runs_the_engine_on_a_named_thread() -> None:
    """With alerts on, a monitor evaluates on kaizen-perf-alert-eval and stops it at shutdown."""
    import threading
    mon = Monitor("threads", environ={}, alerts_enabled=True)
    assert mon.alerts is not None
    assert "kaizen-perf-alert-eval" in {t.name for t in threading.enumerate()}
    assert {c.name for c in mon.health().components} >= {"pipeline", "budget", "agents",
                                                          "exporters"}
    assert mon.shutdown(2.0)
