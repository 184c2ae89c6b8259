"""Every hook: the metrics and labels it produces, outcomes on exception, async and threads."""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Iterator

import pytest

from kaizen_perf import Monitor
from kaizen_perf.events import ApiCallEvent, LoopEvent, ToolEvent
from kaizen_perf.testing import FakeClock, capture_events
from tests.unit.metrics_util import value


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def mon(clock: FakeClock) -> Iterator[Monitor]:
    m = Monitor("tester", clock=clock, environ={})
    yield m
    m.shutdown(2.0)


def test_tool_counts_calls_and_observes_duration(mon: Monitor, clock: FakeClock) -> None:
    """A tool scope adds one ok call and its duration to the tool histogram."""
    with mon.tool("web_search"):
        clock.advance(0.3)
    assert value(mon, "kaizen_tool_calls_total", agent="tester", tool="web_search",
                 status="ok") == 1
    assert value(mon, "kaizen_tool_duration_seconds_sum", agent="tester",
                 tool="web_search") == pytest.approx(0.3)
    assert value(mon, "kaizen_tool_duration_seconds_bucket", agent="tester", tool="web_search",
                 le="0.32") == 1
    assert value(mon, "kaizen_tool_duration_seconds_bucket", agent="tester", tool="web_search",
                 le="0.16") == 0


def test_tool_records_error_and_lets_the_exception_through(mon: Monitor) -> None:
    """An exception inside a tool is counted as status=error and still reaches the caller."""
    with pytest.raises(KeyError), mon.tool("db"):
        raise KeyError("x")
    assert value(mon, "kaizen_tool_calls_total", agent="tester", tool="db", status="error") == 1


def test_tool_decorator_sync_and_async(mon: Monitor, clock: FakeClock) -> None:
    """@mon.tool works on plain and async functions, one call per invocation."""
    @mon.tool("sync_tool")
    def work(x: int) -> int:
        clock.advance(0.01)
        return x * 2

    @mon.tool("async_tool")
    async def awork(x: int) -> int:
        await asyncio.sleep(0)
        return x + 1

    assert work(2) == 4 and work(3) == 6
    assert asyncio.run(awork(1)) == 2
    assert work.__name__ == "work"
    assert value(mon, "kaizen_tool_calls_total", agent="tester", tool="sync_tool",
                 status="ok") == 2
    assert value(mon, "kaizen_tool_calls_total", agent="tester", tool="async_tool",
                 status="ok") == 1


def test_agent_loop_counts_iterations_and_progress(mon: Monitor, clock: FakeClock) -> None:
    """Each loop iteration is counted with its outcome and advances the progress timestamp."""
    with mon.agent_loop():
        clock.advance(1.5)
    with pytest.raises(RuntimeError), mon.agent_loop():
        raise RuntimeError
    assert value(mon, "kaizen_agent_loop_iterations_total", agent="tester", status="ok") == 1
    assert value(mon, "kaizen_agent_loop_iterations_total", agent="tester", status="error") == 1
    assert value(mon, "kaizen_agent_loop_duration_seconds_count", agent="tester") == 2
    assert value(mon, "kaizen_agent_last_progress_timestamp_seconds", agent="tester") > 1e9


def test_api_call_records_tokens_by_type_and_returns_cost(mon: Monitor) -> None:
    """record_api_call returns the USD cost and counts every token type separately."""
    cost = mon.record_api_call(provider="anthropic", model="claude-sonnet-4-5",
                               input_tokens=1200, output_tokens=300, cache_read_tokens=1000,
                               cache_write_tokens=400, duration_s=1.4)
    expected = (1200 * 3 + 300 * 15 + 1000 * 0.3 + 400 * 3.75) / 1e6
    assert cost == pytest.approx(expected)
    labels = {"agent": "tester", "provider": "anthropic", "model": "claude-sonnet-4-5"}
    for kind, n in [("input", 1200), ("output", 300), ("cache_read", 1000), ("cache_write", 400)]:
        assert value(mon, "kaizen_api_tokens_total", type=kind, **labels) == n
    assert value(mon, "kaizen_api_cost_usd_total", **labels) == pytest.approx(expected)
    assert value(mon, "kaizen_api_requests_total", status="ok", **labels) == 1
    assert value(mon, "kaizen_api_request_duration_seconds_sum", **labels) == pytest.approx(1.4)


def test_dated_model_id_matches_its_family(mon: Monitor) -> None:
    """A dated model id is priced like its family."""
    plain = mon.record_api_call("anthropic", "claude-sonnet-4-5", 100, 100)
    dated = mon.record_api_call("anthropic", "claude-sonnet-4-5-20250929", 100, 100)
    assert plain == dated and plain is not None and plain > 0


def test_unknown_model_is_counted_never_zero(mon: Monitor,
                                            caplog: pytest.LogCaptureFixture) -> None:
    """An unpriced model returns None, is counted, and warns once, never reporting $0."""
    assert mon.record_api_call("acme", "mystery-1", 10, 10) is None
    assert mon.record_api_call("acme", "mystery-1", 10, 10) is None
    labels = {"agent": "tester", "provider": "acme", "model": "mystery-1"}
    assert value(mon, "kaizen_api_unpriced_requests_total", **labels) == 2
    assert ("kaizen_api_cost_usd_total", frozenset(labels.items())) not in _all(mon)
    assert sum("mystery-1" in r.getMessage() for r in caplog.records) == 1


def _all(mon: Monitor) -> set[tuple[str, frozenset[tuple[str, str]]]]:
    from tests.unit.metrics_util import samples
    return set(samples(mon))


def test_api_call_inside_tool_is_attributed_to_it(mon: Monitor) -> None:
    """An API call made while a tool is active carries that tool (cost per tool)."""
    with capture_events(mon) as events, mon.tool("summarise"):
        mon.record_api_call("anthropic", "claude-haiku-4-5", 10, 10)
    api = next(e for e in events if isinstance(e, ApiCallEvent))
    tool = next(e for e in events if isinstance(e, ToolEvent))
    assert api.tool == "summarise"
    assert api.parent_id == tool.span_id and api.trace_id == tool.trace_id


def test_autonomy_hooks(mon: Monitor) -> None:
    """Permission, checkpoint, hook, interrupt, control and task hooks reach their metrics."""
    mon.permission_check(tool="bash", decision="denied", reason="policy", duration_s=0.001)
    mon.permission_check(tool="bash", decision="approved", duration_s=0.002)
    mon.checkpoint(op="save", size_bytes=52_000, duration_s=0.02)
    mon.checkpoint(op="load", size_bytes=52_000, duration_s=0.01, error=OSError("disk"))
    mon.hook_executed(hook="pre_tool", duration_s=0.0004, ok=True)
    mon.hook_executed(hook="pre_tool", duration_s=0.0004, ok=False)
    mon.interrupt(kind="graceful")
    mon.interrupt(kind="immediate")
    mon.control_request(kind="approval", duration_s=0.2, outcome="timeout")
    mon.task(task_type="code_review", complexity="high", duration_s=310, ok=True)
    a = {"agent": "tester"}
    assert value(mon, "kaizen_permission_checks_total", tool="bash", decision="denied", **a) == 1
    assert value(mon, "kaizen_permission_denials_total", tool="bash", reason="policy", **a) == 1
    assert value(mon, "kaizen_permission_check_duration_seconds_count", **a) == 2
    assert value(mon, "kaizen_checkpoint_operations_total", op="load", status="error", **a) == 1
    assert value(mon, "kaizen_checkpoint_size_bytes_sum", op="save", **a) == 52_000
    assert value(mon, "kaizen_hook_executions_total", hook="pre_tool", status="error", **a) == 1
    assert value(mon, "kaizen_interrupts_total", kind="immediate", **a) == 1
    assert value(mon, "kaizen_control_requests_total", kind="approval", outcome="timeout",
                 **a) == 1
    assert value(mon, "kaizen_tasks_total", task_type="code_review", complexity="high",
                 status="ok", **a) == 1
    assert value(mon, "kaizen_task_duration_seconds_bucket", task_type="code_review",
                 complexity="high", status="ok", le="327.68", **a) == 1


def test_asyncio_tasks_keep_their_own_tool_context(mon: Monitor) -> None:
    """Concurrent asyncio tasks each attribute their API calls to their own tool."""
    async def agent(name: str) -> None:
        with mon.tool(name):
            await asyncio.sleep(0.01)
            mon.record_api_call("anthropic", "claude-haiku-4-5", 1, 1)

    async def main() -> None:
        await asyncio.gather(*(agent(f"t{i}") for i in range(5)))

    with capture_events(mon) as events:
        asyncio.run(main())
    calls = [e for e in events if isinstance(e, ApiCallEvent)]
    tools = {e.span_id: e.tool for e in events if isinstance(e, ToolEvent)}
    assert sorted(c.tool or "" for c in calls) == [f"t{i}" for i in range(5)]
    assert all(tools[c.parent_id] == c.tool for c in calls)


def test_threads_keep_their_own_context(mon: Monitor) -> None:
    """A thread started inside a tool does not inherit it: each thread has its own scope."""
    def worker() -> None:
        mon.record_api_call("anthropic", "claude-haiku-4-5", 1, 1)

    with capture_events(mon) as events, mon.tool("outer"):
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    seen = [e.tool for e in events if isinstance(e, ApiCallEvent)]
    assert seen == [None]


def test_nested_loop_and_tool_share_a_trace(mon: Monitor) -> None:
    """A tool inside a loop iteration is its child; two iterations are separate traces."""
    with capture_events(mon) as events:
        for _ in range(2):
            with mon.agent_loop(), mon.tool("x"):
                pass
    loops = [e for e in events if isinstance(e, LoopEvent)]
    tools = [e for e in events if isinstance(e, ToolEvent)]
    assert [t.parent_id for t in tools] == [lp.span_id for lp in loops]
    assert loops[0].trace_id != loops[1].trace_id


def test_traceparent_makes_spans_children_of_the_caller(clock: FakeClock) -> None:
    """A TRACEPARENT in the environment becomes the parent of top-level scopes."""
    tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    mon = Monitor("child", clock=clock, environ={"TRACEPARENT": tp})
    try:
        with capture_events(mon) as events, mon.agent_loop():
            pass
    finally:
        mon.shutdown(2.0)
    loop = events[0]
    assert isinstance(loop, LoopEvent)
    assert loop.trace_id == 0x0AF7651916CD43DD8448EB211C80319C
    assert loop.parent_id == 0xB7AD6B7169203331


def test_disabled_monitor_records_nothing(clock: FakeClock) -> None:
    """With enabled=False every hook is a no-op and nothing is exported."""
    mon = Monitor("off", clock=clock, environ={}, enabled=False)
    with mon.tool("x"), mon.agent_loop():
        pass
    assert mon.record_api_call("anthropic", "claude-haiku-4-5", 1, 1) is None
    assert "kaizen_tool_calls_total" not in mon.export_metrics()
    mon.shutdown(1.0)


def test_cost_sums_stay_exact_over_many_calls(mon: Monitor) -> None:
    """A million cheap calls sum to the exact cost (integer pico-dollars, no float drift)."""
    with mon.pipeline.lock:
        fam = mon.metrics.families["kaizen_api_cost_usd_total"]
    for _ in range(200):
        mon.record_api_call("openai", "gpt-5-nano", 3, 1)
    mon.flush()
    slot = fam.series[("tester", "openai", "gpt-5-nano")]
    assert isinstance(slot[0], int)
    assert slot[0] == 200 * (3 * 50_000 + 1 * 400_000)
    assert not math.isnan(value(mon, "kaizen_api_cost_usd_total", agent="tester",
                                provider="openai", model="gpt-5-nano"))
