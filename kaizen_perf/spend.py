"""Cost attribution to tasks: which API spend happened while a task ran.

``mon.task()`` is recorded when a task ends, with its duration. The metrics sink
keeps, per agent, a bounded log of ``(end time, cumulative pico-dollars)`` of
priced API calls; a task's cost is the cumulative spend at its end minus the
spend just before its start (two binary searches, exact integers).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import deque

_MAX_CALLS = 20_000  #: per agent; a task longer than this many calls is undercounted
_MAX_AGENTS = 1_000


class SpendLedger:
    """Cumulative API spend per agent, by event time."""

    def __init__(self) -> None:
        self._times: dict[str, deque[int]] = {}
        self._totals: dict[str, deque[int]] = {}

    def add(self, agent: str, end_ns: int, pico: int) -> None:
        """Record a priced call (events arrive roughly in time order; late ones are clamped)."""
        times = self._times.get(agent)
        if times is None:
            if len(self._times) >= _MAX_AGENTS:
                return
            times = self._times[agent] = deque(maxlen=_MAX_CALLS)
            self._totals[agent] = deque(maxlen=_MAX_CALLS)
        totals = self._totals[agent]
        last_total = totals[-1] if totals else 0
        times.append(max(end_ns, times[-1]) if times else end_ns)
        totals.append(last_total + pico)

    def between(self, agent: str, start_ns: int, end_ns: int) -> int:
        """Spend of the calls that ended in ``[start_ns, end_ns]``."""
        times = self._times.get(agent)
        if not times:
            return 0
        totals = self._totals[agent]
        hi = bisect_right(times, end_ns)
        lo = bisect_left(times, start_ns)
        if hi <= lo:
            return 0
        return totals[hi - 1] - (totals[lo - 1] if lo > 0 else 0)
