"""The processes a session watches: how to tell they exited, their status and command line.

Small functions the session loop calls every tick, kept apart so the session reads as
what it does rather than how it asks the kernel.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from kaizen_perf.runner.stopping import TreeStopper


def socket_path(run_path: Path) -> str:
    """The forwarding socket: in the run directory unless the path is too long for AF_UNIX."""
    path = str((run_path / "forward.sock").resolve())
    if len(path.encode()) < 100:
        return path
    return os.path.join(tempfile.mkdtemp(prefix="kaizen-perf-"), "forward.sock")


def poll_exited(stopper: TreeStopper, pid: int) -> bool:
    """Escalate a stop whose grace period is over; True once the child exited."""
    stopper.poll()
    return exited(pid)


def exited(pid: int) -> bool:
    """True once the child exited, without reaping it: its final counters stay readable."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def sleep_until_next(interval: float, ended: Callable[[], bool]) -> None:
    deadline = time.monotonic() + interval
    while time.monotonic() < deadline and not ended():
        time.sleep(min(0.05, interval))


def exit_status(code: int) -> int:
    """A child's exit status as a shell reports it (128 + signal number when killed)."""
    return 128 - code if code < 0 else code


def children_cpu() -> float:
    """CPU of every reaped descendant (the whole tree once the child was waited for)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except psutil.Error:
        return []
