"""A hard budget under concurrent calls: 1,000 randomized runs of reserve, send, settle.

Each run drives one :class:`BudgetTracker` the way the client integrations do
(reserve the worst case, "send", record the real cost with ``charge``, release),
from several threads or asyncio tasks whose interleaving is randomized by yielding
a random number of times between the steps. Real costs are at most the worst case,
except in runs where the input estimate is low for some calls (the only way a
reservation can be wrong). Overshoot figures are printed with ``-s``.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import threading
import time
from dataclasses import dataclass, field

from kaizen_perf.cost.budget import Budget, BudgetTracker, Crossing
from kaizen_perf.errors import BudgetExceeded
from kaizen_perf.events import ApiCallEvent

RUNS = 1_000


@dataclass
class Run:
    """One randomized run's plan and what happened."""

    seed: int
    limit: int
    workers: int
    underestimates: bool
    log: list[tuple[str, float]] = field(default_factory=list)
    admitted: list[tuple[int, int]] = field(default_factory=list)  # (reserved, actual)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _event(cost: int, span: int) -> ApiCallEvent:
    return ApiCallEvent("fuzz", "anthropic", "m", 0, 0, 0, 0, 0.0, None, cost, None, 0, 0,
                        span, 0)


def _costs(rng: random.Random, run: Run) -> tuple[int, int]:
    """A call's worst case and its real cost (above the worst case only by an input
    underestimate of at most a quarter of the worst case)."""
    worst = rng.randint(run.limit // 200 + 1, run.limit // 8)
    actual = rng.randint(0, worst)
    if run.underestimates and rng.random() < 0.3:
        actual = worst + rng.randint(1, worst // 4 + 1)
    return worst, actual


def _tracker(run: Run) -> BudgetTracker:
    tracker = BudgetTracker([Budget("agent", "fuzz", run.limit, hard_stop=True)])

    def heard(c: Crossing) -> None:
        run.log.append(("alert", c.threshold))
    tracker.add_listener(heard)
    return tracker


def _thread_worker(tracker: BudgetTracker, run: Run, rng: random.Random, span0: int) -> None:
    span = span0
    while True:
        worst, actual = _costs(rng, run)
        try:
            reservation = tracker.reserve(worst, agent="fuzz")
        except BudgetExceeded:
            run.log.append(("stop", 0.0))
            return
        for _ in range(rng.randint(0, 3)):  # in flight: let the others interleave
            time.sleep(0)
        span += 1
        tracker.charge(_event(actual, span))
        reservation.release()
        with run.lock:
            run.admitted.append((worst, actual))


async def _task_worker(tracker: BudgetTracker, run: Run, rng: random.Random, span0: int) -> None:
    span = span0
    while True:
        worst, actual = _costs(rng, run)
        try:
            reservation = tracker.reserve(worst, agent="fuzz")
        except BudgetExceeded:
            run.log.append(("stop", 0.0))
            return
        for _ in range(rng.randint(0, 3)):
            await asyncio.sleep(0)
        span += 1
        tracker.charge(_event(actual, span))
        reservation.release()
        run.admitted.append((worst, actual))


def _play(run: Run, *, use_threads: bool) -> int:
    """Run the workers to their first denial; returns the final spend."""
    tracker = _tracker(run)
    rngs = [random.Random(run.seed * 100 + i) for i in range(run.workers)]
    if use_threads:
        threads = [threading.Thread(target=_thread_worker, args=(tracker, run, r, i << 32))
                   for i, r in enumerate(rngs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        async def main() -> None:
            await asyncio.gather(*(_task_worker(tracker, run, r, i << 32)
                                   for i, r in enumerate(rngs)))
        asyncio.run(main())
    status = tracker.status("agent", "fuzz")
    assert status is not None
    assert tracker.reserved_pico("agent", "fuzz") == 0  # every reservation was released
    return status.spent_pico


def test_hard_budget_holds_under_concurrent_calls() -> None:
    """Over 1,000 runs with concurrent threads or tasks, spend passes the limit only by
    input underestimates, never by more than one in-flight call's reservation, and the
    80 % warning always reaches listeners before the first call is refused."""
    master = random.Random(20261203)
    overshoots: list[float] = []
    exact_runs = 0
    for seed in range(RUNS):
        run = Run(seed, limit=master.randint(10**9, 10**12), workers=master.randint(2, 6),
                  underestimates=master.random() < 0.5)
        spent = _play(run, use_threads=seed % 2 == 0)
        overshoot = max(0, spent - run.limit)
        excess = sum(max(0, actual - worst) for worst, actual in run.admitted)
        assert spent == sum(actual for _, actual in run.admitted)
        assert overshoot <= excess, (seed, overshoot, excess)  # only estimates can overshoot
        assert overshoot <= max(worst for worst, _ in run.admitted), seed
        if not run.underestimates:
            assert overshoot == 0
            exact_runs += 1
        kinds = [kind for kind, _ in run.log]
        assert "stop" in kinds, seed
        first_stop = kinds.index("stop")
        assert ("alert", 0.8) in run.log[:first_stop], (seed, run.log)
        overshoots.append(overshoot / max(worst for worst, _ in run.admitted))
    hit = [o for o in overshoots if o > 0]
    print(f"\n{RUNS} runs ({exact_runs} with exact worst cases): overshoot as a fraction of the "
          f"largest reservation: max {max(overshoots):.3f}, runs with any {len(hit)}, "
          f"median of those {statistics.median(hit) if hit else 0:.3f}, "
          f"p95 of all {sorted(overshoots)[int(0.95 * len(overshoots))]:.3f}")
