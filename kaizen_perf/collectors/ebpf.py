"""eBPF collector: kernel-level latency per agent from one streaming bpftrace process.

Which processes: the kernel side keeps ``@kaizen_track``, seeded with the PIDs of the
tree when bpftrace starts and extended at every fork of a tracked process (and of a
process whose parent is tracked, which catches children forked during bpftrace's
1-5 s start-up). Maps are keyed by PID; user space attributes a PID to its agent with
the session's process collector (``agent_of_pid``), so agents are never part of the
BPF program. Filtering in the kernel costs one hash lookup per event of an untracked
task, and keeps the printed maps as small as the monitored tree: keying every
process on the machine and filtering in user space would print (and parse) the whole
host every window. Following a cgroup would need one per run (``attach`` has none).

Run-queue wait: bpftrace measures it too (``offcpu.bt``), but the metric series
``kaizen_offcpu_seconds_total{kind="runqueue"}`` keeps coming from ``/proc/PID/schedstat``
(the same kernel accounting, exact, and also there without eBPF); the eBPF figure is
written to ``ebpf.jsonl`` only. eBPF adds ``kind="blocked"``.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from kaizen_perf._proc import Finder, Runner, find_tool, run_command
from kaizen_perf.collectors import ebpf_programs as programs
from kaizen_perf.collectors.ebpf_parse import KernelEvent, Window, window_events
from kaizen_perf.collectors.ebpf_stream import BpftraceStream
from kaizen_perf.events import Event, KernelCounter

FORMAT_VERSION = 1
TARGETED_SYSCALLS = frozenset({"connect", "read", "write", "futex", "epoll_wait", "epoll_pwait"})
PRIVILEGE_FIX = ("install it with `apt-get install bpftrace`, and run as root or grant "
                 "CAP_BPF and CAP_PERFMON (docker --cap-add BPF --cap-add PERFMON)")
TRACEFS_FIX = "mount tracefs: `mount -t tracefs nodev /sys/kernel/tracing` (as root)"


@dataclass(frozen=True)
class Availability:
    """Whether eBPF can run here; ``reason`` and ``fix`` say why not."""

    ok: bool
    reason: str = ""
    fix: str = ""
    bpftrace: str = ""


def probe_bpftrace(run: Runner = run_command, *, btf: str = "/sys/kernel/btf/vmlinux",
                   find: Finder = find_tool) -> Availability:
    """bpftrace on PATH, kernel BTF, and a dry run that loads (what ``doctor`` reports too)."""
    bpftrace = find("bpftrace")
    if bpftrace is None:
        return Availability(False, "bpftrace not found", "apt-get install bpftrace")
    # bpftrace compiles its programs against BTF; without it every probe fails to load.
    if not os.path.exists(btf):
        return Availability(False, f"no kernel BTF at {btf}",
                            "use a kernel built with CONFIG_DEBUG_INFO_BTF=y")
    # A dry run is the only reliable privilege check: CAP_BPF, CAP_PERFMON, lockdown
    # and seccomp all fail the same way, at load time.
    try:
        dry = run([bpftrace, "-e", "BEGIN { exit(); }"], 30)
    except subprocess.TimeoutExpired:
        return Availability(False, "bpftrace dry run timed out", "check `bpftrace -l`")
    if dry.returncode != 0:
        return Availability(False, f"bpftrace cannot load programs: {dry.stderr.strip()[:200]}",
                            "run as root or grant CAP_BPF and CAP_PERFMON")
    return Availability(True, bpftrace=bpftrace)


def detect(run: Runner = run_command, *, btf: str = "/sys/kernel/btf/vmlinux",
           tracefs: Sequence[str] = programs.TRACEFS_EVENTS,
           find: Finder = find_tool) -> Availability:
    """bpftrace on PATH, kernel BTF, a dry run that loads, and tracefs for tracepoints."""
    found = probe_bpftrace(run, btf=btf, find=find)
    if not found.ok:
        return Availability(False, found.reason, found.fix or PRIVILEGE_FIX)
    if not any(Path(p).is_dir() for p in tracefs):
        return Availability(False, "tracefs is not mounted, so no tracepoint can attach",
                            TRACEFS_FIX)
    return found


class EbpfCollector:
    """Streams the kernel programs for a process tree into the pipeline and ``ebpf.jsonl``."""

    def __init__(self, pids: Sequence[int], *, put: Callable[[Event], None],
                 agent_of: Callable[[int], str], run_dir: Path,
                 warn: Callable[[str], None], syscalls_s: float | None = None,
                 window_s: int = 5, names: Sequence[str] = programs.DEFAULT_PROGRAMS,
                 attach_timeout_s: float = 30.0,
                 detector: Callable[[], Availability] = detect) -> None:
        self._pids, self._put, self._agent_of = list(pids), put, agent_of
        self._dir, self._warn, self._detector = run_dir, warn, detector
        self._syscalls_s, self._window_s, self._names = syscalls_s, window_s, tuple(names)
        self._attach_timeout_s = attach_timeout_s
        # Each stream calls back on its own reader thread: the lock serialises the window
        # count, the one-warning latch and the appends to ebpf.jsonl (lines never interleave).
        self._lock = threading.Lock()
        self._streams: dict[str, BpftraceStream] = {}
        self._warned = False
        self.windows = 0
        self.enabled = False

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> bool:
        """Detect, assemble and start; False (after one warning) when eBPF cannot run."""
        found = self._detector()
        if not found.ok:
            self._error(f"eBPF unavailable: {found.reason}. Fix: {found.fix}.")
            return False
        self._record({"type": "start", "pids": self._pids, "programs": list(self._names),
                      "syscalls_s": self._syscalls_s, "window_s": self._window_s})
        try:
            self._launch("main", self._names, found.bpftrace, None)
            # Every-syscall tracing costs the most, so it is a second process that
            # exits by itself after --ebpf-syscalls seconds while the main one goes on.
            if self._syscalls_s:
                self._launch("syscalls", (programs.ALL_SYSCALLS,), found.bpftrace,
                              max(1, round(self._syscalls_s)))
        except (OSError, ValueError) as exc:  # ConfigError is a ValueError
            self._error(f"eBPF could not start: {exc}")
            self.stop()
            return False
        self.enabled = True
        return True

    def _launch(self, role: str, names: Sequence[str], bpftrace: str,
                exit_after_s: int | None) -> None:
        text = programs.assemble([programs.load(n) for n in names], self._pids,
                                 window_s=self._window_s, exit_after_s=exit_after_s)
        # Written to the run directory, not a temp file: what ran stays next to its output,
        # and can be run again by hand with bpftrace.
        path = self._dir / f"ebpf-{role}.bt"
        path.write_text(text)
        suffix = "" if role == "main" else f"-{role}"
        self._streams[role] = BpftraceStream(
            bpftrace, path, on_window=lambda w: self._window(role, w), on_error=self._error,
            attach_timeout_s=self._attach_timeout_s, name=f"kaizen-perf-ebpf{suffix}",
            on_attached=lambda n: self._record({"type": "attached", "source": role,
                                                "probes": n})).start()

    def wait_attached(self, timeout_s: float) -> bool:
        """True once every started stream attached its probes (tests and the CLI wait here)."""
        return all(s.wait_attached(timeout_s) for s in self._streams.values())

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop every stream (its last window is flushed) and write the summary line."""
        for stream in self._streams.values():
            stream.stop(timeout_s)
        if self.enabled:
            self.enabled = False
            self._record({"type": "summary", "windows": self.windows,
                          "cpu_s": round(self.cpu_seconds, 3),
                          "peak_rss_bytes": self.peak_rss_bytes,
                          "lost_events": sum(s.parser.lost_events
                                             for s in self._streams.values())})

    @property
    def cpu_seconds(self) -> float:
        """CPU used by bpftrace (all streams) so far."""
        return sum(s.cpu_seconds for s in self._streams.values())

    @property
    def peak_rss_bytes(self) -> int:
        """Largest resident memory seen for one bpftrace process."""
        return max((s.peak_rss_bytes for s in self._streams.values()), default=0)

    # -- windows --------------------------------------------------------------------------
    def _window(self, role: str, window: Window) -> None:
        events = window_events(window, self._agent_of)
        if role != "main" and "syscalls" in self._names:
            # the targeted program already measures these: do not count them twice
            events = [e for e in events if e.label not in TARGETED_SYSCALLS]
        for event in events:
            if not _procfs_owned(event):
                self._put(event)
        with self._lock:
            self.windows += 1
        self._record({"type": "window", "source": role, "index": window.index,
                      "events": [_as_json(e) for e in events]})

    def _error(self, message: str) -> None:
        """Say it once; the procfs metrics carry on either way."""
        with self._lock:
            if self._warned:
                return
            self._warned = True
        self._warn(f"{message} Falling back to /proc (run-queue wait, context switches).")
        self._record({"type": "error", "message": message})

    def _record(self, doc: dict[str, Any]) -> None:
        line = json.dumps({"format_version": FORMAT_VERSION, "t": round(time.time(), 3), **doc})
        with self._lock, open(self._dir / "ebpf.jsonl", "a") as fh:
            fh.write(line + "\n")


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants now (the seed of the kernel-side tracking)."""
    try:
        root = psutil.Process(pid)
        return [pid, *(p.pid for p in root.children(recursive=True))]
    except psutil.Error:
        return [pid]


def _procfs_owned(event: KernelEvent) -> bool:
    """Run-queue wait is exported from /proc/PID/schedstat (see the module docstring)."""
    return isinstance(event, KernelCounter) and event.label == "runqueue"


def _as_json(event: KernelEvent) -> dict[str, Any]:
    doc = event._asdict()
    doc["kind"] = type(event).__name__
    if "counts" in doc:
        doc["counts"] = list(doc["counts"])
    return doc
