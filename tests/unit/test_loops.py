"""Loop detection: the same tool with the same arguments N times in a row, its cost, its alert."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kaizen_perf import Monitor
from kaizen_perf.alerts import Alert, AlertEngine, CallbackNotifier, LoopRule, Probe
from kaizen_perf.config import Settings
from kaizen_perf.cost import ModelPrice, PriceTable, Rates, usd
from kaizen_perf.errors import ConfigError
from kaizen_perf.loops import args_digest
from kaizen_perf.testing import FakeClock

ARGS = {"query": "weather in Paris", "limit": 5}
OTHER = {"query": "weather in Rome", "limit": 5}
# pico-dollars per token: every call below costs a distinct, exactly known amount
PRICE = ModelPrice("m", "p", Rates(input=1_000_003, output=7_000_001, cache_read=0,
                                   cache_write=0, cache_write_1h=0))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def mon(clock: FakeClock) -> Iterator[Monitor]:
    m = Monitor("agent-a", clock=clock, environ={}, alerts_enabled=False,
                pricing=PriceTable({"m": PRICE}))
    yield m
    m.shutdown(2.0)


def _value(mon: Monitor, metric: str, **labels: str) -> float:
    """A sample of /metrics (0 when the series does not exist)."""
    for family in text_string_to_metric_families(mon.export_metrics()):
        for sample in family.samples:
            if sample.name == metric and all(sample.labels.get(k) == v
                                             for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def _calls(mon: Monitor, clock: FakeClock, tool: str, args: object, n: int) -> None:
    for _ in range(n):
        clock.advance(1)
        with mon.tool(tool, arguments=args):
            clock.advance(1)


def _loops(mon: Monitor, tool: str = "search") -> float:
    return _value(mon, "kaizen_agent_loops_detected_total", agent="agent-a", tool=tool)


def test_loop_detected_at_exactly_n_calls_not_before(mon: Monitor, clock: FakeClock) -> None:
    """Two identical calls are no loop; the third is one, counted once however long it goes on."""
    _calls(mon, clock, "search", ARGS, 2)
    assert _loops(mon) == 0
    _calls(mon, clock, "search", dict(ARGS), 1)  # an equal dict, not the same object
    assert _loops(mon) == 1
    _calls(mon, clock, "search", ARGS, 4)
    assert _loops(mon) == 1


@pytest.mark.parametrize("breaker", ["other_tool", "other_args", "no_args"])
def test_a_different_call_in_between_resets_the_count(mon: Monitor, clock: FakeClock,
                                                      breaker: str) -> None:
    """A different tool, other arguments, or a call without arguments ends the run."""
    _calls(mon, clock, "search", ARGS, 2)
    if breaker == "other_tool":
        _calls(mon, clock, "fetch", ARGS, 1)
    elif breaker == "other_args":
        _calls(mon, clock, "search", OTHER, 1)
    else:
        with mon.tool("search"):
            pass
    _calls(mon, clock, "search", ARGS, 2)
    assert _loops(mon) == 0 and _loops(mon, "fetch") == 0
    _calls(mon, clock, "search", ARGS, 1)
    assert _loops(mon) == 1  # a fresh run of three


def test_each_new_run_of_repeats_is_a_new_loop(mon: Monitor, clock: FakeClock) -> None:
    """Three, a break, three again: two loops; agents are followed separately."""
    _calls(mon, clock, "search", ARGS, 3)
    _calls(mon, clock, "fetch", OTHER, 1)
    _calls(mon, clock, "search", ARGS, 3)
    other = Monitor("agent-b", clock=clock, environ={}, alerts_enabled=False)
    try:
        for _ in range(2):  # interleaved with agent-b: its calls are not agent-a's
            with mon.tool("search", arguments=OTHER), other.tool("search", arguments=OTHER):
                pass
        other.flush()
        mon.flush()
    finally:
        other.shutdown(2.0)
    assert _loops(mon) == 2


def test_cost_inside_the_loop_is_exact(mon: Monitor, clock: FakeClock) -> None:
    """Calls inside and between the repeats count; the call before the first and after the last
    do not; the total equals the cost of exactly those calls, to the pico-dollar."""
    def call(tokens: int) -> int:
        clock.advance(1)
        mon.record_api_call("p", "m", input_tokens=tokens, output_tokens=tokens // 3)
        return PRICE.cost_pico(tokens, tokens // 3)

    def tool(args: object, *inner: int) -> list[int]:
        clock.advance(1)
        with mon.tool("search", arguments=args):
            costs = [call(t) for t in inner]
            clock.advance(1)
        return costs

    call(1000)  # asks for the first repeat: before the loop
    inside = tool(ARGS, 11)  # made inside the first repeat: in the loop
    inside += [call(22)]
    inside += tool(ARGS)
    inside += [call(33), call(44)]
    inside += tool(ARGS, 55)  # the third: detected here
    mon.flush()
    assert _loops(mon) == 1
    looped = _value(mon, "kaizen_agent_loop_cost_usd_total", agent="agent-a", tool="search")
    assert looped == usd(sum(inside))
    inside += [call(66)]  # followed by a fourth repeat: still the loop
    inside += tool(ARGS)
    call(77)  # followed by another tool: it ended the loop
    tool(OTHER, 88)
    looped = _value(mon, "kaizen_agent_loop_cost_usd_total", agent="agent-a", tool="search")
    assert looped == usd(sum(inside))
    total = _value(mon, "kaizen_api_cost_usd_total", agent="agent-a", provider="p", model="m")
    assert total > looped  # the calls outside are in the total, not in the loop


def test_loop_alert_fires_with_agent_and_tool(mon: Monitor, clock: FakeClock) -> None:
    """The KaizenAgentLoop rule fires for the looping tool at the N-th call, not before."""
    got: list[Alert] = []
    engine = AlertEngine([LoopRule(repeats=3, window_s=300)], [CallbackNotifier(got.append)],
                         clock=clock, cooldown_s=0.0, probe=Probe)
    mon.pipeline.add_sink(engine)
    _calls(mon, clock, "search", ARGS, 2)
    mon.flush()
    engine.evaluate()
    assert got == []
    _calls(mon, clock, "search", ARGS, 1)
    mon.flush()
    engine.evaluate()
    assert [(a.rule, a.status, dict(a.labels)) for a in got] == [
        ("KaizenAgentLoop", "firing", {"agent": "agent-a", "tool": "search"})]
    assert "3 times in a row" in got[0].summary
    clock.advance(400)  # the loop leaves the window
    engine.evaluate()
    assert [a.status for a in got] == ["firing", "resolved"]


def test_default_rules_raise_the_loop_alert_through_the_monitor(tmp_path: Path) -> None:
    """With alerts on, a monitor's own engine fires the loop alert (KAIZEN_PERF_LOOP_REPEATS)."""
    clock = FakeClock()
    got: list[Alert] = []
    mon = Monitor("agent-a", clock=clock, environ={"KAIZEN_PERF_LOOP_REPEATS": "4"},
                  alerts_enabled=True)
    try:
        assert mon.alerts is not None
        mon.alerts.notifiers.append(CallbackNotifier(got.append))
        _calls(mon, clock, "search", ARGS, 3)
        mon.flush()
        mon.alerts.evaluate()
        assert not [a for a in got if a.rule == "KaizenAgentLoop"]
        _calls(mon, clock, "search", ARGS, 1)
        mon.flush()
        mon.alerts.evaluate()
        assert [a.labels["tool"] for a in got if a.rule == "KaizenAgentLoop"] == ["search"]
        assert _loops(mon) == 1
    finally:
        mon.shutdown(2.0)


def test_no_argument_value_reaches_any_output(tmp_path: Path) -> None:
    """Metrics, spans, the event log and the alert carry the tool, never its arguments or digest."""
    secret = {"password": "hunter2-SECRET-7731", "path": "/home/alice/secret.txt"}
    digest = args_digest(secret)
    assert digest is not None
    clock = FakeClock()
    log = tmp_path / "events.jsonl"
    got: list[Alert] = []
    mon = Monitor("agent-a", clock=clock, environ={}, alerts_enabled=True, traces="memory",
                  log_events="all", log_file=str(log))
    try:
        assert mon.alerts is not None
        mon.alerts.notifiers.append(CallbackNotifier(got.append))
        _calls(mon, clock, "read_file", secret, 3)
        mon.flush()
        mon.alerts.evaluate()
        metrics = mon.export_metrics()
    finally:
        mon.shutdown(2.0)
    spans = mon.pipeline.sinks  # the memory exporter of the trace sink
    trace = next(s for s in spans if hasattr(s, "exporters"))
    span_text = json.dumps([dict(s.attributes or {}) for s in
                            trace.exporters["memory"].get_finished_spans()])
    outputs = {"metrics": metrics, "spans": span_text, "log": log.read_text(),
               "alerts": json.dumps([a.to_json() for a in got])}
    assert 'kaizen_agent_loops_detected_total{agent="agent-a",tool="read_file"} 1.0' in metrics
    assert "read_file" in outputs["spans"] and "read_file" in outputs["log"]
    for name, text in outputs.items():
        for needle in ("hunter2", "SECRET", "alice", str(digest), hex(digest)[2:]):
            assert needle not in text, (name, needle)


def test_args_digest_is_stable_across_processes_and_never_raises() -> None:
    """The same arguments digest alike in another interpreter; unreadable ones give None."""
    code = ("import sys; sys.path.insert(0, '.'); from kaizen_perf.loops import args_digest; "
            f"print(args_digest({ARGS!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2],
                         env={"PYTHONHASHSEED": "12345"})
    assert int(out.stdout) == args_digest(ARGS) != args_digest(OTHER)

    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert args_digest(Hostile()) is None
    assert args_digest("\ud800 lone surrogate") is not None


def test_unreadable_arguments_never_reach_agent_code(mon: Monitor, clock: FakeClock) -> None:
    """A tool whose arguments cannot be read is still timed, and never counted as a loop."""
    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    for _ in range(3):
        with mon.tool("search", arguments=Hostile()):
            pass
    assert _value(mon, "kaizen_tool_calls_total", agent="agent-a", tool="search",
                  status="ok") == 3
    assert _loops(mon) == 0


@pytest.mark.parametrize("raw", ["1", "0", "three"])
def test_loop_repeats_below_two_is_a_config_error(raw: str) -> None:
    """KAIZEN_PERF_LOOP_REPEATS must be a whole number of 2 or more, named in the message."""
    with pytest.raises(ConfigError, match="KAIZEN_PERF_LOOP_REPEATS"):
        Settings.load({"KAIZEN_PERF_LOOP_REPEATS": raw})
    with pytest.raises(ConfigError, match="loop_repeats"):
        Settings.load({}, loop_repeats=raw)


def test_async_scopes_with_arguments_detect_loops_too(mon: Monitor, clock: FakeClock) -> None:
    """``async with mon.tool(name, arguments=...)`` carries the digest like the sync form."""
    import asyncio

    async def agent() -> None:
        for _ in range(3):
            async with mon.tool("search", arguments=ARGS):
                await asyncio.sleep(0)

    asyncio.run(agent())
    assert _loops(mon) == 1
