"""Verification: walk the stored records and report every break with its location.

Checks, in one pass over the records in sequence order:

- each record's SHA-256 matches its content (edits, bit flips);
- sequence numbers are consecutive and each record names the previous record's
  hash (deletion, insertion, reordering);
- each checkpoint's HMAC is valid for (sequence number, chain head, previous
  checkpoint's MAC), so a rewritten chain with recomputed hashes is caught;
- a trail that does not start at 1 is covered by a signed retention record;
- the signed head anchor names a record that exists with that hash, so records
  cut off the end (truncation) are caught;
- ``audit.tail_truncated`` records that cut acknowledged records are problems.

Nothing is repaired. Unfinished final lines (a writer died mid-write, never
acknowledged) are reported as notes, not problems.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kaizen_perf.audit.chain import HeadAnchor
from kaizen_perf.audit.model import CHECKPOINT, GENESIS, RETENTION, TAIL_TRUNCATED, AuditEntry
from kaizen_perf.audit.signing import Signer
from kaizen_perf.audit.store import AuditStore, Scanned


@dataclass(frozen=True, slots=True)
class Problem:
    """One integrity problem and where it is."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


@dataclass(frozen=True)
class VerifyReport:
    """The result of :func:`verify`: ``ok`` is True when no problem was found."""

    ok: bool
    records: int
    first_seq: int
    last_seq: int
    checkpoints: int
    pruned_through: int
    problems: tuple[Problem, ...]
    notes: tuple[str, ...] = field(default=())


class _Walk:
    """State of one verification pass."""

    def __init__(self, signer: Signer, retention: dict[int, AuditEntry], head_seq: int) -> None:
        self.signer, self.retention, self.head_seq = signer, retention, head_seq
        self.problems: list[Problem] = []
        self.notes: list[str] = []
        self.seq = 0
        self.hash = GENESIS
        self.ckpt_mac = ""
        self.first = 0
        self.records = self.checkpoints = self.pruned_through = 0
        self.hash_at_head: str | None = None

    def problem(self, where: str, message: str) -> None:
        self.problems.append(Problem(where, message))

    def start(self, where: str, e: AuditEntry) -> None:
        self.first = e.seq
        if e.seq == 1:
            return
        ret = self.retention.get(e.seq - 1)
        if ret is None:
            self.problem(where, f"the trail starts at seq {e.seq}: records 1..{e.seq - 1} "
                         "are missing and no signed retention record covers them")
        else:
            self.pruned_through = e.seq - 1
            self.hash = str(ret.details.get("anchor_hash", ""))
            self.ckpt_mac = str(ret.details.get("ckpt_mac", ""))
            self.notes.append(f"records 1..{e.seq - 1} were pruned by retention "
                              f"(cutoff {ret.details.get('cutoff')}, record seq {ret.seq})")
        self.seq = e.seq - 1

    def step(self, where: str, e: AuditEntry) -> None:
        if self.records == 0:
            self.start(where, e)
        self.records += 1
        if e.compute_hash() != e.hash:
            self.problem(where, f"record seq {e.seq} does not match its hash: it was edited")
        if e.seq != self.seq + 1:
            what = "out of order or duplicated" if e.seq <= self.seq else \
                f"records {self.seq + 1}..{e.seq - 1} are missing"
            self.problem(where, f"expected seq {self.seq + 1}, found {e.seq}: {what}")
        if e.prev_hash != self.hash:
            self.problem(where, f"record seq {e.seq} does not link to the record before it "
                         "(inserted, deleted or reordered records)")
        self._special(where, e)
        self.seq, self.hash = e.seq, e.hash
        if e.seq == self.head_seq:
            self.hash_at_head = e.hash

    def _special(self, where: str, e: AuditEntry) -> None:
        d: dict[str, Any] = e.details if isinstance(e.details, dict) else {}
        if e.action == CHECKPOINT:
            self.checkpoints += 1
            self._checkpoint(where, e, d)
        elif e.action == RETENTION and not self.signer.check(
                str(d.get("mac")), "retention", d.get("pruned_through_seq"),
                d.get("anchor_hash"), d.get("ckpt_mac"), d.get("records"), d.get("cutoff")):
            self.problem(where, f"retention record seq {e.seq} has an invalid signature")
        elif e.action == TAIL_TRUNCATED and int(d.get("head_seq", 0)) > int(d.get("last_seq", 0)):
            self.problem(where, f"records {int(d['last_seq']) + 1}..{d['head_seq']} had been "
                         f"acknowledged but were cut off as a torn tail when the trail was "
                         f"reopened (segment {d.get('segment')}, byte {d.get('offset')})")
        elif e.action == TAIL_TRUNCATED:
            self.notes.append(f"an unfinished final record ({d.get('bytes')} bytes, never "
                              f"acknowledged) was truncated at record seq {e.seq}")

    def _checkpoint(self, where: str, e: AuditEntry, d: dict[str, Any]) -> None:
        if d.get("key_id") != self.signer.key_id:
            self.problem(where, f"checkpoint seq {e.seq} was signed with key id "
                         f"{d.get('key_id')}, not with the key given (id {self.signer.key_id})")
        elif not self.signer.check(str(d.get("mac")), "checkpoint", d.get("covers_seq"),
                                   d.get("head"), d.get("prev_mac")):
            self.problem(where, f"checkpoint seq {e.seq} has an invalid signature")
        if (d.get("covers_seq") != e.seq - 1 or d.get("head") != e.prev_hash
                or d.get("prev_mac") != self.ckpt_mac):
            self.problem(where, f"checkpoint seq {e.seq} does not match the chain before it "
                         "(records were rewritten)")
        self.ckpt_mac = str(d.get("mac"))


def verify(store: AuditStore, signer: Signer) -> VerifyReport:
    """Check the whole trail in ``store`` with ``signer``'s key."""
    retention = {int(e.details["pruned_through_seq"]): e
                 for e in _retention_records(store.scan())}
    head = store.head()  # before the scan: a concurrent writer only moves it forward
    walk = _Walk(signer, retention, head.seq if head else -1)
    for item in store.scan():
        _visit(walk, item)
    _check_head(walk, head, store.location)
    if not signer.configured:
        walk.notes.append("no audit key configured: checkpoints are signed with a key stored "
                          "beside the trail, which does not stop someone who can read it")
    return VerifyReport(not walk.problems, walk.records, walk.first, walk.seq,
                        walk.checkpoints, walk.pruned_through, tuple(walk.problems),
                        tuple(walk.notes))


def _retention_records(items: Iterable[Scanned]) -> list[AuditEntry]:
    return [s.entry for s in items if s.entry is not None and s.entry.action == RETENTION
            and isinstance(s.entry.details, dict) and not s.ignored
            and isinstance(s.entry.details.get("pruned_through_seq"), int)]


def _visit(walk: _Walk, item: Scanned) -> None:
    if item.ignored:
        walk.notes.append(f"{item.location}: left by a failed write and disowned by a later "
                          "audit.write_failed record (never acknowledged)")
    elif item.torn:
        walk.notes.append(f"{item.location}: unfinished final record (never acknowledged); "
                          "the next writer truncates it")
    elif item.entry is None:
        walk.problem(item.location, f"unreadable record: {item.error}")
    else:
        walk.step(item.location, item.entry)


def _check_head(walk: _Walk, head: HeadAnchor | None, location: str) -> None:
    where = f"{location} head anchor"
    if head is None:
        if walk.records:
            walk.problem(where, "the signed head anchor is missing (deleted?)")
        return
    if not walk.signer.check(head.mac, "head", head.seq, head.hash):
        walk.problem(where, f"the head anchor (seq {head.seq}) has an invalid signature")
    elif head.seq > walk.seq:
        walk.problem(where, f"the trail ends at seq {walk.seq} but the signed head records "
                     f"seq {head.seq}: records {walk.seq + 1}..{head.seq} were removed")
    elif head.seq > walk.pruned_through and walk.hash_at_head != head.hash:
        walk.problem(where, f"record seq {head.seq} differs from the one the signed head "
                     "anchor records (rewritten)")
