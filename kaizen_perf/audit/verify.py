"""Verification: walk the stored records and report every break with its location.

Checks, in one pass over the records in sequence order:

- each record's SHA-256 matches its content (edits, bit flips);
- sequence numbers are consecutive and each record names the previous record's
  hash (deletion, insertion, reordering);
- each checkpoint's HMAC is valid for (sequence number, chain head, previous
  checkpoint's MAC, declared interval), so a rewritten chain with recomputed
  hashes is caught;
- no stretch between checkpoints is longer than the interval the checkpoint
  before it declared (``DEFAULT_INTERVAL`` before the first one, or for trails
  written before checkpoints declared one);
- a trail that does not start at 1 is covered by a signed retention record;
- the signed head anchor names a record that exists with that hash, so records
  cut off the end (truncation) are caught;
- every record is covered by a signature: a valid checkpoint after it or the
  signed head anchor at or after it. Records after the last of those (a suffix
  appended with a recomputed SHA-256 chain by someone without the key) are
  reported as *unverified* with their sequence range, and so are the ranges a
  writer found unsigned when it reopened the trail (``audit.unproven``: a crash
  between records and head, or records appended by someone else);
- ``audit.tail_truncated`` records that cut acknowledged records are problems.

``ok`` is True only with no problem and nothing unverified. Nothing is
repaired. Unfinished final lines (a writer died mid-write, never acknowledged)
are reported as notes, not problems.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kaizen_perf.audit.chain import HeadAnchor
from kaizen_perf.audit.model import (
    CHECKPOINT,
    GENESIS,
    RETENTION,
    TAIL_TRUNCATED,
    UNPROVEN,
    AuditEntry,
)
from kaizen_perf.audit.signing import Signer
from kaizen_perf.audit.store import AuditStore, Scanned, declared_interval

#: the checkpoint interval enforced where no checkpoint declares one (the writer's default)
DEFAULT_INTERVAL = 256
#: hashes remembered past the head read before the scan (a trail written during verify)
_SUFFIX_HASHES = 1_000_000
_ATTEMPTS = 3  #: scans when a head appears during the first one
#: pauses while waiting for a live writer to anchor the batch a scan ended in (JSON lines
#: writes the head just after the records): a real unsigned suffix costs their sum once
_WAITS = (0.0, 0.01, 0.03, 0.1, 0.3)


@dataclass(frozen=True, slots=True)
class Problem:
    """One integrity problem and where it is."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


@dataclass(frozen=True, slots=True)
class Unverified:
    """Records no signature covers: they may be genuine, but nothing proves it."""

    first_seq: int
    last_seq: int
    reason: str

    def __str__(self) -> str:
        return f"seq {self.first_seq}..{self.last_seq}: {self.reason}"


@dataclass(frozen=True)
class VerifyReport:
    """The result of :func:`verify`: ``ok`` is True when no problem was found and every
    record is covered by a signature."""

    ok: bool
    records: int
    first_seq: int
    last_seq: int
    checkpoints: int
    pruned_through: int
    problems: tuple[Problem, ...]
    notes: tuple[str, ...] = field(default=())
    unverified: tuple[Unverified, ...] = field(default=())


class _Walk:
    """State of one verification pass."""

    def __init__(self, signer: Signer, retention: dict[int, AuditEntry], wanted: set[int],
                 head_seq: int, interval: int) -> None:
        self.signer, self.retention, self.interval = signer, retention, interval
        self.wanted, self.head_seq = wanted, head_seq
        self.problems: list[Problem] = []
        self.notes: list[str] = []
        self.unverified: list[Unverified] = []
        self.seq = 0
        self.hash = GENESIS
        self.ckpt_mac = ""
        self.first = 0
        self.records = self.checkpoints = self.pruned_through = 0
        self.proven = 0  #: the last record a valid signature covers
        self.stretch = 0  #: records since the last checkpoint
        self.declared = 0  #: the interval the last checkpoint declared
        self.hashes: dict[int, str] = {}  #: hashes of the records heads may name

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
            self.pruned_through = self.proven = e.seq - 1
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
        if e.action != CHECKPOINT:
            self.stretch += 1
        self._special(where, e)
        self.seq, self.hash = e.seq, e.hash
        if (e.seq >= self.head_seq or e.seq in self.wanted) and len(self.hashes) < _SUFFIX_HASHES:
            self.hashes[e.seq] = e.hash

    def _special(self, where: str, e: AuditEntry) -> None:
        d: dict[str, Any] = e.details if isinstance(e.details, dict) else {}
        if e.action == CHECKPOINT:
            self.checkpoints += 1
            self._checkpoint(where, e, d)
        elif e.action == UNPROVEN:
            self._unproven(where, e, d)
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
        declared = declared_interval(d)
        parts = (d.get("covers_seq"), d.get("head"), d.get("prev_mac"))
        valid = False
        if d.get("key_id") != self.signer.key_id:
            self.problem(where, f"checkpoint seq {e.seq} was signed with key id "
                         f"{d.get('key_id')}, not with the key given (id {self.signer.key_id})")
        elif not self.signer.check(str(d.get("mac")), "checkpoint", *parts,
                                   *((d["interval"],) if "interval" in d else ())):
            self.problem(where, f"checkpoint seq {e.seq} has an invalid signature")
        else:
            valid = True
        if parts != (e.seq - 1, e.prev_hash, self.ckpt_mac):
            self.problem(where, f"checkpoint seq {e.seq} does not match the chain before it "
                         "(records were rewritten)")
        elif valid:
            self.proven = e.seq
        limit = self.declared or max(self.interval, declared)
        if self.stretch > limit:
            self.problem(where, f"records {e.seq - self.stretch}..{e.seq - 1}: {self.stretch} "
                         f"records without a signed checkpoint, more than the interval "
                         f"({limit}): checkpoints were removed or records inserted")
        self.ckpt_mac, self.declared, self.stretch = str(d.get("mac")), declared, 0

    def _unproven(self, where: str, e: AuditEntry, d: dict[str, Any]) -> None:
        """A writer found the end of the chain unsigned when it reopened the trail."""
        last = d.get("last_seq")
        if not isinstance(last, int):
            self.problem(where, f"record seq {e.seq} (audit.unproven) is malformed")
            return
        proven, why = self.proven, "no signed head anchor was found"
        head = _head_of(d.get("head"))
        if head is not None and not self.signer.check(head.mac, "head", head.seq, head.hash):
            why = f"the head anchor found (seq {head.seq}) was not validly signed"
        elif head is not None and head.seq > last:
            self.problem(where, f"when the trail was reopened it ended at seq {last} but the "
                         f"signed head anchor recorded seq {head.seq}: records "
                         f"{last + 1}..{head.seq} were removed")
        elif head is not None and head.seq > self.pruned_through \
                and self.hashes.get(head.seq) != head.hash:
            self.problem(where, f"record seq {head.seq} differs from the one the signed head "
                         f"anchor recorded when the trail was reopened at seq {e.seq} (rewritten)")
        elif head is not None:
            proven, why = max(proven, head.seq), f"the signed head anchor ended at seq {head.seq}"
        if proven < last:  # reported as unverified: not also as a stretch too long
            self.stretch -= min(self.stretch, last - proven)
            self.unverified.append(Unverified(proven + 1, last, (
                f"found unsigned when the trail was reopened ({why}; record seq {e.seq}): "
                "written just before a crash, or appended by someone without the key")))

    def finish(self, head: HeadAnchor | None, location: str, *, beyond: bool = False) -> None:
        """The end of the trail: the head anchor, the last stretch, the unsigned suffix."""
        where = f"{location} head anchor"
        if head is not None and beyond:
            self.proven = self.seq
            self.notes.append(f"the trail was being written: a signed head at seq {head.seq} "
                              f"is past the end of this scan (seq {self.seq}); records after "
                              "it are for the next verify")
        elif head is None:
            if self.records:
                self.problem(where, "the signed head anchor is missing (deleted?)")
        elif not self.signer.check(head.mac, "head", head.seq, head.hash):
            self.problem(where, f"the head anchor (seq {head.seq}) has an invalid signature")
        elif head.seq > self.seq:
            self.problem(where, f"the trail ends at seq {self.seq} but the signed head records "
                         f"seq {head.seq}: records {self.seq + 1}..{head.seq} were removed")
        elif head.seq > self.pruned_through and self.hashes.get(head.seq) != head.hash:
            self.problem(where, f"record seq {head.seq} differs from the one the signed head "
                         "anchor records (rewritten)")
        else:
            self.proven = max(self.proven, head.seq)
        limit = self.declared or self.interval
        if self.stretch > limit:
            self.problem(where, f"records {self.seq - self.stretch + 1}..{self.seq}: "
                         f"{self.stretch} records after the last signed checkpoint, more than "
                         f"the interval ({limit})")
        if self.records and self.proven < self.seq:
            self.unverified.append(Unverified(self.proven + 1, self.seq, (
                "after the last signed checkpoint and the signed head anchor: appended by "
                "someone without the key (or written just before a crash and never "
                "acknowledged)")))


def _head_of(value: object) -> HeadAnchor | None:
    if not isinstance(value, dict):
        return None
    try:
        return HeadAnchor(int(value["seq"]), str(value["hash"]), str(value["key_id"]),
                          str(value["mac"]))
    except (KeyError, TypeError, ValueError):
        return None


def verify(store: AuditStore, signer: Signer, *,
           interval: int = DEFAULT_INTERVAL) -> VerifyReport:
    """Check the whole trail in ``store`` with ``signer``'s key.

    ``interval`` is the checkpoint interval enforced where no checkpoint declares
    one (trails written by earlier versions, and the stretch before the first
    checkpoint when its writers used a larger one).
    """
    for _ in range(_ATTEMPTS):
        report, settled = _verify_once(store, signer, interval)
        if settled:
            break
    return report


def _verify_once(store: AuditStore, signer: Signer, interval: int) -> tuple[VerifyReport, bool]:
    """One pass; ``settled`` is False when a writer moved the head past what was scanned."""
    specials = _special_records(store.scan())
    retention = {int(e.details["pruned_through_seq"]): e for e in specials
                 if e.action == RETENTION and isinstance(e.details.get("pruned_through_seq"),
                                                         int)}
    wanted = {h.seq for e in specials if e.action == UNPROVEN
              if (h := _head_of(e.details.get("head"))) is not None}
    before = store.head()  # before the scan: a concurrent writer only moves it forward
    # hashes are kept from the head read here on (no head: none, the trail fails anyway)
    walk = _Walk(signer, retention, wanted, before.seq if before else 2**62, interval)
    for item in store.scan():
        _visit(walk, item)
    head, settled, beyond = before, True, False
    if walk.seq > (before.seq if before else 0):  # a suffix past that head: look again
        head, settled, beyond = _later_head(store, signer, before, walk.seq)
    walk.finish(head, store.location, beyond=beyond)
    if not signer.configured:
        walk.notes.append("no audit key configured: checkpoints are signed with a key stored "
                          "beside the trail, which does not stop someone who can read it")
    report = VerifyReport(not walk.problems and not walk.unverified, walk.records, walk.first,
                          walk.seq, walk.checkpoints, walk.pruned_through,
                          tuple(walk.problems), tuple(walk.notes), tuple(walk.unverified))
    return report, settled


def _later_head(store: AuditStore, signer: Signer, before: HeadAnchor | None,
                end: int) -> tuple[HeadAnchor | None, bool, bool]:
    """(head, settled, beyond): a head read again after a scan that ended past ``before``.

    A live writer anchors the batch a scan ended in moments later: wait for a head that
    reaches ``end``. One that stops short leaves the rest unverified; one that passes
    ``end`` (validly signed) covers what was scanned (``beyond``: the records after
    ``end`` are for the next verify; a writer records anything unsigned it finds there
    as ``audit.unproven``). A head that appeared where there was none needs a new scan
    (``settled`` False): only hashes from the first head on were kept.
    """
    head = before
    for pause in _WAITS:
        if pause:
            time.sleep(pause)
        found = store.head()
        if found is None or found == before:
            continue
        if before is None:
            return found, False, False
        head = found
        if found.seq == end:
            return found, True, False
        if found.seq > end and signer.check(found.mac, "head", found.seq, found.hash):
            return found, True, True
    return head, True, False


def _special_records(items: Iterable[Scanned]) -> list[AuditEntry]:
    return [s.entry for s in items if s.entry is not None and not s.ignored
            and s.entry.action in (RETENTION, UNPROVEN) and isinstance(s.entry.details, dict)]


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
