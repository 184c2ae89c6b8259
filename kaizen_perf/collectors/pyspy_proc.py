"""Starting, waiting for and reaping the py-spy processes a profiler runs, and finding py-spy.

py-spy has no Python API: each window is one ``py-spy record`` child. Its CPU is read
from the kernel's accounting as it is reaped (exact, where /proc of an exited process
may already be gone).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Protocol

import psutil


class Spawner(Protocol):
    """Starts py-spy with stdout and stderr going to ``log``."""

    def __call__(self, argv: Sequence[str], log: IO[bytes]) -> subprocess.Popen[bytes]: ...


def spawn(argv: Sequence[str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    # Own session: a Ctrl-C typed at the terminal must not end py-spy's window early;
    # RUST_BACKTRACE=0 keeps error output to the one line we classify.
    env = {**os.environ, "RUST_BACKTRACE": "0"}
    return subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT, env=env, start_new_session=True)


def alive(pid: int) -> bool:
    """The target runs (a zombie waiting to be reaped does not)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def find_pyspy() -> str | None:
    """py-spy on PATH, else next to this Python (a virtualenv's bin directory)."""
    found = shutil.which("py-spy")
    if found:
        return found
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if os.access(local, os.X_OK) else None


def cpu_of(proc: subprocess.Popen[bytes]) -> float:
    try:
        t = psutil.Process(proc.pid).cpu_times()
    except psutil.Error:
        return 0.0
    return float(t.user + t.system)


def exited(pid: int) -> bool:
    """True once the child exited, without reaping it (its CPU times stay readable)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def reap(proc: subprocess.Popen[bytes]) -> tuple[float, int]:
    """py-spy's CPU seconds and exit code, from the kernel's accounting as it is reaped
    (exact, where reading /proc of the exited process could find it gone)."""
    cpu = cpu_of(proc)
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except ChildProcessError:  # reaped elsewhere: keep what /proc said
        return cpu, proc.wait()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return max(cpu, usage.ru_utime + usage.ru_stime), proc.returncode


def signal_proc(proc: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(OSError):
        proc.send_signal(signum)
