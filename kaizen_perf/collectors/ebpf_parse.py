"""bpftrace ``-f json`` output: lines into windows, windows into kernel events.

bpftrace 0.17 prints one JSON object per line: ``{"type": "map"|"hist"|"stats",
"data": {"@name": …}}``, ``{"type": "attached_probes", "data": {"probes": N}}``
(printed BEFORE the probes attach: readiness is the ``kaizen-perf: tracing`` printf
of BEGIN, which bpftrace runs once every probe is attached), and
others (``printf``, ``time``, ``lost_events``) that the programs do not use. Maps are
keyed by PID first (``"1234"`` or ``"1234,label"``). A window ends with the
``@kaizen_window`` counter; a value not above the last one is a repeat (bpftrace
auto-prints maps at exit) and is ignored.

Histogram mapping: the programs record microseconds in log2 buckets ``[2^k, 2^(k+1))``.
Each bucket goes to the first ``KERNEL_BUCKETS`` bound its exclusive upper edge does not
exceed by more than 2.5 %: below 256 µs the bounds are powers of two (1, 4, 16, 64,
256 µs) and the mapping is exact; above, the bounds are 1000·4^k µs while the log2
edges are 1024·4^k µs, so a bound "le=0.001" really holds observations up to
1.024 ms (the same 2.4 % everywhere above 256 µs). Sums are exact (kept in ns).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kaizen_perf.errors import CollectorUnavailable
from kaizen_perf.events import KernelCounter, KernelHistogram
from kaizen_perf.metrics import KERNEL_BUCKETS

_BOUNDS_US = tuple(b * 1e6 for b in KERNEL_BUCKETS)
_TOLERANCE = 1.025
MINOR_FAULT_PERIOD = 100  # faults.bt samples minor faults 1 in 100
READY = "kaizen-perf: tracing"
_DATA_TYPES = frozenset({"map", "hist", "stats"})
_IGNORED_TYPES = frozenset({"printf", "time", "lost_events", "syscall", "join", "cat"})
#: x86_64 numbers of syscalls an agent commonly makes (syscalls_all.bt reports numbers).
X86_64_SYSCALLS = {
    0: "read", 1: "write", 2: "open", 3: "close", 4: "stat", 5: "fstat", 6: "lstat",
    7: "poll", 8: "lseek", 9: "mmap", 10: "mprotect", 11: "munmap", 12: "brk",
    13: "rt_sigaction", 14: "rt_sigprocmask", 16: "ioctl", 17: "pread64", 18: "pwrite64",
    19: "readv", 20: "writev", 21: "access", 22: "pipe", 23: "select", 24: "sched_yield",
    28: "madvise", 32: "dup", 33: "dup2", 35: "nanosleep", 39: "getpid", 41: "socket",
    42: "connect", 43: "accept", 44: "sendto", 45: "recvfrom", 46: "sendmsg", 47: "recvmsg",
    48: "shutdown", 49: "bind", 50: "listen", 51: "getsockname", 52: "getpeername",
    54: "setsockopt", 55: "getsockopt", 56: "clone", 57: "fork", 59: "execve", 61: "wait4",
    62: "kill", 72: "fcntl", 74: "fsync", 75: "fdatasync", 77: "ftruncate", 78: "getdents",
    79: "getcwd", 82: "rename", 83: "mkdir", 87: "unlink", 89: "readlink", 96: "gettimeofday",
    102: "getuid", 186: "gettid", 202: "futex", 217: "getdents64", 228: "clock_gettime",
    230: "clock_nanosleep", 232: "epoll_wait", 233: "epoll_ctl", 257: "openat", 262: "newfstatat",
    270: "pselect6", 271: "ppoll", 281: "epoll_pwait", 288: "accept4", 290: "eventfd2",
    291: "epoll_create1", 293: "pipe2", 302: "prlimit64", 318: "getrandom", 332: "statx",
    435: "clone3", 441: "epoll_pwait2",
}


class OutputFormatError(CollectorUnavailable):
    """bpftrace printed something this version of kaizen-perf does not understand."""


@dataclass
class Window:
    """The maps printed in one window: map name → raw JSON value."""

    index: int
    maps: dict[str, Any] = field(default_factory=dict)


class StreamParser:
    """Feeds lines; yields a :class:`Window` at each new ``@kaizen_window`` marker."""

    def __init__(self) -> None:
        self.attached_probes: int | None = None
        self.tracing = False  # BEGIN ran: bpftrace triggers it once every probe is attached
        self.lost_events = 0
        self._maps: dict[str, Any] = {}
        self._last_window = 0

    def feed(self, line: str) -> Window | None:
        """Parse one output line (blank lines are skipped); raise OutputFormatError on junk."""
        line = line.strip()
        if not line:
            return None
        msg = _loads(line)
        kind, data = msg.get("type"), msg.get("data")
        if kind == "attached_probes" and isinstance(data, dict):
            self.attached_probes = int(data.get("probes", 0))
            return None
        if kind == "printf" and isinstance(data, str) and data.startswith(READY):
            self.tracing = True
            return None
        if kind in _IGNORED_TYPES:
            if kind == "lost_events" and isinstance(data, dict):
                self.lost_events += int(data.get("events", 0))
            return None
        if kind not in _DATA_TYPES or not isinstance(data, dict) or len(data) != 1:
            raise OutputFormatError(f"unexpected bpftrace output: {line[:200]}")
        (name, value), = data.items()
        if name != "@kaizen_window":
            self._maps[name] = value
            return None
        if not isinstance(value, int) or value <= self._last_window:
            return None  # the auto-print at exit repeats (or zeroes) the marker
        self._last_window = value
        window, self._maps = Window(value, self._maps), {}
        return window


def _loads(line: str) -> dict[str, Any]:
    try:
        msg = json.loads(line)
    except ValueError:
        raise OutputFormatError(f"bpftrace printed a line that is not JSON: {line[:200]}") from None
    if not isinstance(msg, dict):
        raise OutputFormatError(f"unexpected bpftrace output: {line[:200]}")
    return msg


def bucket_index(entry: Mapping[str, int]) -> int:
    """The KERNEL_BUCKETS slot (len() = +Inf) of one bpftrace log2 bucket of microseconds."""
    if "min" not in entry:
        return 0  # negative values (clock skew between CPUs): the lowest bucket
    if entry["min"] < 0:
        return len(_BOUNDS_US)  # bpftrace 0.17 prints its overflow bucket with a negative min
    upper = entry["max"] + 1
    for i, bound in enumerate(_BOUNDS_US):
        if upper <= bound * _TOLERANCE:
            return i
    return len(_BOUNDS_US)


def to_buckets(entries: Sequence[Mapping[str, int]]) -> tuple[int, ...]:
    """A bpftrace histogram as counts per KERNEL_BUCKETS slot, +Inf last."""
    counts = [0] * (len(_BOUNDS_US) + 1)
    for entry in entries:
        counts[bucket_index(entry)] += int(entry["count"])
    return tuple(counts)


def _keyed(value: Any, name: str) -> Iterator[tuple[int, str, Any]]:
    """(pid, label, value) for each key of a map printed as ``{"pid[,label]": value}``."""
    if not isinstance(value, dict):
        raise OutputFormatError(f"map {name} is not keyed by PID: {str(value)[:200]}")
    for key, item in value.items():
        pid, _, label = str(key).partition(",")
        try:
            yield int(pid), label, item
        except ValueError:
            raise OutputFormatError(f"map {name} has a key that is not a PID: {key!r}") from None


def syscall_label(label: str) -> str:
    """``tracepoint:syscalls:sys_exit_read`` → ``read``; a number → its x86_64 name."""
    if label.startswith("tracepoint:"):
        return label.rsplit("sys_exit_", 1)[-1]
    if label.isdigit():
        return X86_64_SYSCALLS.get(int(label), f"nr_{label}")
    return label


def block_op(rwbs: str) -> str:
    """The kernel's request flags (``WS``, ``R``, ``FWS``…) as an op label."""
    for flag, op in (("D", "discard"), ("R", "read"), ("W", "write"), ("F", "flush")):
        if flag in rwbs:
            return op
    return "other"


# map name → (metric, label function, scale to seconds or count)
_COUNTERS: dict[str, tuple[str, Callable[[str], str], float]] = {
    "@offcpu_blocked_ns": ("kaizen_offcpu_seconds_total", lambda _: "blocked", 1e-9),
    "@offcpu_runq_ns": ("kaizen_offcpu_seconds_total", lambda _: "runqueue", 1e-9),
    "@tcp_retransmits": ("kaizen_tcp_retransmits_total", lambda _: "", 1.0),
    "@faults_major": ("kaizen_page_faults_total", lambda _: "major", 1.0),
    "@faults_minor_per100": ("kaizen_page_faults_total", lambda _: "minor",
                             float(MINOR_FAULT_PERIOD)),
}
# histogram map → (metric, its ns-sum map, label function)
_HISTS: dict[str, tuple[str, str, Callable[[str], str]]] = {
    "@sys_us": ("kaizen_syscall_duration_seconds", "@sys_ns_sum", syscall_label),
    "@sysall_us": ("kaizen_syscall_duration_seconds", "@sysall_ns_sum", syscall_label),
    "@bio_us": ("kaizen_block_io_duration_seconds", "@bio_ns_sum", block_op),
    "@tcp_connect_us": ("kaizen_tcp_connect_duration_seconds", "@tcp_connect_ns_sum",
                        lambda _: ""),
}
_SUMS = frozenset(v[1] for v in _HISTS.values())

KernelEvent = KernelCounter | KernelHistogram


def window_events(window: Window, agent_of: Callable[[int], str]) -> list[KernelEvent]:
    """Per-agent events of one window: PIDs summed per agent, labels mapped."""
    unknown = set(window.maps) - set(_COUNTERS) - set(_HISTS) - _SUMS
    if unknown:
        raise OutputFormatError(f"bpftrace printed an unknown map {sorted(unknown)[0]}")
    return [*_counter_events(window, agent_of), *_histogram_events(window, agent_of)]


def _counter_events(window: Window, agent_of: Callable[[int], str]) -> list[KernelEvent]:
    totals: dict[tuple[str, str, str], float] = {}
    for name in _COUNTERS.keys() & window.maps.keys():
        metric, label_of, scale = _COUNTERS[name]
        for pid, label, item in _keyed(window.maps[name], name):
            key = (agent_of(pid), metric, label_of(label))
            totals[key] = totals.get(key, 0.0) + float(item) * scale
    return [KernelCounter(a, m, lab, v) for (a, m, lab), v in totals.items()]


def _histogram_events(window: Window, agent_of: Callable[[int], str]) -> list[KernelEvent]:
    slots: dict[tuple[str, str, str], list[float]] = {}
    for name in _HISTS.keys() & window.maps.keys():
        metric, sum_name, label_of = _HISTS[name]
        sums = window.maps.get(sum_name, {})
        for pid, label, item in _keyed(window.maps[name], name):
            slot = slots.setdefault((agent_of(pid), metric, label_of(label)),
                                    [0.0] * (len(_BOUNDS_US) + 2))
            for i, n in enumerate(to_buckets(item)):
                slot[i] += n
            slot[-1] += float(sums.get(f"{pid},{label}" if label else str(pid), 0)) * 1e-9
    return [KernelHistogram(a, m, lab, tuple(int(c) for c in s[:-1]), s[-1])
            for (a, m, lab), s in slots.items()]
