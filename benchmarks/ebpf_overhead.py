"""Cost of the eBPF programs on the reference workload: paired, interleaved runs.

``python -m benchmarks.ebpf_overhead [--pairs 10] [--iterations 300] [--programs offcpu,tcp]
[--all-syscalls]``

Each pair runs the reference agent (instrumentation off, so only eBPF's cost is
measured) once with nothing attached and once traced by the default program set
(or, with ``--all-syscalls``, by ``syscalls_all`` alone), in alternating order.
The agent waits until bpftrace is tracing before it starts, and reports its own wall
time and CPU time (user + system: BPF programs run in the traced task's context, so
their cost shows up as the agent's system time). Prints the median with/without
ratios and bpftrace's own CPU and peak RSS. Needs root (or CAP_BPF + CAP_PERFMON).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kaizen_perf.collectors import ebpf_programs
from kaizen_perf.collectors.ebpf import EbpfCollector

AGENT = """
import resource, sys, time
from benchmarks.workloads.reference_agent import run_agent
sys.stdin.readline()
start, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
run_agent({iterations}, None)
r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
print(time.perf_counter() - start, cpu, flush=True)
"""


@dataclass(frozen=True)
class Result:
    """One run of the agent."""

    wall_s: float
    cpu_s: float
    bpftrace_cpu_s: float = 0.0
    bpftrace_rss: int = 0
    bpftrace_steady_cpu_s: float = 0.0  # after start-up: while the agent ran
    bpf_run_s: float = 0.0  # time spent inside the BPF programs (kernel.bpf_stats_enabled=1)
    bpf_runs: int = 0


BPF_STATS = Path("/proc/sys/kernel/bpf_stats_enabled")


def bpf_run_time(pid: int) -> tuple[float, int]:
    """Seconds spent in, and runs of, the BPF programs a process holds (from fdinfo).

    The kernel counts these only while ``kernel.bpf_stats_enabled`` is 1.
    """
    total_ns = runs = 0
    for info in Path(f"/proc/{pid}/fdinfo").iterdir():
        try:
            fields = dict(line.split(":\t", 1) for line in info.read_text().splitlines()
                          if ":\t" in line)
        except OSError:
            continue
        total_ns += int(fields.get("run_time_ns", 0))
        runs += int(fields.get("run_cnt", 0))
    return total_ns / 1e9, runs


def run_once(iterations: int, names: tuple[str, ...] | None) -> Result:
    """The agent, traced by ``names`` (None: untraced)."""
    proc = subprocess.Popen([sys.executable, "-c", AGENT.format(iterations=iterations)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parent.parent)
    assert proc.stdin is not None and proc.stdout is not None
    collector = None
    with tempfile.TemporaryDirectory() as tmp:
        if names is not None:
            collector = EbpfCollector([proc.pid], put=lambda e: None, agent_of=str,
                                      run_dir=Path(tmp), warn=print, names=names)
            if not collector.start() or not collector.wait_attached(60):
                proc.kill()
                collector.stop()
                raise SystemExit("eBPF could not start: see the warning above")
        started_cpu = collector.cpu_seconds if collector is not None else 0.0
        proc.stdin.write("go\n")
        proc.stdin.flush()
        wall, cpu = (float(x) for x in proc.stdout.readline().split())
        proc.wait()
        if collector is None:
            return Result(wall, cpu)
        steady = collector.cpu_seconds - started_cpu
        bpf_s, bpf_runs = 0.0, 0
        for stream in collector._streams.values():
            if stream.pid is not None:
                s, n = bpf_run_time(stream.pid)
                bpf_s, bpf_runs = bpf_s + s, bpf_runs + n
        collector.stop()
        return Result(wall, cpu, collector.cpu_seconds, collector.peak_rss_bytes, steady,
                      bpf_s, bpf_runs)


def main(argv: list[str] | None = None) -> None:
    """Run the pairs and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--all-syscalls", action="store_true")
    parser.add_argument("--bpf-stats", action="store_true",
                        help="set kernel.bpf_stats_enabled=1 for the run (restored after) and "
                        "report the time spent inside the BPF programs")
    parser.add_argument("--programs", default=",".join(ebpf_programs.DEFAULT_PROGRAMS),
                        help="comma-separated subset of the default programs")
    args = parser.parse_args(argv)
    names = ((ebpf_programs.ALL_SYSCALLS,) if args.all_syscalls
             else tuple(args.programs.split(",")))
    previous = BPF_STATS.read_text() if args.bpf_stats else None
    if previous is not None:
        BPF_STATS.write_text("1")
    try:
        _pairs(args.pairs, args.iterations, names)
    finally:
        if previous is not None:
            BPF_STATS.write_text(previous)


def _pairs(pairs: int, iterations: int, names: tuple[str, ...]) -> None:
    walls, cpus, traced_runs = [], [], []
    for i in range(pairs):
        order = (None, names) if i % 2 == 0 else (names, None)
        runs = {n is not None: run_once(iterations, n) for n in order}
        off, on = runs[False], runs[True]
        walls.append(on.wall_s / off.wall_s)
        cpus.append(on.cpu_s / off.cpu_s)
        traced_runs.append(on)
        print(f"pair {i + 1}: wall {off.wall_s:.3f} -> {on.wall_s:.3f} s "
              f"(x{walls[-1]:.4f}), agent CPU {off.cpu_s:.3f} -> {on.cpu_s:.3f} s "
              f"(x{cpus[-1]:.4f}), bpftrace CPU {on.bpftrace_cpu_s:.2f} s", flush=True)
    print(f"programs: {', '.join(names)}")
    print(f"median wall ratio x{statistics.median(walls):.4f} "
          f"(min {min(walls):.4f}, max {max(walls):.4f})")
    print(f"median agent CPU ratio x{statistics.median(cpus):.4f} "
          f"(min {min(cpus):.4f}, max {max(cpus):.4f})")
    print(f"bpftrace per run: CPU {statistics.median(r.bpftrace_cpu_s for r in traced_runs):.2f}"
          f" s (start-up included), "
          f"{statistics.median(r.bpftrace_steady_cpu_s / r.wall_s for r in traced_runs):.4f}"
          " CPU-s per second once tracing, peak RSS "
          f"{max(r.bpftrace_rss for r in traced_runs) / 2**20:.0f} MiB")
    inside = [r.bpf_run_s / r.wall_s for r in traced_runs]
    if any(r.bpf_runs for r in traced_runs):
        print(f"inside the BPF programs: median {statistics.median(inside) * 100:.3f} % of the "
              f"agent's wall time ({statistics.median(r.bpf_runs for r in traced_runs):.0f} "
              "program runs per run, all tasks on the host)")


if __name__ == "__main__":
    main()
