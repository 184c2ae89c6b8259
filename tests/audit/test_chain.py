"""The chain builder on its own: where checkpoints go, what incidents and retention records say.

An in-memory store applies each builder the way the real stores do (under the "lock", with
the state on disk), and ``verify`` checks the result with the writer's interval, so a
checkpoint one record late, an incident recorded as a success or a retention batch without
its closing checkpoint fails here in milliseconds instead of only through a database.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import FrozenInstanceError, fields, replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaizen_perf.audit.chain import (
    Batch,
    Builder,
    Chainer,
    ChainState,
    HeadAnchor,
    Incident,
    PruneBoundary,
    unproven,
)
from kaizen_perf.audit.model import (
    CHECKPOINT,
    GENESIS,
    RETENTION,
    TAIL_TRUNCATED,
    UNPROVEN,
    WRITE_FAILED,
    AuditEntry,
    Draft,
    format_ts,
    uuid7,
)
from kaizen_perf.audit.signing import Signer
from kaizen_perf.audit.store import Scanned, boundary_state
from kaizen_perf.audit.verify import verify

SIGNER = Signer(b"chain-test-key-0123456789")
TS = format_ts(1_700_000_000_000_000_000)


class MemoryStore:
    """Keeps records and the signed head in lists; applies builders like a store under lock."""

    location = "memory://chain"

    def __init__(self) -> None:
        self.records: list[AuditEntry] = []
        self.state = ChainState()
        self.head_anchor: HeadAnchor | None = None
        self.pending: list[Incident] = []

    def apply(self, build: Builder) -> Batch:
        batch = build(self.state, tuple(self.pending))
        self.pending = []
        self.records += batch.records
        self.state, self.head_anchor = batch.state, batch.head
        return batch

    def scan(self) -> Iterator[Scanned]:
        return iter([Scanned(f"seq {e.seq}", e) for e in self.records])

    def head(self) -> HeadAnchor | None:
        return self.head_anchor


def drafts(n: int, start: int = 0) -> list[Draft]:
    """``n`` user entries."""
    return [Draft(uuid7(), TS, "agent-1", "u", "step", {"i": start + i}, "success", None)
            for i in range(n)]


def chainer(interval: int) -> Chainer:
    """A chainer with the test key and a fixed clock."""
    return Chainer(SIGNER, "agent-1", interval=interval, now_ts=lambda: TS)


def expected_actions(state: ChainState, interval: int, items: Sequence[str],
                     final: bool) -> list[str]:
    """The reference rule: a checkpoint as soon as a stretch reaches the interval in force
    (the smaller of the declared one and ours), and one at the end of a final batch."""
    seq, ckpt = state.seq, state.ckpt_seq
    limit = min(state.ckpt_interval, interval) if state.ckpt_interval > 0 else interval
    out: list[str] = []
    for action in items:
        seq += 1
        out.append(action)
        if seq - ckpt >= limit:
            seq += 1
            out.append(CHECKPOINT)
            ckpt, limit = seq, interval
    if final and seq > ckpt:
        out.append(CHECKPOINT)
    return out


def check_links(records: Sequence[AuditEntry], state: ChainState) -> None:
    """Consecutive sequence numbers, each record naming the previous hash, hashes valid."""
    seq, prev = state.seq, state.hash
    for e in records:
        assert (e.seq, e.prev_hash, e.hash) == (seq + 1, prev, e.compute_hash())
        seq, prev = e.seq, e.hash


def check_checkpoints(records: Sequence[AuditEntry], state: ChainState, interval: int) -> None:
    """Every checkpoint covers the record before it, chains the previous MAC, declares our
    interval and is signed over exactly that."""
    prev_mac, prev = state.ckpt_mac, state
    for e in records:
        if e.action == CHECKPOINT:
            d = e.details
            assert d == {"covers_seq": e.seq - 1, "head": e.prev_hash, "prev_mac": prev_mac,
                         "interval": interval, "key_id": SIGNER.key_id, "mac": d["mac"]}
            assert SIGNER.check(d["mac"], "checkpoint", e.seq - 1, e.prev_hash, prev_mac,
                                interval)
            assert (e.result, e.agent_id, e.user_id, e.metadata, e.ts) == (
                "success", "agent-1", None, None, TS)
            prev_mac = d["mac"]
        prev = boundary_state([e], prev)


# a batch: (chainer interval, incidents found by the store, user entries, final)
BATCH = st.tuples(st.integers(1, 5), st.integers(0, 2), st.integers(0, 9), st.booleans())


@given(st.lists(BATCH, min_size=1, max_size=6))
def test_checkpoints_land_exactly_at_the_interval_and_the_trail_verifies(
        batches: list[tuple[int, int, int, bool]]) -> None:
    """Across batches from writers with different intervals, a checkpoint follows exactly the
    record that fills the interval in force, a final batch ends signed, the state a builder
    hands back is the one a store replaying the records computes, and verify finds nothing."""
    store = MemoryStore()
    for n, (interval, incidents, users, final) in enumerate(batches):
        store.pending = [Incident(WRITE_FAILED, {"batch": n, "k": k}) for k in range(incidents)]
        before = store.state
        batch = store.apply(chainer(interval).builder(drafts(users, 100 * n), final=final))
        items = [WRITE_FAILED] * incidents + ["step"] * users
        assert [e.action for e in batch.records] == expected_actions(before, interval, items,
                                                                     final)
        check_links(batch.records, before)
        check_checkpoints(batch.records, before, interval)
        assert batch.state == boundary_state(batch.records, before)
        assert [s.entry for s in batch.sealed] == batch.records
        assert batch.head == chainer(interval).head(batch.state)
        if final and batch.records:
            assert batch.records[-1].action == CHECKPOINT
    report = verify(store, SIGNER, interval=max(b[0] for b in batches))  # type: ignore[arg-type]
    assert report.ok, report.problems
    assert report.checkpoints == sum(e.action == CHECKPOINT for e in store.records)


@pytest.mark.parametrize(("interval", "users", "checkpoints_at"), [
    (1, 3, [2, 4, 6]), (3, 2, []), (3, 3, [4]), (3, 6, [4, 8]), (3, 7, [4, 8])])
def test_a_checkpoint_follows_the_record_that_fills_the_interval(
        interval: int, users: int, checkpoints_at: list[int]) -> None:
    """With interval N, records 1..N are followed by the checkpoint at N+1 (not one record
    later, not one earlier)."""
    batch = chainer(interval).builder(drafts(users))(ChainState(), ())
    assert [e.seq for e in batch.records if e.action == CHECKPOINT] == checkpoints_at


def test_a_final_batch_after_a_checkpoint_adds_no_second_one() -> None:
    """Closing a trail whose last record is already a checkpoint signs nothing new."""
    batch = chainer(2).builder(drafts(2), final=True)(ChainState(), ())
    assert [e.action for e in batch.records] == ["step", "step", CHECKPOINT]
    empty = chainer(2).builder([], final=True)(batch.state, ())
    assert empty.records == []
    assert empty.state is batch.state


def test_a_declared_interval_smaller_than_ours_is_kept() -> None:
    """A writer configured with a larger interval still checkpoints within the interval the
    last checkpoint declared; a larger declared one does not stretch ours."""
    first = chainer(2).builder(drafts(2))(ChainState(), ())
    assert first.state.ckpt_interval == 2
    wide = chainer(10).builder(drafts(3))(first.state, ())
    assert [e.action for e in wide.records] == ["step", "step", CHECKPOINT, "step"]
    assert wide.state.ckpt_interval == 10
    narrow = chainer(1).builder(drafts(1))(ChainState(3, "h" * 64, 3, "m", 10), ())
    assert [e.action for e in narrow.records] == ["step", CHECKPOINT]


def test_incidents_come_first_and_are_recorded_as_failures() -> None:
    """What a store found about itself is written before the batch's entries, as a failure
    by the trail's agent, with its details unchanged."""
    found = [Incident(TAIL_TRUNCATED, {"bytes": 7}), Incident(UNPROVEN, {"last_seq": 0})]
    batch = chainer(50).builder(drafts(1))(ChainState(), found)
    assert [(e.action, e.result, e.details, e.agent_id, e.user_id, e.metadata, e.ts)
            for e in batch.records[:2]] == [
        (TAIL_TRUNCATED, "failure", {"bytes": 7}, "agent-1", None, None, TS),
        (UNPROVEN, "failure", {"last_seq": 0}, "agent-1", None, None, TS)]
    assert [e.result for e in batch.records[2:]] == ["success"]
    assert len({e.id for e in batch.records}) == 3


def test_an_unknown_incident_action_is_refused() -> None:
    """Only the trail's own incident kinds may be written as incidents."""
    with pytest.raises(AssertionError):
        chainer(5).builder([])(ChainState(), [Incident("step", {})])


def boundary_of(records: Sequence[AuditEntry], through: int, cutoff: str) -> PruneBoundary:
    """What a store computes for a prune through seq ``through``."""
    state = boundary_state([e for e in records if e.seq <= through], ChainState())
    return PruneBoundary(through, state.hash, state.ckpt_mac, through, cutoff)


@pytest.mark.parametrize(("interval", "written", "through", "incidents"),
                         list(itertools.product([1, 2, 3, 8], [0, 1, 2, 3, 5, 7],
                                                [1, 3], [0, 1, 2])))
def test_a_retention_batch_is_signed_closed_and_keeps_within_the_interval(
        interval: int, written: int, through: int, incidents: int) -> None:
    """A retention batch writes the store's incidents (as failures), the signed retention
    record, and a closing checkpoint; a checkpoint goes before a record exactly when that
    record would stretch past the interval (several incidents with a small interval too);
    the pruned trail verifies."""
    store = MemoryStore()
    store.apply(chainer(interval).builder(drafts(max(written, through))))
    boundary = boundary_of(store.records, through, "2030-01-01T00:00:00.000000Z")
    store.pending = [Incident(WRITE_FAILED, {"k": k}) for k in range(incidents)]
    before = store.state
    batch = store.apply(chainer(interval).retention_builder(boundary))
    stretch, expected = before.seq - before.ckpt_seq, []
    for action in [*[WRITE_FAILED] * incidents, RETENTION]:
        if stretch + 1 > interval:
            expected.append(CHECKPOINT)
            stretch = 0
        expected.append(action)
        stretch += 1
    assert [e.action for e in batch.records] == [*expected, CHECKPOINT]
    assert [e.result for e in batch.records if e.action == WRITE_FAILED] == \
        ["failure"] * incidents
    check_links(batch.records, before)
    check_checkpoints(batch.records, before, interval)
    assert batch.state == boundary_state(batch.records, before)
    assert batch.state.ckpt_seq == batch.state.seq
    ret = next(e for e in batch.records if e.action == RETENTION)
    assert ret.result == "success"
    assert ret.details == {"pruned_through_seq": through, "anchor_hash": boundary.hash,
                           "ckpt_mac": boundary.ckpt_mac, "records": through,
                           "cutoff": boundary.cutoff, "key_id": SIGNER.key_id,
                           "mac": SIGNER.mac("retention", through, boundary.hash,
                                             boundary.ckpt_mac, through, boundary.cutoff)}
    store.records = [e for e in store.records if e.seq > through]
    report = verify(store, SIGNER, interval=interval)
    assert report.ok, report.problems
    assert report.pruned_through == through


def test_verify_catches_a_checkpoint_one_record_late() -> None:
    """The interval verify enforces is the one the builder keeps: one more record is a
    problem (so the two cannot drift apart together)."""
    store = MemoryStore()
    store.apply(chainer(3).builder(drafts(3)))
    # a writer that ignores the declared interval checkpoints after 4 records, not 3
    late = chainer(4).builder(drafts(4))(replace(store.state, ckpt_interval=0), ())
    assert [e.action for e in late.records][-1] == CHECKPOINT
    store.records += late.records
    store.head_anchor = late.head
    report = verify(store, SIGNER, interval=3)
    assert not report.ok
    assert any("more than the interval (3)" in p.message for p in report.problems)


def test_the_head_anchor_signs_the_last_record() -> None:
    """A batch's head names its last record's sequence number and hash, signed."""
    batch = chainer(4).builder(drafts(2))(ChainState(), ())
    head = batch.head
    assert (head.seq, head.hash, head.key_id) == (2, batch.records[-1].hash, SIGNER.key_id)
    assert SIGNER.check(head.mac, "head", 2, batch.records[-1].hash)
    assert head.to_dict() == {"seq": 2, "hash": head.hash, "key_id": SIGNER.key_id,
                              "mac": head.mac}


def test_an_empty_trail_starts_at_genesis_with_the_default_interval() -> None:
    """The empty chain is seq 0 at the genesis hash with no checkpoint; the default interval
    is the one verify enforces."""
    assert (ChainState().seq, ChainState().hash, ChainState().ckpt_seq, ChainState().ckpt_mac,
            ChainState().ckpt_interval) == (0, GENESIS, 0, "", 0)
    assert Chainer(SIGNER, "a", now_ts=lambda: TS).interval == 256
    batch = Chainer(SIGNER, "a", now_ts=lambda: TS).builder(drafts(256))(ChainState(), ())
    assert [e.seq for e in batch.records if e.action == CHECKPOINT] == [257]
    with pytest.raises(FrozenInstanceError):
        ChainState().seq = 1  # type: ignore[misc]


def test_chain_values_are_frozen_and_slotted() -> None:
    """States, heads, incidents and prune boundaries are made per batch and shared across
    threads: immutable, and without a per-instance dict."""
    values = [ChainState(), _head(1), Incident(UNPROVEN, {}), PruneBoundary(1, "h", "", 1, "c")]
    for value in values:
        assert not hasattr(value, "__dict__"), type(value).__name__
        with pytest.raises(FrozenInstanceError):
            setattr(value, fields(value)[0].name, None)


def _state(seq: int, h: str = "a" * 64) -> ChainState:
    return ChainState(seq, h, 0, "", 0)


def _head(seq: int, h: str = "a" * 64) -> HeadAnchor:
    return HeadAnchor(seq, h, SIGNER.key_id, SIGNER.mac("head", seq, h))


@pytest.mark.parametrize(("state", "head", "matches"), [
    (_state(0, GENESIS), None, True),
    (_state(1), None, False),
    (_state(3), _head(3), True),
    (_state(3), _head(2), False),
    (_state(3), _head(4), False),
    (_state(3), _head(3, "b" * 64), False),
    (_state(0, GENESIS), _head(0, GENESIS), True),
])
def test_unproven_is_recorded_only_when_the_end_differs_from_the_signed_head(
        state: ChainState, head: HeadAnchor | None, matches: bool) -> None:
    """No incident when the chain ends where the head says (or both are empty); otherwise
    one naming the end found and the head found."""
    incident = unproven(state, head)
    if matches:
        assert incident is None
        return
    assert incident is not None
    expected: dict[str, Any] = {"last_seq": state.seq, "last_hash": state.hash,
                                "head": None if head is None else head.to_dict()}
    assert (incident.action, incident.details) == (UNPROVEN, expected)
