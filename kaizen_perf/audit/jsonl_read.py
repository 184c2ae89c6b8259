"""The read side of the JSON-lines store: scan for verification, query, head, prune planning."""

from __future__ import annotations

import collections
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

from kaizen_perf.audit import segments as seg
from kaizen_perf.audit.chain import HeadAnchor, PruneBoundary
from kaizen_perf.audit.model import CHECKPOINT, RETENTION, WRITE_FAILED, AuditEntry, Filter
from kaizen_perf.audit.store import Scanned
from kaizen_perf.errors import AuditStoreError


class JsonlReader:
    """Reads a directory of segments; never changes it."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.location = f"jsonl://{directory.resolve()}"

    def scan(self) -> Iterator[Scanned]:
        """Every line of every segment, in order, with file, line number and byte offset."""
        names = seg.segments(self.dir)
        for i, name in enumerate(names):
            limit = self._disowned_after(names, i)
            lines = seg.read_lines(self.dir / name)
            torn = seg.torn_from(lines) if i == len(names) - 1 else None
            for n, line in enumerate(lines, start=1):
                where = f"{self.dir / name} line {n} (byte {line.offset})"
                if limit is not None and line.offset >= limit:
                    yield Scanned(where, line.entry, line.error, ignored=True)
                elif torn is not None and n - 1 >= torn:
                    yield Scanned(where, None, line.error or "unfinished final line", torn=True)
                elif not line.complete:
                    yield Scanned(where, None, "unfinished line (no newline) inside the trail")
                else:
                    yield Scanned(where, line.entry, line.error)

    def _disowned_after(self, names: Sequence[str], i: int) -> int | None:
        """Byte offset after which a later ``audit.write_failed`` record disowns segment i."""
        if i + 1 >= len(names):
            return None
        first = seg.first_record(self.dir / names[i + 1])
        if first is None or first.action != WRITE_FAILED or not isinstance(first.details, dict):
            return None
        if first.details.get("segment") != names[i]:
            return None
        return int(first.details.get("valid_bytes", 0))

    def query(self, flt: Filter) -> list[AuditEntry]:
        """Matching records, oldest first (the newest ``limit`` of them)."""
        found: collections.deque[AuditEntry] = collections.deque(maxlen=flt.limit)
        for entry in seg.iter_entries(self.dir, seg.segments(self.dir)):
            if flt.matches(entry):
                found.append(entry)
        return list(found)

    def head(self) -> HeadAnchor | None:
        """The signed head anchor from ``head.json``."""
        try:
            d = json.loads((self.dir / "head.json").read_text())
            return HeadAnchor(int(d["seq"]), str(d["hash"]), str(d["key_id"]), str(d["mac"]))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            msg = f"The audit head anchor {self.dir / 'head.json'} is unreadable: {exc}."
            raise AuditStoreError(msg) from exc

    def old_segments(self, names: Sequence[str], cutoff: str) -> list[str]:
        """Leading segments (never the newest) whose every record is older than ``cutoff``."""
        old: list[str] = []
        for name in names[:-1]:
            entries = list(seg.iter_entries(self.dir, [name]))
            if any(e.ts >= cutoff for e in entries):
                break
            old.append(name)
        return old

    def boundary(self, names: Sequence[str], old: Sequence[str],
                 cutoff: str) -> PruneBoundary | None:
        """What pruning ``old`` removes, and the checkpoint MAC in force at its end."""
        entries = list(seg.iter_entries(self.dir, old))
        if not entries:
            return None
        last = entries[-1]
        ckpt = next((e for e in reversed(entries) if e.action == CHECKPOINT), None)
        mac = str(ckpt.details["mac"]) if ckpt else self._mac_before(names, entries[0].seq)
        return PruneBoundary(last.seq, last.hash, mac, len(entries), cutoff)

    def _mac_before(self, names: Sequence[str], first_seq: int) -> str:
        """The checkpoint MAC in force before ``first_seq`` (from an earlier retention record)."""
        for e in seg.iter_entries(self.dir, names):
            if (e.action == RETENTION and isinstance(e.details, dict)
                    and e.details.get("pruned_through_seq") == first_seq - 1):
                return str(e.details.get("ckpt_mac", ""))
        return ""
