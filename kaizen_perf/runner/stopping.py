"""Stopping the monitored command's whole process tree: a signal, a grace period, SIGKILL.

``kaizen-perf run`` starts its command in a process group of its own (unless
standard input is a terminal: then the command stays in the terminal's
foreground group, so Ctrl-C and reading the terminal keep working). To stop the
command — ``--duration`` passed, or ``run`` itself got SIGTERM, SIGHUP or SIGINT
— every process of the tree gets the signal: the group, and every descendant
seen (also those that left the group with ``setsid``). Whatever still runs
``grace_s`` seconds later (default 5, ``--grace``) gets SIGKILL. When the
command exits by itself, processes it left behind (grandchildren) are stopped
the same way, so ``run`` leaves no orphans and exits when its command is gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from types import FrameType

import psutil

DEFAULT_GRACE_S = 5.0
_POLL_S = 0.05


class TreeStopper:
    """Signals one command's process tree and escalates to SIGKILL after the grace period.

    Members are kept as ``psutil.Process`` objects (pid and start time), so a pid that was
    reused by an unrelated process after a member exited is never signalled.
    """

    def __init__(self, pid: int, *, own_group: bool, grace_s: float = DEFAULT_GRACE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.pid, self.own_group, self.grace_s = pid, own_group, grace_s
        self._clock = clock
        self._known: dict[int, psutil.Process] = {}
        with contextlib.suppress(psutil.Error):
            self._known[pid] = psutil.Process(pid)
        self.deadline: float | None = None  #: set once stopping began
        self.killed = False  #: True once SIGKILL was sent

    # -- who is in the tree ----------------------------------------------------------------
    def remember(self) -> None:
        """Note the tree's current members (called on every tick, and before signalling), so
        descendants re-parented away once their parent exits are still known."""
        root = self._known.get(self.pid)
        if root is None:
            return
        with contextlib.suppress(psutil.Error):
            for proc in root.children(recursive=True):
                self._known.setdefault(proc.pid, proc)

    def alive(self) -> list[int]:
        """Members still running (zombies do not count: they hold nothing but a pid)."""
        out = []
        for proc in self._members():
            with contextlib.suppress(psutil.Error):
                if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                    out.append(proc.pid)
        return sorted(out)

    def _members(self) -> list[psutil.Process]:
        members = {pid: p for pid, p in self._known.items() if pid != os.getpid()}
        if self.own_group:
            for proc in psutil.process_iter():
                with contextlib.suppress(OSError, psutil.Error):
                    if proc.pid not in members and os.getpgid(proc.pid) == self.pid:
                        members[proc.pid] = proc
        return list(members.values())

    # -- signalling --------------------------------------------------------------------------
    def begin(self, signum: int = signal.SIGTERM) -> None:
        """Send ``signum`` to the whole tree and start the grace period (once)."""
        self.remember()
        self._signal(signum)
        if self.deadline is None:
            self.deadline = self._clock() + self.grace_s

    def poll(self) -> None:
        """Escalate to SIGKILL once the grace period is over (cheap before that)."""
        if self.deadline is not None and not self.killed and self._clock() >= self.deadline:
            self.killed = True
            self.remember()
            self._signal(signal.SIGKILL)

    def finish(self, sleep: Callable[[float], None] = time.sleep) -> list[int]:
        """Stop whatever of the tree still runs (SIGTERM, grace, SIGKILL); returns the pids
        that were still running when this was called."""
        self.remember()
        left = self.alive()
        if not left:
            return []
        self.begin(signal.SIGTERM)
        limit = (self.deadline or self._clock()) + self.grace_s  # bounded even after SIGKILL
        while self.alive() and self._clock() < limit:
            self.poll()
            sleep(_POLL_S)
        return left

    def _signal(self, signum: int) -> None:
        """Each process gets the signal once (a second SIGTERM means "force quit" to many
        programs): the group in one call, then the members that left it one by one."""
        if self.own_group:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signum)
        for proc in self._members():
            with contextlib.suppress(psutil.Error, OSError):
                if self.own_group and os.getpgid(proc.pid) == self.pid:
                    continue  # reached by killpg
                if proc.is_running():  # the same process (start time), not a reused pid
                    proc.send_signal(signum)


def forward_signals(stop: Callable[[int], None], *, sigint: bool) -> Callable[[], None]:
    """SIGTERM/SIGHUP (and SIGINT when not from a terminal) stop the command's whole tree:
    the signal now, SIGKILL after the grace period (see :mod:`kaizen_perf.runner.stopping`)."""
    def forward(signum: int, frame: FrameType | None) -> None:
        stop(signum)

    # From a terminal, Ctrl-C already reaches the child (same process group): like `time`,
    # the runner then ignores it and keeps monitoring until the child decides to exit.
    on_sigint = forward if sigint else signal.SIG_IGN
    previous = {s: signal.signal(s, h) for s, h in
                ((signal.SIGTERM, forward), (signal.SIGHUP, forward),
                 (signal.SIGINT, on_sigint))}

    def restore() -> None:
        for s, h in previous.items():
            signal.signal(s, h)

    return restore
