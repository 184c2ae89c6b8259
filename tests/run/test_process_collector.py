"""The process collector against real processes: attribution by environment, sums, exits."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

from kaizen_perf.collectors.process import ProcessCollector, read_schedstat

SPAWNER = """
import os, subprocess, sys, time
env = dict(os.environ, KAIZEN_PERF_AGENT_ID="worker")
busy = "import time\\nt = time.process_time()\\nwhile time.process_time() - t < 1.2: pass"
kid = subprocess.Popen([sys.executable, "-c", busy], env=env)
t = time.process_time()
while time.process_time() - t < 0.8:
    pass
kid.wait()
time.sleep(0.6)
"""


def test_children_are_attributed_by_their_agent_env(tmp_path: Path) -> None:
    """A child with KAIZEN_PERF_AGENT_ID counts for that agent; the rest for the default."""
    proc = subprocess.Popen([sys.executable, "-c", SPAWNER])
    collector = ProcessCollector(proc.pid, "main")
    seen: dict[str, float] = {}
    try:
        while proc.poll() is None:
            for s in collector.tick():
                seen[s.agent] = s.cpu_user_s + s.cpu_system_s
            time.sleep(0.1)
    finally:
        proc.wait()
    assert set(seen) == {"main", "worker"}
    # CPU-busy 1.2 s and 0.8 s; a process reaped between ticks loses at most one tick (0.1 s)
    assert 1.0 <= seen["worker"] <= 1.4, seen
    assert 0.6 <= seen["main"] <= 1.1, seen


def test_counters_never_go_backwards_when_processes_exit() -> None:
    """Cumulative CPU of an agent keeps the share of processes that exited."""
    proc = subprocess.Popen([sys.executable, "-c", SPAWNER])
    collector = ProcessCollector(proc.pid, "main")
    last: dict[str, float] = {}
    try:
        while proc.poll() is None:
            for s in collector.tick():
                cpu = s.cpu_user_s + s.cpu_system_s
                assert cpu >= last.get(s.agent, 0.0) - 1e-9
                last[s.agent] = cpu
            time.sleep(0.1)
    finally:
        proc.wait()


def test_an_unreaped_child_keeps_its_agent_and_its_counters() -> None:
    """An exited child not yet reaped (a zombie's environment reads empty) stays its agent's."""
    env = dict(os.environ, KAIZEN_PERF_AGENT_ID="worker")
    busy = ("import sys, time\nt = time.process_time()\n"
            "while time.process_time() - t < 0.3: pass\nsys.stdin.readline()")
    kid = subprocess.Popen([sys.executable, "-c", busy], env=env, stdin=subprocess.PIPE)
    collector = ProcessCollector(os.getpid(), "main")
    try:
        before = 0.0
        while before < 0.2:  # until the child's busy loop shows
            before = {s.agent: s.cpu_user_s + s.cpu_system_s for s in collector.tick()}["worker"]
        assert kid.stdin is not None
        kid.stdin.write(b"go\n")
        kid.stdin.flush()
        while psutil.Process(kid.pid).status() != psutil.STATUS_ZOMBIE:
            time.sleep(0.01)
        after = {s.agent: s for s in collector.tick()}["worker"]
        assert after.cpu_user_s + after.cpu_system_s >= before
        assert collector.pids_by_agent().get(kid.pid) in (None, "worker")
    finally:
        kid.wait()


def test_sample_fields_are_real() -> None:
    """RSS, threads and fds of a live Python process are plausible, peak RSS >= RSS."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; b = bytearray(30_000_000); "
                             "time.sleep(3)"])
    try:
        time.sleep(0.8)
        (sample,) = ProcessCollector(proc.pid, "a").tick()
    finally:
        proc.kill()
        proc.wait()
    assert sample.processes == 1
    assert sample.rss_bytes > 30_000_000 and sample.peak_rss_bytes >= sample.rss_bytes
    assert sample.threads >= 1 and sample.open_fds >= 3


def test_schedstat_reads_run_queue_wait() -> None:
    """/proc/PID/schedstat gives a non-negative run-queue wait for a live process."""
    assert read_schedstat(os.getpid()) >= 0
    assert read_schedstat(2**22 + 12345) == -1.0


def test_a_child_seen_before_its_exec_takes_the_agent_it_execs_with() -> None:
    """A child found between fork and exec (parent's environment) moves to its own agent."""
    root = subprocess.Popen(
        ["sh", "-c", "sh -c 'read go; exec env KAIZEN_PERF_AGENT_ID=coder sleep 30' <&0"],
        stdin=subprocess.PIPE)
    assert root.stdin is not None
    collector = ProcessCollector(root.pid, "planner")
    try:
        kids: list[int] = []
        while not kids:  # readiness: the inner shell exists, still with the parent's environ
            collector.tick()
            kids = [pid for pid in collector.agent_of_pid if pid != root.pid]
        child = kids[0]
        assert collector.agent_of_pid[child] == "planner"
        root.stdin.write(b"go\n")
        root.stdin.flush()
        environ = Path(f"/proc/{child}/environ")
        while b"KAIZEN_PERF_AGENT_ID=coder" not in environ.read_bytes():
            time.sleep(0.01)  # readiness: the exec has happened
        collector.tick()
        assert collector.agent_of_pid[child] == "coder"
        assert "coder" in {s.agent for s in collector.tick()}
    finally:
        root.kill()
        root.wait()
        for pid in collector.agent_of_pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
