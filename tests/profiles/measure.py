"""Measure py-spy's cost and accuracy on this machine (not a test: prints figures).

``python -m tests.profiles.measure overhead [PAIRS]``: paired, interleaved runs of a fixed
CPU-bound loop with and without a PySpyProfiler at 100 Hz attached (order alternates
within pairs); prints the median and spread of the with/without wall-time ratios.
``python -m tests.profiles.measure accuracy [RUNS]``: the 70/30 workload at 100 Hz,
10 s windows; prints the measured share of the 70 % function per run.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from kaizen_perf.collectors.pyspy import PySpyProfiler
from kaizen_perf.profiles import share

WORKLOAD = str(Path(__file__).with_name("workload.py"))


def _run(mode: str, arg: float, profile: bool, **kwargs: object) -> tuple[str, float]:
    proc = subprocess.Popen([sys.executable, WORKLOAD, mode, str(arg)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    pid = int(proc.stdout.readline().split()[1])
    with tempfile.TemporaryDirectory() as tmp:
        prof = PySpyProfiler(pid, Path(tmp), **kwargs).start() if profile else None  # type: ignore[arg-type]
        out = proc.stdout.read()
        proc.wait()
        cpu = prof.stop(5).cpu_seconds if prof is not None else 0.0
    return out, cpu


def overhead(pairs: int) -> None:
    ratios, cpus = [], []
    for i in range(pairs):
        times = {}
        for profile in ((False, True) if i % 2 == 0 else (True, False)):
            out, cpu = _run("busy", 120.0, profile, rate_hz=100)
            times[profile] = float(out.split()[1])
            if profile:
                cpus.append(cpu)
        ratios.append(times[True] / times[False])
        print(f"pair {i + 1}: without {times[False]:.3f} s, with {times[True]:.3f} s, "
              f"ratio {ratios[-1]:.4f}", flush=True)
    q = statistics.quantiles(ratios, n=4)
    print(f"median ratio {statistics.median(ratios):.4f} (IQR {q[0]:.4f}-{q[2]:.4f}, "
          f"mean {statistics.fmean(ratios):.4f}); py-spy CPU per run "
          f"{statistics.median(cpus):.3f} s")


def accuracy(runs: int) -> None:
    errors = []
    for i in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            proc = subprocess.Popen([sys.executable, WORKLOAD, "split", "12"],
                                    stdout=subprocess.PIPE, text=True)
            assert proc.stdout is not None
            pid = int(proc.stdout.readline().split()[1])
            prof = PySpyProfiler(pid, Path(tmp), rate_hz=100, window_s=10.0).start()
            proc.stdout.read()
            proc.wait()
            result = prof.stop(5)
            a, b = share(result.profile, "work_seventy"), share(result.profile, "work_thirty")
            measured = a / (a + b)
            errors.append(abs(measured - 0.7) * 100)
            print(f"run {i + 1}: {result.samples} samples in {result.windows} windows, "
                  f"work_seventy share {measured * 100:.2f} %", flush=True)
    print(f"max error {max(errors):.2f} points, mean {statistics.fmean(errors):.2f}")


if __name__ == "__main__":
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    overhead(n) if sys.argv[1] == "overhead" else accuracy(n)
