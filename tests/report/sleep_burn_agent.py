"""An agent that waits more than it computes: ``python -m tests.report.sleep_burn_agent SECONDS``.

Each step sleeps 500 ms in ``wait_for_llm`` (as an agent waits on an LLM answer) and burns
20 ms of CPU in ``crunch``: an on-CPU profile's hottest function is ``crunch``, a
wall-clock profile's is ``wait_for_llm``, also when load stretches the burn's wall time 20-fold
(a CPU hog on both cores of a busy 2-core machine, load 30, stretched it about 15-fold).
"""

from __future__ import annotations

import sys
import time


def wait_for_llm() -> None:
    time.sleep(0.5)


def crunch() -> int:
    acc, end = 0, time.thread_time() + 0.02
    while time.thread_time() < end:
        acc = (acc * 31 + 7) & 0xFFFFFFFF
    return acc


def main(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        wait_for_llm()
        crunch()


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 4.0)
