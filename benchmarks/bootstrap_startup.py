"""Start-up added to every Python process by ``kaizen-perf run``'s bootstrap: paired runs.

``python -m benchmarks.bootstrap_startup [--pairs 30] [--script "pass"] [--eager]``

Each pair starts the same ``python -c SCRIPT`` twice, in alternating order: once
with the environment ``run`` gives its children (the bootstrap directory first on
``PYTHONPATH``, ``KAIZEN_PERF_BOOTSTRAP=1``, the client list, a forwarding socket)
and once without. The child's CPU (user + system, from ``wait4``) and wall time
are measured from outside, so the interpreter's whole start-up and exit count.
Prints the medians and the median of the paired differences (what the bootstrap
adds). ``--eager`` leaves the client list out, which makes the bootstrap load
kaizen-perf at start-up (the behaviour before it was lazy), for comparison.
``--script "import openai"`` measures a process that does use an LLM client (then
the instrumentation loads, once, at that import).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from kaizen_perf.integrations import CLIENTS
from kaizen_perf.runner.session import BOOTSTRAP_DIR


@dataclass(frozen=True)
class Start:
    """One process: CPU and wall seconds from fork to reaping."""

    cpu_s: float
    wall_s: float


def child_env(socket_path: str, eager: bool) -> dict[str, str]:
    """The variables ``kaizen-perf run`` sets for its children (see Session.child_env)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAIZEN_PERF_")}
    env.update({"KAIZEN_PERF_BOOTSTRAP": "1", "KAIZEN_PERF_AGENT_ID": "bench",
                "KAIZEN_PERF_ALERTS": "0", "KAIZEN_PERF_FORWARD_SOCKET": socket_path,
                "PYTHONPATH": os.pathsep.join(p for p in (BOOTSTRAP_DIR,
                                                          env.get("PYTHONPATH")) if p)})
    if not eager:
        env["KAIZEN_PERF_BOOTSTRAP_CLIENTS"] = ",".join(CLIENTS)
    return env


def start(script: str, env: dict[str, str]) -> Start:
    """Run ``python -c script`` to its end; its own CPU and the wall time."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        msg = f"python -c {script!r} exited with {proc.returncode}"
        raise RuntimeError(msg)
    return Start(usage.ru_utime + usage.ru_stime, wall)


def measure(pairs: int, script: str, eager: bool) -> tuple[list[Start], list[Start]]:
    """``pairs`` interleaved (without, with) starts, the order alternating each pair."""
    plain_env = {k: v for k, v in os.environ.items() if not k.startswith("KAIZEN_PERF_")}
    with tempfile.TemporaryDirectory() as tmp:
        boot_env = child_env(os.path.join(tmp, "forward.sock"), eager)
        start(script, plain_env), start(script, boot_env)  # warm the page cache and .pyc files
        without, with_ = [], []
        for i in range(pairs):
            if i % 2:
                with_.append(start(script, boot_env))
                without.append(start(script, plain_env))
            else:
                without.append(start(script, plain_env))
                with_.append(start(script, boot_env))
    return without, with_


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1e3:7.1f} ms"


def main(argv: list[str] | None = None) -> None:
    """Measure and print the start-up the bootstrap adds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=30)
    parser.add_argument("--script", default="pass", help="what each process runs (python -c)")
    parser.add_argument("--eager", action="store_true",
                        help="load kaizen-perf at start-up (the bootstrap before it was lazy)")
    args = parser.parse_args(argv)
    without, with_ = measure(args.pairs, args.script, args.eager)
    load = os.getloadavg()
    print(f"python -c {args.script!r}, {args.pairs} pairs, bootstrap "
          f"{'eager' if args.eager else 'lazy'}; load average {load[0]:.2f} {load[1]:.2f} "
          f"{load[2]:.2f} on {os.cpu_count()} CPUs")
    for label, get in (("CPU", lambda s: s.cpu_s), ("wall", lambda s: s.wall_s)):
        a, b = [get(s) for s in without], [get(s) for s in with_]
        added = [y - x for x, y in zip(a, b, strict=True)]
        print(f"  {label:4}  without {_ms(a)}  with {_ms(b)}  added (median of pairs) "
              f"{_ms(added)}")


if __name__ == "__main__":
    main()
