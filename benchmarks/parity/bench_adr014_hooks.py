"""ADR-014, hooks: Kaizen's ``HookManager`` (registration, trigger, statistics)."""

from __future__ import annotations

import tracemalloc

import anyio
from kaizen.core.autonomy.hooks.manager import HookManager
from kaizen.core.autonomy.hooks.types import HookContext, HookEvent, HookResult

from benchmarks.parity._support import cpu_time, run
from kaizen_perf.regression import benchmark

HOOKS = 100
MEMORY_HOOKS = 1000
STATS_OPS = 1000
AGENTS = 64  # above the ADR's 50
EVENT = HookEvent.PRE_TOOL_USE
_DATA = {"tool_name": "Read", "tool_input": {"path": "README.md"}}


async def noop_hook(context: HookContext) -> HookResult:
    """A hook that does nothing: what is timed is Kaizen's dispatch around it."""
    return HookResult(success=True)


def _manager(count: int, events: tuple[HookEvent, ...] = (EVENT,)) -> HookManager:
    """``count`` no-op hooks, spread evenly over ``events``."""
    manager = HookManager()
    for i in range(count):
        manager.register(events[i % len(events)], noop_hook)
    return manager


_FULL: list[HookManager] = []
_STATS = HookManager()


def _full() -> HookManager:
    if not _FULL:
        _FULL.append(_manager(HOOKS))
    return _FULL[0]


@cpu_time
@benchmark(ops=HOOKS, setup=_full, pairs_per_round=1)
def bench_execution_100_hooks() -> None:
    """``trigger`` of an event with 100 registered hooks (per hook)."""
    results = run(_full().trigger(EVENT, "agent-1", _DATA))
    assert len(results) == HOOKS and all(r.success for r in results)


@cpu_time
@benchmark(ops=HOOKS, pairs_per_round=1)
def bench_registration() -> None:
    """``register`` of 100 hooks into a new manager (per hook; each keeps the list sorted)."""
    _manager(HOOKS)


@cpu_time
@benchmark(ops=STATS_OPS, pairs_per_round=1)
def bench_stats_update() -> None:
    """The per-execution statistics update (``HookManager._update_stats``)."""
    update = _STATS._update_stats
    for _ in range(STATS_OPS):
        update("noop_hook", 0.25, True)


@benchmark(unit="bytes")
def bench_memory_per_hook() -> float:
    """tracemalloc bytes per registered hook, 1,000 hooks over the first 10 events (an agent
    spreads its hooks over events; one list of 1,000 would time Kaizen's re-sort on every
    registration instead)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        manager = _manager(MEMORY_HOOKS, tuple(HookEvent)[:10])
        size = tracemalloc.get_traced_memory()[0] - before
        del manager
    finally:
        tracemalloc.stop()
    return size / MEMORY_HOOKS


async def _concurrent() -> int:
    manager = HookManager()
    inside, peak = 0, 0
    everyone_in = anyio.Event()

    async def overlapping(context: HookContext) -> HookResult:
        nonlocal inside, peak
        inside += 1
        peak = max(peak, inside)
        if inside == AGENTS:
            everyone_in.set()
        with anyio.move_on_after(0.4):  # under Kaizen's 0.5 s hook timeout
            await everyone_in.wait()
        inside -= 1
        return HookResult(success=True)

    manager.register(EVENT, overlapping)
    ok = 0

    async def agent(i: int) -> None:
        nonlocal ok
        results = await manager.trigger(EVENT, f"agent-{i}", _DATA)
        ok += all(r.success for r in results)

    async with anyio.create_task_group() as tg:
        for i in range(AGENTS):
            tg.start_soon(agent, i)
    return min(peak, ok)


@benchmark(unit="count", direction="higher")
def bench_concurrent_execution() -> float:
    """Hooks executing at the same moment for 64 agents triggering one shared manager
    (each hook waits until all are inside; counted only if every trigger succeeded)."""
    return float(run(_concurrent()))
