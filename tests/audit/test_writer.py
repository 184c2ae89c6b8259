"""Group commit: a deferred acknowledgement is never given before its batch is durable."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from kaizen_perf.audit.chain import Builder, Chainer, ChainState
from kaizen_perf.audit.model import AuditEntry, Draft, format_ts, uuid7
from kaizen_perf.audit.signing import Signer
from kaizen_perf.audit.writer import GroupCommitWriter


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
