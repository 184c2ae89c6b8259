"""Where the time went: an agent's wall time split by its hooks into LLM calls, tools and the
rest, from a real monitor's families."""

from __future__ import annotations

from kaizen_perf import Monitor
from kaizen_perf.report import breakdown
from kaizen_perf.runner.summary import build_summary
from kaizen_perf.testing import FakeClock


class _NoProcesses:
    def agents(self) -> list[str]:
        return []

    def average_rss(self, agent: str) -> float:
        return 0.0


def _summary() -> dict[str, object]:
    """One agent: 2 LLM calls of 1.5 s, 3 searches of 0.5 s, 1 write of 0.25 s."""
    clock = FakeClock()
    mon = Monitor("agent", environ={}, clock=clock)
    try:
        for _ in range(2):
            mon.record_api_call("anthropic", "claude-haiku-4-5", 1000, 100, duration_s=1.5)
        for _ in range(3):
            with mon.tool("search"):
                clock.advance(0.5)
        with mon.tool("write"):
            clock.advance(0.25)
        mon.flush()
        with mon.pipeline.lock:
            return build_summary(mon.metrics.families, _NoProcesses(), None)
    finally:
        mon.shutdown(2.0)


def test_wall_time_splits_into_llm_tools_and_elsewhere() -> None:
    """LLM 3 s, search 1.5 s, write 0.25 s of a 10 s run; the 5.25 s no hook covers is
    'elsewhere'; the LLM part carries the calls' cost."""
    agent = _summary()["agents"]["agent"]  # type: ignore[index]
    found = breakdown.parts(agent, 10.0)
    got = {p.label.split(" (")[0]: round(p.seconds, 6) for p in found}
    assert got == {"LLM calls": 3.0, "tool search": 1.5, "tool write": 0.25, "elsewhere": 5.25}
    assert found[0].cost_usd is not None and found[0].cost_usd > 0
    line = breakdown.text_lines(agent, 10.0)[0]
    assert "LLM calls 3.0 s (30 %)" in line and "tool search 1.5 s (15 %)" in line


def test_overlapping_calls_are_said_to_overlap() -> None:
    """When the hooks' durations add up to more than the wall time, nothing is 'elsewhere'
    and the report says the calls overlapped."""
    agent = _summary()["agents"]["agent"]  # type: ignore[index]
    assert [p for p in breakdown.parts(agent, 4.0) if p.label.startswith("elsewhere")] == []
    assert "overlapped" in breakdown.render(agent, 4.0)
    assert "overlapped" not in breakdown.render(agent, 10.0)
