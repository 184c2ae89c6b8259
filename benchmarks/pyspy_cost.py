"""py-spy's own CPU on an I/O-bound agent, per sampling setting.

``python -m benchmarks.pyspy_cost [--seconds 15] [--rounds 2]``

The reference agent (mostly waiting on its stub LLM and tools, with kaizen-perf's hooks
on, so its dispatcher thread runs too) is sampled by a :class:`PySpyProfiler` with each
setting in turn, rounds interleaved. Prints, per setting, py-spy's CPU as a share of
one core (the cost a user pays on top of the agent) and the agent's own CPU, medians
over rounds. py-spy's CPU is measured by the kernel as each window's py-spy is reaped.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kaizen_perf.collectors.pyspy import PySpyProfiler
from kaizen_perf.collectors.pyspy_pair import ProfilerPair

#: (label, PySpyProfiler keyword arguments); 10 s windows. py-spy follows subprocesses only
#: in windows where the target has Python children (the agent has none): the second row
#: forces it, as before
SETTINGS: tuple[tuple[str, dict[str, object]], ...] = (
    ("100 Hz", {"rate_hz": 100}),
    ("100 Hz, always --subprocesses", {"rate_hz": 100, "python_children": lambda pid: True}),
    ("50 Hz on-CPU only (the default before both)", {"rate_hz": 50}),
    ("on-CPU + wall side by side, 25 Hz each", {"rate_hz": 50, "kinds": ("cpu", "wall")}),
    ("on-CPU + wall side by side, 20 Hz each", {"rate_hz": 40, "kinds": ("cpu", "wall")}),
    ("on-CPU + wall side by side, 15 Hz each (default)",
     {"rate_hz": 30, "kinds": ("cpu", "wall")}),
    ("on-CPU + wall side by side, 10 Hz each", {"rate_hz": 20, "kinds": ("cpu", "wall")}),
    ("on-CPU + wall, 50 Hz, windows in turn", {"rate_hz": 50, "kinds": ("cpu", "wall"),
                                               "in_turn": True}),
    ("50 Hz --idle", {"rate_hz": 50, "idle": True}),
    ("50 Hz --nonblocking", {"rate_hz": 50, "nonblocking": True}),
    ("20 Hz", {"rate_hz": 20}),
)


def one(seconds: float, settings: dict[str, object]) -> tuple[float, float]:
    """(py-spy CPU, agent CPU), seconds, for one sampled run of the reference agent."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAIZEN_PERF_")}
    env["KAIZEN_PERF_AGENT_ID"] = "pyspy-cost"
    agent = subprocess.Popen([sys.executable, "-m", "benchmarks.workloads.reference_agent",
                              "--duration", str(seconds), "--iterations", "100000000"],
                             env=env, stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory() as tmp:
        # "kinds": one sampler per kind of profile, as `run` records both
        make = ProfilerPair if "kinds" in settings else PySpyProfiler
        prof = make(agent.pid, Path(tmp), **settings).start()  # type: ignore[arg-type]
        _, _, usage = os.wait4(agent.pid, 0)
        agent.returncode = 0
        prof.stop(timeout_s=10)
    return prof.cpu_seconds, usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> None:
    """Measure every setting, rounds interleaved, and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="length of each run: a few windows, so window start-ups weigh "
                        "as they do in a long run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", default="",
                        help="measure only the settings whose label contains one of these "
                        "comma-separated texts")
    args = parser.parse_args(argv)
    chosen = [(label, s) for label, s in SETTINGS
              if any(part in label for part in args.only.split(","))]
    cost: dict[str, list[float]] = {label: [] for label, _ in chosen}
    agent: dict[str, list[float]] = {label: [] for label, _ in chosen}
    start = time.monotonic()
    for _ in range(args.rounds):
        for label, settings in chosen:
            pyspy_s, agent_s = one(args.seconds, settings)
            cost[label].append(pyspy_s / args.seconds)
            agent[label].append(agent_s / args.seconds)
    load = os.getloadavg()
    print(f"reference agent, {args.seconds:g} s x {args.rounds} rounds per setting "
          f"({time.monotonic() - start:.0f} s); load average {load[0]:.2f} {load[1]:.2f} "
          f"{load[2]:.2f} on {os.cpu_count()} CPUs")
    for label, _ in chosen:
        print(f"  {label:48}  py-spy {statistics.median(cost[label]) * 100:5.2f} % of a core"
              f"   agent {statistics.median(agent[label]) * 100:5.1f} % of a core")


if __name__ == "__main__":
    main()
