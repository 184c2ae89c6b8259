"""Child processes the profiling tests sample (run as ``python workload.py MODE SECONDS``).

Modes:
  split    CPU split 70/30 between ``work_seventy`` and ``work_thirty``: 0.5 ms chunks of
           CPU time, each given to one function at random with probability 0.7 (a seeded
           RNG), so a sampler cannot alias with a fixed period.
  sleep    ``sleeping_function`` sleeps in short naps (visible only to wall-clock sampling).
  spawn    starts a Python child running ``child_function`` (prints its PID), and waits.
  busy     a fixed CPU-bound loop in ``busy_loop`` (SECONDS is millions of iterations;
           the overhead reference: prints its wall and CPU time).
  own      ``agent_function`` spins on the main thread while ``own_function`` spins on a
           thread named like kaizen-perf's own (``kaizen-perf-test``).
"""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time

CHUNK_S = 0.0005


def _spin(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def work_seventy() -> None:
    _spin(CHUNK_S)


def work_thirty() -> None:
    _spin(CHUNK_S)


def split(seconds: float) -> None:
    rng = random.Random(7)
    end = time.monotonic() + seconds
    counts = [0, 0]
    while time.monotonic() < end:
        if rng.random() < 0.7:
            work_seventy()
            counts[0] += 1
        else:
            work_thirty()
            counts[1] += 1
    print(f"chunks {counts[0]} {counts[1]}", flush=True)


def sleeping_function(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.05)


def child_function(seconds: float) -> None:
    _spin(seconds)


def spawn(seconds: float) -> None:
    child = subprocess.Popen([sys.executable, __file__, "child", str(seconds)])
    print(f"child {child.pid}", flush=True)
    child.wait()


def busy_loop(millions: float) -> None:
    """A fixed amount of CPU-bound work; prints its wall and CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    total = 0
    for i in range(int(millions * 1_000_000)):
        total += i % 7
    print(f"wall {time.perf_counter() - wall:.6f} cpu {time.process_time() - cpu:.6f}",
          flush=True)


def own_function(seconds: float) -> None:
    _spin(seconds)


def agent_function(seconds: float) -> None:
    _spin(seconds)


def own(seconds: float) -> None:
    ours = threading.Thread(target=own_function, args=(seconds,), name="kaizen-perf-test")
    ours.start()
    agent_function(seconds)
    ours.join()


MODES = {"split": split, "sleep": sleeping_function, "spawn": spawn, "child": child_function,
         "busy": busy_loop, "own": own}

if __name__ == "__main__":
    print(f"ready {__import__('os').getpid()}", flush=True)
    MODES[sys.argv[1]](float(sys.argv[2]))
