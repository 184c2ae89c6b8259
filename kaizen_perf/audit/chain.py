"""Chaining a batch of drafts onto the trail, with signed checkpoints and retention records.

Stores call the builder while they hold their exclusive write lock, with the
chain state they read from disk, so several processes (or hosts, with
PostgreSQL) extend one chain. Every ``interval`` records a checkpoint record is
added: HMAC over (sequence number, chain head, previous checkpoint's MAC), so
rewriting history needs the key, not just a SHA-256 loop. Each batch also
yields a signed *head anchor* (last sequence number and hash) that the store
keeps beside the records, so cutting records off the end is detected too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from kaizen_perf.audit.encode import Sealed, seal
from kaizen_perf.audit.model import (
    CHECKPOINT,
    GENESIS,
    RETENTION,
    TAIL_TRUNCATED,
    UNPROVEN,
    WRITE_FAILED,
    AuditEntry,
    Draft,
    uuid7,
)
from kaizen_perf.audit.signing import Signer


@dataclass(frozen=True, slots=True)
class ChainState:
    """The end of the chain: last record, last checkpoint (and the interval it declared)."""

    seq: int = 0
    hash: str = GENESIS
    ckpt_seq: int = 0
    ckpt_mac: str = ""
    #: the checkpoint interval the last checkpoint declared (0: none declared): the next
    #: checkpoint is due within that many records, whichever writer adds them
    ckpt_interval: int = 0


@dataclass(frozen=True, slots=True)
class HeadAnchor:
    """Signed (sequence number, hash) of the newest durable record."""

    seq: int
    hash: str
    key_id: str
    mac: str

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"seq": self.seq, "hash": self.hash, "key_id": self.key_id, "mac": self.mac}


@dataclass(frozen=True, slots=True)
class Incident:
    """Something a store found or suffered that the trail must record about itself."""

    action: str  # TAIL_TRUNCATED, WRITE_FAILED or UNPROVEN
    details: dict[str, Any]


def unproven(state: ChainState, head: HeadAnchor | None) -> Incident | None:
    """The incident to record when the end of the chain on disk is not the one the signed head
    anchor names (None when it is).

    Every batch updates the head with its records (in one transaction, or under the JSON-lines
    lock), so a mismatch means records were appended, cut or rewritten by someone who did not
    sign a head (a forger without the key), or a crash came between the records and the head.
    The writer cannot tell which; it records what it found instead of signing over it, and
    ``verify`` reports the records no signature covers as unverified.
    """
    if head is None:
        if state.seq == 0:
            return None
    elif head.seq == state.seq and head.hash == state.hash:
        return None
    return Incident(UNPROVEN, {"last_seq": state.seq, "last_hash": state.hash,
                               "head": None if head is None else head.to_dict()})


class Batch(NamedTuple):
    """What a builder hands back to the store to write (``sealed[i].entry is records[i]``)."""

    records: list[AuditEntry]
    state: ChainState
    head: HeadAnchor
    sealed: list[Sealed]


#: called by a store under its write lock: (state on disk, incidents) -> batch
Builder = Callable[[ChainState, Sequence[Incident]], Batch]


@dataclass(frozen=True, slots=True)
class PruneBoundary:
    """The last record a prune removes, and the checkpoint MAC in force there."""

    seq: int
    hash: str
    ckpt_mac: str
    count: int
    cutoff: str


class Chainer:
    """Builds batches for one trail (agent id, signer, checkpoint interval, clock)."""

    def __init__(self, signer: Signer, agent_id: str, *, interval: int = 256,
                 now_ts: Callable[[], str]) -> None:
        self.signer, self.agent_id, self.interval, self._now = signer, agent_id, interval, now_ts

    def builder(self, drafts: Sequence[Draft], *, final: bool = False) -> Builder:
        """A builder appending ``drafts`` (and a closing checkpoint when ``final``)."""
        def build(state: ChainState, incidents: Sequence[Incident]) -> Batch:
            records: list[Sealed] = []
            seq, prev, due = state.seq, state.hash, state.ckpt_seq + self._due(state)
            for draft in [*map(self._incident_draft, incidents), *drafts] if incidents else drafts:
                seq += 1
                sealed = seal(draft, seq, prev)
                records.append(sealed)
                prev = sealed.entry.hash
                if seq >= due:
                    state = self._checkpoint(records, self._end(state, seq, prev))
                    seq, prev, due = state.seq, state.hash, state.seq + self.interval
            state = self._end(state, seq, prev)
            if final and state.seq > state.ckpt_seq:
                state = self._checkpoint(records, state)
            return self._batch(records, state)
        return build

    def retention_builder(self, boundary: PruneBoundary) -> Builder:
        """A builder for the signed record that stands in for pruned records."""
        def build(state: ChainState, incidents: Sequence[Incident]) -> Batch:
            records: list[Sealed] = []
            b = boundary
            mac = self.signer.mac("retention", b.seq, b.hash, b.ckpt_mac, b.count, b.cutoff)
            details = {"pruned_through_seq": b.seq, "anchor_hash": b.hash,
                       "ckpt_mac": b.ckpt_mac, "records": b.count, "cutoff": b.cutoff,
                       "key_id": self.signer.key_id, "mac": mac}
            for draft in [*map(self._incident_draft, incidents), self._system(RETENTION, details)]:
                # record by record: incidents and the retention record together may be more
                # than a small interval, and verify rejects any stretch longer than it
                if state.seq - state.ckpt_seq + 1 > self._due(state):
                    state = self._checkpoint(records, state)
                state = self._add(records, state, draft)
            state = self._checkpoint(records, state)
            return self._batch(records, state)
        return build

    def head(self, state: ChainState) -> HeadAnchor:
        """The signed head anchor for ``state``."""
        return HeadAnchor(state.seq, state.hash, self.signer.key_id,
                          self.signer.mac("head", state.seq, state.hash))

    # -- internals ------------------------------------------------------------------------
    def _due(self, state: ChainState) -> int:
        """Records allowed after the last checkpoint: the interval that checkpoint declared
        (so writers with different settings still keep every stretch within it), or ours."""
        declared = state.ckpt_interval
        return min(declared, self.interval) if declared > 0 else self.interval

    def _batch(self, records: list[Sealed], state: ChainState) -> Batch:
        return Batch([s.entry for s in records], state, self.head(state), records)

    @staticmethod
    def _end(state: ChainState, seq: int, prev: str) -> ChainState:
        """``state`` moved on to record ``seq`` with hash ``prev`` (the same object if not)."""
        return state if seq == state.seq else ChainState(seq, prev, state.ckpt_seq,
                                                          state.ckpt_mac, state.ckpt_interval)

    def _add(self, records: list[Sealed], state: ChainState, draft: Draft) -> ChainState:
        sealed = seal(draft, state.seq + 1, state.hash)
        records.append(sealed)
        return ChainState(sealed.entry.seq, sealed.entry.hash, state.ckpt_seq, state.ckpt_mac,
                          state.ckpt_interval)

    def _checkpoint(self, records: list[Sealed], state: ChainState) -> ChainState:
        # the declared interval is signed with the rest: verify enforces it for the stretch
        # that follows, and nobody without the key can widen it
        mac = self.signer.mac("checkpoint", state.seq, state.hash, state.ckpt_mac, self.interval)
        details = {"covers_seq": state.seq, "head": state.hash, "prev_mac": state.ckpt_mac,
                   "interval": self.interval, "key_id": self.signer.key_id, "mac": mac}
        new = self._add(records, state, self._system(CHECKPOINT, details))
        return ChainState(new.seq, new.hash, new.seq, mac, self.interval)

    def _incident_draft(self, incident: Incident) -> Draft:
        assert incident.action in (TAIL_TRUNCATED, WRITE_FAILED, UNPROVEN)
        return self._system(incident.action, incident.details, result="failure")

    def _system(self, action: str, details: dict[str, Any], result: str = "success") -> Draft:
        ts = self._now()
        return Draft(uuid7(), ts, self.agent_id, None, action, details, result, None)
