"""Which measure a benchmark's samples use: wall time, CPU time or instruction counts.

Wall time on a shared 2-core machine swings by tens of % with the load; the CPU
time of the process (every thread) moves much less, and callgrind's instruction
counts repeat almost exactly whatever else runs. A benchmark may declare its
measure (``@benchmark(measure="cpu")``); otherwise the engine decides once per
run from a probe of the benchmark on the baseline:

* it **waits** (sleeps, fsyncs, waits for another thread: the calling thread
  gives up the CPU at least once per 2 ms of its own CPU time) → ``wall``:
  waiting is the point;
* it is a CPU-bound **micro-benchmark** (≤ 50 ms of CPU per call, ≥ 90 % of it
  on the calling thread, < 50 % in the kernel) and valgrind is installed →
  ``instructions``: callgrind sees user-space instructions only, and other
  threads' work is scheduling-dependent;
* otherwise → ``cpu``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from kaizen_perf.errors import ConfigError
from kaizen_perf.regression.model import MEASURES, BenchInfo

WAIT_SWITCHES_PER_CPU_MS = 0.5  # voluntary switches per ms of the thread's CPU: "it waits"
MICRO_CPU_S = 0.050  # a counted call then costs ~2-8 s under callgrind (~40x native)
MIN_THREAD_SHARE = 0.9
# Allocation-heavy Python code spends 5-35 % in the kernel (page faults), and the probe's
# tick-based split moves by ~10 points between runs; syscall-bound code (files, sockets)
# spends 50-90 %. The line sits between the two, so the choice repeats from run to run.
MAX_SYSTEM_SHARE = 0.5
#: Absolute targets budget seconds: a benchmark counted in instructions is timed in CPU.
TIME_MEASURES = ("wall", "cpu")


@dataclass(frozen=True)
class Choice:
    """The measure of one benchmark and why it was chosen."""

    measure: str
    why: str
    call_s: float = 0.0  # CPU seconds per call the probe saw (0: not probed)


def check_forced(measure: str, callgrind: bool) -> None:
    """A usage error for ``--measure`` values that cannot work here."""
    if measure != "auto" and measure not in MEASURES:
        msg = f"--measure {measure!r} is not one of auto, {', '.join(MEASURES)}."
        raise ConfigError(msg)
    if measure == "instructions" and not callgrind:
        msg = ("--measure instructions needs valgrind on PATH (apt-get install valgrind); "
               "use --measure cpu on this machine.")
        raise ConfigError(msg)


def choose(info: BenchInfo, hints: Mapping[str, Any] | None, *, forced: str = "auto",
           callgrind: bool = True) -> Choice:
    """The measure for ``info``: forced, declared, or chosen from the probe ``hints``."""
    if not info.timed:
        return Choice("value", f"returns a value ({info.unit})")
    if forced != "auto":
        return Choice(forced, "--measure")
    declared = info.measure
    if declared is not None and declared != "auto":
        if declared == "instructions" and not callgrind:
            return Choice("cpu", "declared instructions, but valgrind is not installed")
        return Choice(declared, "declared by the benchmark")
    if not hints:
        return Choice("cpu", "no probe (the benchmark failed to run); CPU time")
    cpu_s = float(hints.get("cpu_call_s", hints.get("call_s", 1.0)))
    return replace(_from_probe(hints, callgrind, cpu_s), call_s=cpu_s)


def _from_probe(hints: Mapping[str, Any], callgrind: bool, cpu_s: float) -> Choice:
    switches = float(hints.get("switches_per_cpu_ms", 0.0))
    if switches >= WAIT_SWITCHES_PER_CPU_MS:
        return Choice("wall", f"waits ({switches:.1f} voluntary switches per ms of CPU)")
    thread = float(hints.get("thread_share", 1.0))
    system = float(hints.get("system_share", 0.0))
    if not callgrind:
        return Choice("cpu", "CPU-bound (valgrind not installed for instruction counts)")
    if cpu_s > MICRO_CPU_S:
        return Choice("cpu", f"CPU-bound, {cpu_s * 1e3:.0f} ms per call (too long to count)")
    if thread < MIN_THREAD_SHARE:
        return Choice("cpu", f"CPU-bound, {1 - thread:.0%} of the CPU on other threads")
    if system > MAX_SYSTEM_SHARE:
        return Choice("cpu", f"CPU-bound, {system:.0%} in the kernel (not counted by callgrind)")
    return Choice("instructions", "CPU-bound micro-benchmark")


def time_measure(measure: str) -> str:
    """The clock an absolute (seconds) target of this benchmark is judged in."""
    return measure if measure in TIME_MEASURES else "cpu"
