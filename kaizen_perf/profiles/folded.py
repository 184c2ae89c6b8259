"""Folded stacks: parsing, merging, per-process attribution and top functions.

A folded file has one line per distinct stack, root first, frames separated by
``;`` and the sample count last: ``<module> (a.py:9);work (a.py:4) 42``. This is
what ``py-spy record --format raw`` writes, what ``flamegraph.pl`` reads and what
speedscope imports. With ``--subprocesses`` every stack starts with one
``process PID:"cmdline"`` frame per process between the root and the sampled
process (a grandchild's stacks start with its grandparent's frame), so the
*innermost* process frame names the process that was sampled.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

Stack = tuple[str, ...]

_PROCESS = re.compile(r'^process (\d+):')
_LINE = re.compile(r'^(?P<name>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$')
#: what stands for a ``;`` inside a frame (a command line ``sh -c "a; b"``): folded files
#: separate frames with ``;``, so a frame must never contain one (U+FF1B FULLWIDTH SEMICOLON)
FRAME_SEMICOLON = "\uff1b"


@dataclass(frozen=True)
class Frame:
    """One frame split into function name, file and line (0 when unknown)."""

    name: str
    file: str = ""
    line: int = 0

    @property
    def function(self) -> str:
        """The frame without its line number: ``work (a.py)``; process frames as they are."""
        return f"{self.name} ({self.file})" if self.file else self.name


@dataclass(frozen=True)
class Profile:
    """Sample counts per stack (root first); immutable once built."""

    stacks: Mapping[Stack, int] = field(default_factory=dict)

    @property
    def samples(self) -> int:
        """All samples of the profile."""
        return sum(self.stacks.values())


def parse_frame(text: str) -> Frame:
    """Split ``work (a.py:4)`` into its parts; other frames keep their text as the name."""
    if text.startswith("process "):
        return Frame(text)
    match = _LINE.match(text)
    if match is None:
        return Frame(text)
    return Frame(match["name"], match["file"], int(match["line"] or 0))


def process_pid(frame: str) -> int | None:
    """The PID of a ``process PID:"cmdline"`` frame, else None."""
    match = _PROCESS.match(frame)
    return int(match[1]) if match else None


def parse_folded(lines: Iterable[str]) -> Counter[Stack]:
    """Sample counts per stack of folded lines; blank and malformed lines are skipped."""
    counts: Counter[Stack] = Counter()
    for line in lines:
        stack, _, count = line.rstrip("\r\n").rpartition(" ")
        if stack and count.isdigit() and int(count) > 0:
            counts[split_stack(stack)] += int(count)
    return counts


def split_stack(text: str) -> Stack:
    """The frames of one folded stack. py-spy writes a process's command line unescaped
    (``process 7:"sh -c "a; b""``), so a ``;`` inside it is joined back into its frame (and
    replaced by :data:`FRAME_SEMICOLON`, so the files we write split correctly anywhere)."""
    parts = text.split(";")
    if not text.startswith("process "):
        return tuple(parts)  # no process frame, so no command line
    out: list[str] = []
    i = 0
    while i < len(parts):
        frame = parts[i]
        if process_pid(frame) is not None:
            # a process frame ends at a '"' followed by something that starts a frame
            while i + 1 < len(parts) and not (frame.endswith('"')
                                              and _starts_frame(parts[i + 1])):
                i += 1
                frame += FRAME_SEMICOLON + parts[i]
        out.append(frame)
        i += 1
    return tuple(out)


def _starts_frame(part: str) -> bool:
    """Whether a piece of a folded line is a whole frame: process, thread or Python."""
    return (process_pid(part) is not None or part.startswith("thread (")
            or _LINE.match(part) is not None)


def read_folded(path: Path) -> Profile:
    """The profile of a folded file (UTF-8; undecodable bytes replaced)."""
    with path.open(encoding="utf-8", errors="replace") as fh:
        return Profile(dict(parse_folded(fh)))


def merge(profiles: Iterable[Mapping[Stack, int]]) -> Profile:
    """One profile with the samples of all of them added up."""
    total: Counter[Stack] = Counter()
    for stacks in profiles:
        total.update(stacks)
    return Profile(dict(total))


def write_folded(profile: Profile, path: Path) -> Path:
    """Write ``profile`` as folded lines (sorted, as flamegraph.pl expects), atomically."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for stack in sorted(profile.stacks):
            fh.write(f"{';'.join(stack)} {profile.stacks[stack]}\n")
    os.replace(tmp, path)
    return path


def sampled_pid(stack: Stack) -> int | None:
    """The PID of the process a stack was sampled in (its innermost process frame)."""
    pid = None
    for frame in stack:
        found = process_pid(frame)
        if found is None:
            break
        pid = found
    return pid


def samples_by_pid(profile: Profile) -> dict[int, int]:
    """Samples per sampled PID (stacks without a process frame are left out)."""
    out: Counter[int] = Counter()
    for stack, count in profile.stacks.items():
        pid = sampled_pid(stack)
        if pid is not None:
            out[pid] += count
    return dict(out)


def process_names(profile: Profile) -> dict[int, str]:
    """The ``cmdline`` of every process frame, by PID."""
    out: dict[int, str] = {}
    for stack in profile.stacks:
        for frame in stack:
            pid = process_pid(frame)
            if pid is None:
                break
            out.setdefault(pid, frame.partition(":")[2].strip('"'))
    return out


def for_pid(profile: Profile, pid: int, *, reroot: bool = True) -> Profile:
    """The stacks sampled in ``pid``; with ``reroot`` they start at its own process frame."""
    out: dict[Stack, int] = {}
    for stack, count in profile.stacks.items():
        if sampled_pid(stack) != pid:
            continue
        if reroot:
            stack = stack[_own_frame_index(stack):]
        out[stack] = out.get(stack, 0) + count
    return Profile(out)


def group_by_pid(profile: Profile, key: Callable[[int | None], str]) -> dict[str, Profile]:
    """Split a profile by ``key(sampled PID)``, e.g. PID → agent id, keeping whole stacks."""
    groups: dict[str, Counter[Stack]] = {}
    for stack, count in profile.stacks.items():
        groups.setdefault(key(sampled_pid(stack)), Counter())[stack] += count
    return {name: Profile(dict(c)) for name, c in groups.items()}


def _own_frame_index(stack: Stack) -> int:
    """Index of the innermost process frame (0 when there is none)."""
    last = 0
    for i, frame in enumerate(stack):
        if process_pid(frame) is None:
            break
        last = i
    return last


def strip_lines(profile: Profile) -> Profile:
    """The same samples with line numbers removed, so a function is one frame."""
    out: Counter[Stack] = Counter()
    for stack, count in profile.stacks.items():
        out[tuple(parse_frame(f).function for f in stack)] += count
    return Profile(dict(out))


def top_functions(profile: Profile, n: int = 10, *,
                  inclusive: bool = False) -> list[tuple[str, int]]:
    """The ``n`` functions with most samples: self (leaf) samples, or ``inclusive`` ones.

    Functions are named without line numbers (``work (a.py)``); process frames are
    never counted. Inclusive counts a stack once per function even under recursion.
    """
    counts: Counter[str] = Counter()
    for stack, count in profile.stacks.items():
        names = [parse_frame(f).function for f in stack if process_pid(f) is None]
        if not names:
            continue
        for name in (set(names) if inclusive else names[-1:]):
            counts[name] += count
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def share(profile: Profile, function: str, *, inclusive: bool = True) -> float:
    """Fraction (0–1) of all samples in which ``function`` (``name`` or ``name (file)``) appears."""
    total = profile.samples
    if not total:
        return 0.0
    hit = 0
    for stack, count in profile.stacks.items():
        frames = [parse_frame(f) for f in stack if process_pid(f) is None]
        if not inclusive:
            frames = frames[-1:]
        if any(function in (f.name, f.function) for f in frames):
            hit += count
    return hit / total
