"""Hook hot path: the cost agent code pays per hook call.

Each call makes ``OPS`` hook calls on a monitor whose dispatcher never wakes
during the sample (long flush interval, batch below the high-water mark), so
the time is the hot path alone, free of the dispatcher's scheduling luck.
``bench_tool_aggregated`` adds the aggregation (a synchronous flush): the full
cost of one event.
"""

from __future__ import annotations

import kaizen_perf
from kaizen_perf.regression import benchmark

OPS = 1000
_MON: list[kaizen_perf.Monitor] = []


def _mon() -> kaizen_perf.Monitor:
    if not _MON:
        _MON.append(kaizen_perf.Monitor("bench-hooks", flush_interval_s=3600.0))
    return _MON[0]


def _discard(mon: kaizen_perf.Monitor) -> None:
    # Dropping the batch costs ~1 % of the sample and keeps the buffer from filling up
    # (a full buffer would switch the hot path to its cheaper drop branch).
    mon.pipeline.buffer.clear()


@benchmark(ops=OPS, measure="instructions")
def bench_tool() -> None:
    """``with mon.tool("x"): pass`` — the most frequent hook."""
    mon = _mon()
    tool = mon.tool
    for _ in range(OPS):
        with tool("x"):
            pass
    _discard(mon)


@benchmark(ops=OPS, measure="instructions")
def bench_agent_loop() -> None:
    """``with mon.agent_loop(): pass`` — once per agent iteration."""
    mon = _mon()
    loop = mon.agent_loop
    for _ in range(OPS):
        with loop():
            pass
    _discard(mon)


@benchmark(ops=OPS, measure="instructions")
def bench_record_api_call() -> None:
    """``mon.record_api_call(...)`` with cost computation — once per LLM call."""
    mon = _mon()
    record = mon.record_api_call
    for _ in range(OPS):
        record(provider="anthropic", model="claude-sonnet-4-5", input_tokens=1200,
               output_tokens=300, cache_read_tokens=0, cache_write_tokens=0, duration_s=1.4)
    _discard(mon)


@benchmark(ops=OPS, measure="instructions")
def bench_tool_aggregated() -> None:
    """``with mon.tool("x")`` plus its aggregation into metrics (synchronous flush)."""
    mon = _mon()
    tool = mon.tool
    for _ in range(OPS):
        with tool("x"):
            pass
    mon.flush()
