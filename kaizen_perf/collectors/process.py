"""Process collector: CPU, memory, I/O, fds, threads and context switches per agent (psutil).

Walks a process tree every tick. Each process belongs to the agent named by its
own ``KAIZEN_PERF_AGENT_ID`` environment variable (read once from
``/proc/PID/environ``, so a parent can spawn several agents), else to the
default agent. Figures are summed per agent. Cumulative counters (CPU, I/O,
context switches) keep the final values of processes that exited, so they never
go backwards; the number of agents is bounded by the metrics' series cap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import psutil

from kaizen_perf.events import ProcessSample

AGENT_ENV = "KAIZEN_PERF_AGENT_ID"

# Cumulative fields of a process reading, in ProcessSample order after `processes`.
_CUMULATIVE = ("cpu_user_s", "cpu_system_s", "io_read_bytes", "io_write_bytes",
               "ctx_voluntary", "ctx_involuntary", "run_queue_wait_s")


@dataclass
class _Reading:
    """One process's latest figures."""

    cpu_user_s: float = 0.0
    cpu_system_s: float = 0.0
    io_read_bytes: int = 0
    io_write_bytes: int = 0
    ctx_voluntary: int = 0
    ctx_involuntary: int = 0
    run_queue_wait_s: float = 0.0
    rss_bytes: int = 0
    open_fds: int = 0
    threads: int = 0


@dataclass
class _AgentTotals:
    retired: dict[str, float] = field(default_factory=lambda: dict.fromkeys(_CUMULATIVE, 0.0))
    peak_rss: int = 0
    rss_sum: float = 0.0
    ticks: int = 0


def _name(proc: psutil.Process) -> str:
    try:
        return str(proc.name())
    except psutil.Error:
        return "?"


def read_schedstat(pid: int) -> float:
    """Seconds spent runnable but waiting for a CPU, from ``/proc/PID/schedstat`` (-1 if absent)."""
    try:
        with open(f"/proc/{pid}/schedstat") as fh:
            return int(fh.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return -1.0


class ProcessCollector:
    """Samples a process tree and sums it per agent."""

    def __init__(self, root_pid: int, default_agent: str, *,
                 process_factory: Callable[[int], psutil.Process] = psutil.Process,
                 schedstat: Callable[[int], float] = read_schedstat) -> None:
        self._factory, self._schedstat = process_factory, schedstat
        self.default_agent = default_agent
        self.root = process_factory(root_pid)
        self._procs: dict[int, tuple[psutil.Process, str]] = {}
        self._last: dict[int, _Reading] = {}
        self._totals: dict[str, _AgentTotals] = {}
        self.pids_seen: set[int] = set()
        self.agent_of_pid: dict[int, str] = {}  # every process ever seen (for stack attribution)
        self.name_of_pid: dict[int, str] = {}  # for the summary's note on non-Python processes

    def _discover(self) -> list[psutil.Process]:
        try:
            tree = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            tree = []
        for proc in tree:
            known = self._procs.get(proc.pid)
            if known is None:
                agent = self._agent_of(proc)
                self._procs[proc.pid] = (proc, agent)
                self.pids_seen.add(proc.pid)
                self.agent_of_pid[proc.pid] = agent
                self.name_of_pid[proc.pid] = _name(proc)
            elif (proc.pid != self.root.pid and (named := self._env_agent(known[0])) is not None
                  and named != known[1]):
                # found between fork and exec, it still had its parent's environment: the
                # agent named by the one it exec'd with wins (its stacks and later readings)
                self._procs[proc.pid] = (known[0], named)
                self.agent_of_pid[proc.pid] = named
        return tree

    def _agent_of(self, proc: psutil.Process) -> str:
        return self._env_agent(proc) or self.default_agent

    def _env_agent(self, proc: psutil.Process) -> str | None:
        """The agent a process's environment names, or None when it can't be read.

        A zombie's environment reads as empty: taking that for "no agent" would move an
        exited worker's final counters to the default agent and its totals back to zero.
        """
        try:
            env = proc.environ()
        except psutil.Error:
            return None
        return (env.get(AGENT_ENV) or self.default_agent) if env else None

    def _read(self, proc: psutil.Process) -> _Reading | None:
        try:
            with proc.oneshot():
                if proc.status() == psutil.STATUS_ZOMBIE:
                    return self._read_zombie(proc)
                # re-read: a child found between fork and exec still had its parent's name
                self.name_of_pid[proc.pid] = proc.name()
                cpu, mem = proc.cpu_times(), proc.memory_info()
                ctx, threads = proc.num_ctx_switches(), proc.num_threads()
                try:
                    io = proc.io_counters()
                    io_read, io_write = io.read_bytes, io.write_bytes
                except (psutil.AccessDenied, AttributeError):
                    io_read = io_write = 0
                fds = proc.num_fds()
        except psutil.Error:
            return None
        return _Reading(cpu.user, cpu.system, io_read, io_write, ctx.voluntary, ctx.involuntary,
                        max(0.0, self._schedstat(proc.pid)), mem.rss, fds, threads)

    def _read_zombie(self, proc: psutil.Process) -> _Reading | None:
        """An exited, unreaped process still has its final CPU and context-switch counts."""
        cpu, ctx = proc.cpu_times(), proc.num_ctx_switches()
        last = self._last.get(proc.pid) or _Reading()
        return _Reading(cpu.user, cpu.system, last.io_read_bytes, last.io_write_bytes,
                        ctx.voluntary, ctx.involuntary, last.run_queue_wait_s)

    def tick(self) -> list[ProcessSample]:
        """One sample per agent that has (or had) processes."""
        live: dict[int, tuple[str, _Reading]] = {}
        for proc in self._discover():
            reading = self._read(proc)
            if reading is not None and proc.pid in self._procs:
                live[proc.pid] = (self._procs[proc.pid][1], reading)
        self._retire(set(live))
        return self._summarise(live)

    def _retire(self, live: set[int]) -> None:
        """Fold the last figures of exited processes into their agent's retired totals."""
        for pid in [p for p in self._procs if p not in live]:
            _, agent = self._procs.pop(pid)
            last = self._last.pop(pid, None)
            if last is not None:
                retired = self._totals.setdefault(agent, _AgentTotals()).retired
                for name in _CUMULATIVE:
                    retired[name] += getattr(last, name)

    def _summarise(self, live: dict[int, tuple[str, _Reading]]) -> list[ProcessSample]:
        per_agent: dict[str, list[_Reading]] = {a: [] for a in self._totals}
        for pid, (agent, reading) in live.items():
            self._last[pid] = reading
            per_agent.setdefault(agent, []).append(reading)
        samples = []
        for agent, readings in per_agent.items():
            totals = self._totals.setdefault(agent, _AgentTotals())
            rss = sum(r.rss_bytes for r in readings)
            totals.peak_rss = max(totals.peak_rss, rss)
            if readings:
                totals.rss_sum += rss
                totals.ticks += 1
            cum = {n: totals.retired[n] + sum(getattr(r, n) for r in readings)
                   for n in _CUMULATIVE}
            samples.append(ProcessSample(
                agent, len(readings), cum["cpu_user_s"], cum["cpu_system_s"], rss,
                totals.peak_rss, int(cum["io_read_bytes"]), int(cum["io_write_bytes"]),
                sum(r.open_fds for r in readings), sum(r.threads for r in readings),
                int(cum["ctx_voluntary"]), int(cum["ctx_involuntary"]), cum["run_queue_wait_s"]))
        return samples

    def average_rss(self, agent: str) -> float:
        """Mean summed RSS of an agent over the ticks it had processes."""
        totals = self._totals.get(agent)
        return totals.rss_sum / totals.ticks if totals and totals.ticks else 0.0

    def agents(self) -> list[str]:
        """Every agent seen so far."""
        return sorted(self._totals)

    def pids_by_agent(self) -> dict[int, str]:
        """Agent of every live process (for attributing stack samples)."""
        return {pid: agent for pid, (_, agent) in self._procs.items()}
