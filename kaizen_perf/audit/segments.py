"""Reading JSON-lines segments: names, lines, torn tails and the chain state at the end.

A segment is ``audit-<first seq, 12 digits>-<attempt, 2 digits>.jsonl``; names
sort in chain order. The attempt number grows when a segment had to be
abandoned after a failed write and a new one starts at the same sequence number.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from kaizen_perf.audit.chain import ChainState
from kaizen_perf.audit.model import CHECKPOINT, AuditEntry
from kaizen_perf.audit.store import advance, declared_interval

SEGMENT_RE = re.compile(r"^audit-(\d{12})-(\d{2})\.jsonl$")


def segment_name(first_seq: int, attempt: int = 0) -> str:
    """File name of a segment whose first record has ``first_seq``."""
    return f"audit-{first_seq:012d}-{attempt:02d}.jsonl"


def segments(directory: Path) -> list[str]:
    """Segment file names in chain order."""
    try:
        names = [n for n in (p.name for p in directory.iterdir()) if SEGMENT_RE.match(n)]
    except FileNotFoundError:
        return []
    return sorted(names)


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a segment (``complete`` is False for bytes after the last newline)."""

    offset: int
    raw: bytes
    entry: AuditEntry | None
    error: str | None
    complete: bool

    @property
    def end(self) -> int:
        """Offset just after this line (and its newline)."""
        return self.offset + len(self.raw) + (1 if self.complete else 0)


def parse(raw: bytes) -> tuple[AuditEntry | None, str | None]:
    """A record from one line, or the reason it is not one."""
    if not raw.strip(b"\0 \t\r"):
        return None, "zero-filled or empty line"
    try:
        obj = json.loads(raw)
        return AuditEntry.from_dict(obj), None
    except (ValueError, KeyError, TypeError) as exc:
        return None, f"not a valid record ({type(exc).__name__}: {exc})"


def read_lines(path: Path, start: int = 0) -> list[Line]:
    """Every line from byte ``start`` to the end of the file."""
    with path.open("rb") as f:
        f.seek(start)
        data = f.read()
    lines: list[Line] = []
    pos = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        complete = nl >= 0
        raw = data[pos:nl] if complete else data[pos:]
        entry, error = parse(raw)
        lines.append(Line(start + pos, raw, entry, error, complete))
        pos = nl + 1 if complete else len(data)
    return lines


def torn_from(lines: Sequence[Line]) -> int | None:
    """Index of the first line of a torn tail: everything from it on is unfinished or unreadable.

    A tail is torn only when no complete, readable record follows it; damage
    followed by good records is interior corruption and is left alone.
    """
    cut = None
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i]
        if line.entry is not None and line.complete:
            break
        cut = i
    return cut


def advance_over(state: ChainState, lines: Sequence[Line]) -> ChainState:
    """Chain state after the readable records among ``lines``."""
    for line in lines:
        if line.entry is not None:
            state = advance(state, line.entry)
    return state


def state_at_end(directory: Path, names: Sequence[str]) -> ChainState:
    """Chain state at the end of the trail, reading segments backwards only as far as needed."""
    last: AuditEntry | None = None
    ckpt: AuditEntry | None = None
    for name in reversed(names):
        entries = [ln.entry for ln in read_lines(directory / name)
                   if ln.entry is not None and ln.complete]
        if last is None and entries:
            last = entries[-1]
        ckpt = next((e for e in reversed(entries) if e.action == CHECKPOINT), None)
        if last is not None and ckpt is not None:
            break
    if last is None:
        return ChainState()
    if ckpt is None:
        return ChainState(last.seq, last.hash)
    return advance(ChainState(), ckpt) if ckpt is last else ChainState(
        last.seq, last.hash, ckpt.seq, str(ckpt.details["mac"]),
        declared_interval(ckpt.details))


def first_record(path: Path) -> AuditEntry | None:
    """The first record of a segment, if readable."""
    with path.open("rb") as f:
        raw = f.readline()
    return parse(raw.rstrip(b"\n"))[0] if raw.endswith(b"\n") else None


def iter_entries(directory: Path, names: Sequence[str]) -> Iterator[AuditEntry]:
    """Every readable record of the named segments."""
    for name in names:
        for line in read_lines(directory / name):
            if line.entry is not None:
                yield line.entry
