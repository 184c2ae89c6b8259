"""A CPU-only agent for comparisons: seeded, a fixed amount of work, no sleeps.

Under a loaded machine a thread waits for a CPU wherever it happens to be, so the shares
of its functions stay those of their CPU work; a sleeping agent's profile would instead
grow at every wake-up, by however long the scheduler took. Uses the hooks, so kaizen-perf's
dispatcher runs too. ``python -m tests.report.cpu_agent STEPS``
"""

from __future__ import annotations

import random
import sys

import kaizen_perf


def _work(units: int) -> int:
    acc = 0
    for i in range(units * 1000):
        acc = (acc * 31 + i) & 0xFFFFFFFF
    return acc


def plan(units: int) -> int:
    return _work(units)


def parse_page(units: int) -> int:
    return _work(units)


def format_answer(units: int) -> int:
    return _work(units)


def main(steps: int) -> None:
    mon = kaizen_perf.get_monitor()
    rng = random.Random(11)
    for _ in range(steps):
        with mon.agent_loop():
            plan(2)
            with mon.tool("parse_page"):
                parse_page(rng.choice((3, 5)))
            format_answer(1)


if __name__ == "__main__":
    main(int(sys.argv[1]))
