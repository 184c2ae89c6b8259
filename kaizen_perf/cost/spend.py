"""Cost attribution to tasks: which API spend happened while a task ran.

``mon.task()`` is recorded when a task ends, with its duration. The metrics sink
keeps, per agent, a bounded log of ``(end time, cumulative pico-dollars,
cumulative unpriced calls)`` of API calls; a task's cost is the cumulative spend
at its end minus the spend just before its start (two binary searches, exact
integers), and likewise the number of calls in it that had no price, so a task
whose cost is partly unknown says so instead of looking cheap.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import deque
from typing import NamedTuple

_MAX_CALLS = 20_000  #: per agent; a task longer than this many calls is undercounted
_MAX_AGENTS = 1_000


class Spend(NamedTuple):
    """What the calls of a time window cost: exact pico-dollars, and how many had no price."""

    pico: int
    unpriced: int


class SpendLedger:
    """Cumulative API spend per agent, by event time."""

    def __init__(self) -> None:
        self._times: dict[str, deque[int]] = {}
        self._totals: dict[str, deque[int]] = {}
        self._unpriced: dict[str, deque[int]] = {}

    def add(self, agent: str, end_ns: int, pico: int) -> None:
        """Record a call: its cost in pico-dollars, or -1 when it had no price (events arrive
        roughly in time order; late ones are clamped)."""
        times = self._times.get(agent)
        if times is None:
            if len(self._times) >= _MAX_AGENTS:
                return
            times = self._times[agent] = deque(maxlen=_MAX_CALLS)
            self._totals[agent] = deque(maxlen=_MAX_CALLS)
            self._unpriced[agent] = deque(maxlen=_MAX_CALLS)
        totals, unpriced = self._totals[agent], self._unpriced[agent]
        last_total = totals[-1] if totals else 0
        last_unpriced = unpriced[-1] if unpriced else 0
        times.append(max(end_ns, times[-1]) if times else end_ns)
        totals.append(last_total + max(pico, 0))
        unpriced.append(last_unpriced + (pico < 0))

    def between(self, agent: str, start_ns: int, end_ns: int) -> Spend:
        """Spend of the calls that ended in ``[start_ns, end_ns]``."""
        times = self._times.get(agent)
        if not times:
            return Spend(0, 0)
        hi = bisect_right(times, end_ns)
        lo = bisect_left(times, start_ns)
        if hi <= lo:
            return Spend(0, 0)
        totals, unpriced = self._totals[agent], self._unpriced[agent]
        return Spend(totals[hi - 1] - (totals[lo - 1] if lo > 0 else 0),
                     unpriced[hi - 1] - (unpriced[lo - 1] if lo > 0 else 0))
