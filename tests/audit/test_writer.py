"""Group commit: a deferred acknowledgement is never given before its batch is durable."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future

import pytest

from kaizen_perf.audit.chain import Builder, Chainer, ChainState
from kaizen_perf.audit.model import AuditEntry, Draft, format_ts, uuid7
from kaizen_perf.audit.signing import Signer
from kaizen_perf.audit.writer import GroupCommitWriter
from kaizen_perf.errors import AuditStoreError


class _SlowStore:
    """Appends in memory; 'durable' only once append returns (after a pause)."""

    location = "memory://slow"

    def __init__(self) -> None:
        self.state = ChainState()
        self.durable: set[str] = set()
        self.early: list[str] = []  # ids whose future resolved before their batch was durable
        self.hooks = 0
        self.futures: dict[str, Future[AuditEntry]] = {}

    def append(self, build: Builder,
               before_sync: Callable[[], None] | None = None) -> Sequence[AuditEntry]:
        batch = build(self.state, ())
        if before_sync is not None:
            self.hooks += 1
            before_sync()
        time.sleep(0.002)  # the "fsync"
        ids = {e.id for e in batch.records}
        self.early += [i for i in ids if i in self.futures and self.futures[i].done()]
        self.durable |= ids
        self.state = batch.state
        return batch.records


def test_acknowledgements_come_after_durability_and_overlap_the_next_sync() -> None:
    store = _SlowStore()
    chainer = Chainer(Signer(b"k" * 32), "a", interval=1000, now_ts=lambda: format_ts(0))
    writer = GroupCommitWriter(store, chainer)  # type: ignore[arg-type]
    acked: list[tuple[str, bool]] = []
    lock = threading.Lock()

    def work() -> None:
        for i in range(40):
            draft = Draft(uuid7(), format_ts(i), "a", None, "step", {"i": i}, "success", None)
            fut = writer.submit(draft)
            store.futures[draft.id] = fut
            entry = fut.result(timeout=10)
            with lock:
                acked.append((entry.id, entry.id in store.durable))
    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert writer.close(5.0)
    assert len(acked) == 320
    assert all(durable for _, durable in acked), "an entry was acknowledged before its sync"
    assert not store.early
    assert store.hooks > 0  # batches did overlap: acknowledgements moved before a later sync


def _draft(i: int) -> Draft:
    return Draft(uuid7(), format_ts(i), "a", None, "step", {"i": i}, "success", None)


class _GatedStore(_SlowStore):
    """The first append fails with a store bug when ``fail`` is set; every append waits
    for ``gate`` once ``entered`` is set, so a test can hold a batch in flight."""

    location = "memory://gated"

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.fail = fail
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.gate.set()

    def append(self, build: Builder,
               before_sync: Callable[[], None] | None = None) -> Sequence[AuditEntry]:
        self.entered.set()
        self.gate.wait(10)
        if self.fail:
            self.fail = False
            raise RuntimeError("disk on fire")
        return super().append(build, before_sync)


def _writer(store: _SlowStore) -> GroupCommitWriter:
    chainer = Chainer(Signer(b"k" * 32), "a", interval=1000, now_ts=lambda: format_ts(0))
    return GroupCommitWriter(store, chainer)  # type: ignore[arg-type]


def test_a_leader_whose_batch_fails_gets_an_audit_error_and_the_next_leader_commits() -> None:
    writer = _writer(_GatedStore(fail=True))
    with pytest.raises(AuditStoreError, match=r"memory://gated failed: RuntimeError: disk on"):
        writer.lead(_draft(0))
    assert writer.failed_batches == 1
    draft = _draft(1)
    entry = writer.lead(draft)
    assert entry is not None and (entry.id, entry.seq) == (draft.id, 1)
    assert writer.close(5.0)


def test_lead_stands_aside_while_a_batch_is_in_flight_and_submit_joins_the_next() -> None:
    store = _GatedStore()
    writer = _writer(store)
    store.gate.clear()
    first, second = _draft(0), _draft(1)
    led: list[AuditEntry | None] = []
    leader = threading.Thread(target=lambda: led.append(writer.lead(first)))
    leader.start()
    assert store.entered.wait(5)
    assert writer.lead(second) is None  # one batch at a time: this caller must queue
    fut = writer.submit(second)
    store.gate.set()
    leader.join(5)
    assert led[0] is not None and led[0].seq == 1
    assert fut.result(timeout=5).seq == 2
    assert writer.close(5.0)
