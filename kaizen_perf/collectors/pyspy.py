"""Continuous stack profiling of a process tree with py-spy, in windows.

py-spy has no Python API, so it runs as a child: one ``py-spy record --format raw
--duration W`` per window, each window's folded stacks renamed into
``out_dir/windows/NNNN.folded`` as soon as it ends, so profiles stream during a
30-hour run instead of arriving at exit. The windows are merged in memory as they
arrive; :meth:`PySpyProfiler.stop` interrupts the current window with SIGINT (py-spy
then writes what it has), and writes the whole run as ``profile.folded``,
``profile.speedscope.json``, ``flamegraph.svg`` and ``profile.json`` (metadata and
format version).

Failures never reach the monitored agent: without ptrace permission, or when py-spy
is missing, ``on_warning`` is called once with the fix and profiling stops; a target
that is not (yet) Python is retried every second, with one warning once the start-up
grace period has passed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kaizen_perf.collectors.pyspy_errors import PERMISSION_FIX, Outcome, classify
from kaizen_perf.collectors.pyspy_proc import (
    Spawner,
    alive,
    cpu_of,
    exited,
    find_pyspy,
    reap,
    signal_proc,
    spawn,
)
from kaizen_perf.collectors.pyspy_tree import (
    has_python_children,
    process_frame,
    with_process_frame,
)
from kaizen_perf.collectors.pyspy_turns import Turns
from kaizen_perf.errors import ConfigError
from kaizen_perf.profiles import (
    PROFILE_FORMAT_NAME,
    PROFILE_FORMAT_VERSION,
    Profile,
    Stack,
    for_pid,
    group_by_pid,
    parse_folded,
    process_names,
    samples_by_pid,
    top_functions,
    write_folded,
    write_speedscope,
    write_svg,
)
from kaizen_perf.profiles.own import split_own

__all__ = ["PERMISSION_FIX", "ProfileResult", "PySpyProfiler", "Spawner", "find_pyspy"]

THREAD_NAME = "kaizen-perf-pyspy"
_POLL_S = 0.05
_MAX_ERRORS = 3  # consecutive unexplained py-spy failures before giving up
# A child that was just started is not Python yet for py-spy (the interpreter is still
# loading): during the start-up grace period (startup_grace_s) retry quickly, say nothing.
_STARTUP_RETRY_S = 0.2


@dataclass(frozen=True)
class ProfileResult:
    """What a profiling session produced (``available`` False: ``reason`` says why)."""

    available: bool
    reason: str | None
    samples: int
    top_functions: tuple[tuple[str, int], ...]
    samples_by_pid: Mapping[int, int]
    process_names: Mapping[int, str]
    paths: Mapping[str, Path]
    cpu_seconds: float
    windows: int
    profile: Profile = field(default_factory=Profile, repr=False)
    #: samples of kaizen-perf's own threads and bootstrap, left out of ``profile`` (unless
    #: ``include_own``) and written apart as ``kaizen-perf-own.folded``
    own: Profile = field(default_factory=Profile, repr=False)

    def for_pid(self, pid: int, *, reroot: bool = True) -> Profile:
        """The stacks sampled in ``pid`` (re-rooted at its own process frame)."""
        return for_pid(self.profile, pid, reroot=reroot)

    def by_agent(self, agent_of: Callable[[int | None], str]) -> dict[str, Profile]:
        """The profile split by agent, given the agent of each sampled PID."""
        return group_by_pid(self.profile, agent_of)


class PySpyProfiler:
    """Samples a process (and its Python children) with py-spy in windows until stopped."""

    def __init__(self, pid: int, out_dir: Path, *, rate_hz: int = 100, idle: bool = False,
                 subprocesses: bool = True, window_s: float = 10.0, nonblocking: bool = False,
                 include_own: bool = False, pyspy_path: str | None = None,
                 on_warning: Callable[[str], None] | None = None,
                 spawn: Spawner = spawn, alive: Callable[[int], bool] = alive,
                 startup_grace_s: float = 5.0,
                 python_children: Callable[[int], bool] = has_python_children,
                 turns: Turns | None = None) -> None:
        if not isinstance(rate_hz, int) or rate_hz <= 0:
            msg = f"rate_hz={rate_hz!r} is not a positive integer; use e.g. 100 (samples/s)."
            raise ConfigError(msg)
        if window_s <= 0:
            msg = f"window_s={window_s!r} must be positive; use e.g. 10 (seconds per window)."
            raise ConfigError(msg)
        self.pid, self.out_dir, self.window_s = pid, Path(out_dir), float(window_s)
        self.rate_hz, self.idle, self.subprocesses = rate_hz, idle, subprocesses
        self.nonblocking, self.include_own = nonblocking, include_own
        self._pyspy = pyspy_path or find_pyspy()
        self._warn = on_warning or (lambda message: None)
        self._spawn, self._alive, self._python_children = spawn, alive, python_children
        self._root_frame: str | None = None  # the target's process frame, made once
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._cpu_done = 0.0
        self._merged: Counter[Stack] = Counter()
        self._own: Counter[Stack] = Counter()
        self._windows = 0
        self._reason: str | None = None
        self._warned: set[Outcome] = set()
        self._thread: threading.Thread | None = None
        self._started = time.monotonic()
        self._grace_s = startup_grace_s
        self._turns = turns  # samplers that record one window each in turn
        if turns is not None:
            turns.join(self)

    # -- public ---------------------------------------------------------------------------
    def start(self) -> PySpyProfiler:
        """Start recording in the background (thread ``kaizen-perf-pyspy``)."""
        if self._thread is not None:
            return self
        (self.out_dir / "windows").mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._loop, name=THREAD_NAME, daemon=True)
        self._thread.start()
        return self

    @property
    def cpu_seconds(self) -> float:
        """CPU py-spy used so far (finished windows plus the running one)."""
        with self._lock:
            running = cpu_of(self._proc) if self._proc is not None else 0.0
            return self._cpu_done + running

    @property
    def running(self) -> bool:
        """True while the recording thread samples (False once it gave up or stopped)."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def windows(self) -> int:
        """Windows written so far."""
        with self._lock:
            return self._windows

    def stop(self, timeout_s: float = 5.0) -> ProfileResult:
        """End the current window cleanly, write the merged outputs and return the result."""
        deadline = time.monotonic() + timeout_s
        self._stopping.set()
        if self._thread is not None:
            # Keep a part of the budget for writing the outputs.
            self._thread.join(max(0.0, deadline - time.monotonic() - min(1.0, timeout_s / 4)))
            if self._thread.is_alive():
                self._kill_current()
                self._thread.join(max(0.0, deadline - time.monotonic()))
        return self._result()

    # -- the recording thread ---------------------------------------------------------------
    def _loop(self) -> None:
        try:
            self._record_windows()
        finally:
            if self._turns is not None:
                self._turns.leave(self)

    def _record_windows(self) -> None:
        index, errors = 1, 0
        self._started = time.monotonic()
        while not self._stopping.is_set():
            if not self._alive(self.pid):
                self._reason = self._reason or f"PID {self.pid} is not running"
                return
            if self._turns is not None and not self._turns.wait(self, self._stopping):
                return
            try:
                outcome, detail = self._record_window(index)
            finally:
                if self._turns is not None:
                    self._turns.done(self)
            if self._stopping.is_set():
                return  # whatever the interrupted window did, it was asked to end
            if outcome is Outcome.NOT_PYTHON and self.subprocesses:
                outcome, detail = self._diagnose(outcome, detail)
            if outcome is Outcome.OK:
                index, errors = index + 1, 0
                continue
            if outcome is Outcome.TARGET_GONE or not self._handle(outcome, detail):
                return
            errors = errors + 1 if outcome is Outcome.ERROR else 0
            if errors >= _MAX_ERRORS:
                self._give_up(outcome, f"py-spy failed {errors} times in a row: {detail}.")
                return
            self._stopping.wait(self._retry_delay())

    def _handle(self, outcome: Outcome, detail: str) -> bool:
        """Warn (once per kind); True when a later window may succeed."""
        if outcome is Outcome.PERMISSION:
            self._give_up(outcome, f"py-spy cannot read PID {self.pid}: {detail}. "
                          f"{PERMISSION_FIX}")
            return False
        if outcome is Outcome.MISSING:
            self._give_up(outcome, f"{detail}.")
            return False
        if outcome is Outcome.NOT_PYTHON:
            self._reason = (f"PID {self.pid} is not a Python process (nor has Python children) "
                            f"as far as py-spy can see: {detail}")
            if not self._in_grace():
                self._warn_once(outcome, self._reason + "; process metrics go on, and py-spy "
                                "tries again every second in case Python starts later.")
            return True
        self._warn_once(outcome, f"py-spy window failed: {detail}")
        return True

    def _in_grace(self) -> bool:
        return time.monotonic() - self._started < self._grace_s

    def _retry_delay(self) -> float:
        return _STARTUP_RETRY_S if self._in_grace() else min(1.0, self.window_s)

    def _give_up(self, outcome: Outcome, reason: str) -> None:
        self._reason = reason
        self._warn_once(outcome, reason + " Stack profiling is off; metrics go on.")

    def _warn_once(self, outcome: Outcome, message: str) -> None:
        if outcome not in self._warned:
            self._warned.add(outcome)
            with contextlib.suppress(Exception):  # a broken callback must not end profiling
                self._warn(message)

    def _diagnose(self, outcome: Outcome, detail: str) -> tuple[Outcome, str]:
        """Tell "not Python" from "no permission": with --subprocesses py-spy says
        "No python processes found" for both, ``py-spy dump`` on the PID says which."""
        assert self._pyspy is not None
        with tempfile.TemporaryFile() as log:
            try:
                proc = self._spawn([self._pyspy, "dump", "--pid", str(self.pid)], log)
                proc.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                return outcome, detail
            log.seek(0)
            text = log.read(64_000).decode("utf-8", "replace")
        found, why = classify(1, text, False, self._alive(self.pid))
        return (found, why) if found is Outcome.PERMISSION else (outcome, detail)

    def _argv(self, output: Path, follow: bool) -> list[str]:
        assert self._pyspy is not None
        argv = [self._pyspy, "record", "--pid", str(self.pid), "--rate", str(self.rate_hz),
                "--format", "raw", "--output", str(output),
                "--duration", str(max(1, round(self.window_s))),
                "--threads"]  # thread names tell kaizen-perf's own threads apart
        flags = (("--idle", self.idle), ("--subprocesses", follow),
                 ("--nonblocking", self.nonblocking))
        return argv + [flag for flag, on in flags if on]

    def _record_window(self, index: int) -> tuple[Outcome, str]:
        if self._pyspy is None:
            return Outcome.MISSING, "py-spy is not installed (pip install py-spy)"
        part = self.out_dir / "windows" / f"{index:04d}.folded.part"
        with tempfile.TemporaryFile() as log:
            try:
                # follow children only when there are some (following costs py-spy CPU),
                # and always in the first window, when an agent starts its children
                follow = self.subprocesses and (index == 1 or self._python_children(self.pid))
                if not follow and self._root_frame is None:  # while the target still runs
                    self._root_frame = process_frame(self.pid)
                proc = self._spawn(self._argv(part, follow), log)
            except OSError as exc:
                return Outcome.MISSING, f"cannot start {self._pyspy}: {exc}"
            code = self._wait(proc)
            log.seek(0)
            text = log.read(64_000).decode("utf-8", "replace")
        outcome, detail = classify(code, text, part.exists(), self._alive(self.pid))
        if part.exists():
            self._take_window(index, part, follow)
        return outcome, detail

    def _wait(self, proc: subprocess.Popen[bytes]) -> int:
        """Wait for py-spy, interrupting it once stop() was called; count its CPU."""
        with self._lock:
            self._proc = proc
        interrupted = False
        while not exited(proc.pid):
            if self._stopping.wait(_POLL_S) and not interrupted:
                interrupted = True
                signal_proc(proc, signal.SIGINT)  # py-spy then writes what it has
        cpu, code = reap(proc)
        with self._lock:
            self._proc, self._cpu_done = None, self._cpu_done + cpu
        return code

    def _take_window(self, index: int, part: Path, follow: bool = True) -> None:
        """The window's stacks, split into the agent's and kaizen-perf's own; the window file
        holds what the profile holds (no thread frames, our own samples only on request)."""
        final = part.with_name(f"{index:04d}.folded")
        with part.open(encoding="utf-8", errors="replace") as fh:
            stacks = parse_folded(fh)
        if not follow:  # py-spy wrote no process frame: add it, as every window has one
            stacks = with_process_frame(stacks, self._root_frame or process_frame(self.pid))
        agent, own = split_own(stacks)
        if self.include_own:
            agent.update(own)
        write_folded(Profile(dict(agent)), part)
        os.replace(part, final)
        with self._lock:
            self._merged.update(agent)
            self._own.update(own)
            self._windows += 1

    def _kill_current(self) -> None:
        with self._lock:
            if self._proc is not None:
                signal_proc(self._proc, signal.SIGKILL)

    # -- results ----------------------------------------------------------------------------
    def _result(self) -> ProfileResult:
        with self._lock:
            profile, windows = Profile(dict(self._merged)), self._windows
            own = Profile(dict(self._own))
        available = windows > 0
        reason = None if available else (self._reason or "no profile window completed")
        paths = self._write(profile, own, windows, reason) if available else {}
        return ProfileResult(
            available=available, reason=reason, samples=profile.samples,
            top_functions=tuple(top_functions(profile, 20)),
            samples_by_pid=samples_by_pid(profile), process_names=process_names(profile),
            paths=paths, cpu_seconds=self.cpu_seconds, windows=windows, profile=profile,
            own=own)

    def _write(self, profile: Profile, own: Profile, windows: int,
               reason: str | None) -> dict[str, Path]:
        d = self.out_dir
        kind = "wall-clock (--idle)" if self.idle else "on-CPU"
        subtitle = (f"{kind}, {profile.samples:,} samples at {self.rate_hz} Hz, "
                    f"{windows} window(s) of {self.window_s:g} s, PID {self.pid}")
        paths = {
            "folded": write_folded(profile, d / "profile.folded"),
            "speedscope": write_speedscope(profile, d / "profile.speedscope.json",
                                           name=f"PID {self.pid} ({kind})"),
            "flamegraph": write_svg(profile, d / "flamegraph.svg",
                                    title=f"kaizen-perf flame graph: PID {self.pid}",
                                    subtitle=subtitle),
            "windows": d / "windows",
            "own": write_folded(own, d / "kaizen-perf-own.folded"),
        }
        paths["meta"] = self._write_meta(profile, own, windows, reason)
        return paths

    def _write_meta(self, profile: Profile, own: Profile, windows: int,
                    reason: str | None) -> Path:
        meta = {
            "format": PROFILE_FORMAT_NAME, "version": PROFILE_FORMAT_VERSION,
            "profiler": "py-spy", "pid": self.pid, "rate_hz": self.rate_hz,
            "idle": self.idle, "subprocesses": self.subprocesses,
            "nonblocking": self.nonblocking, "window_s": self.window_s,
            "windows": windows, "samples": profile.samples,
            # kaizen-perf's own threads and bootstrap: counted, and in the profile only
            # with include_own (then they are part of "samples" too)
            "own_samples": own.samples, "own_included": self.include_own,
            "samples_by_pid": {str(k): v for k, v in sorted(samples_by_pid(profile).items())},
            "process_names": {str(k): v for k, v in sorted(process_names(profile).items())},
            "profiler_cpu_seconds": round(self.cpu_seconds, 6), "warning": reason,
        }
        path = self.out_dir / "profile.json"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return path
