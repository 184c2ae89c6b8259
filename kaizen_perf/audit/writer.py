"""Group commit: one writer thread per trail and process, one fsync/COMMIT per batch.

Callers enqueue a draft and wait on its future. The writer thread
(``kaizen-perf-audit``) takes everything queued, asks the store to append it as
one batch, and resolves every future only after the store returned, that is
after fsync/COMMIT. If the store raises, every future of the batch fails: an
entry is never acknowledged unless the write that holds it was durable.
While one batch is being synced, new callers queue up for the next one, so the
cost of an fsync is shared by everyone who arrived during the previous one.

When more entries are already queued as a batch becomes durable, the writer
thread goes straight on to the next batch and acknowledges the durable one
just before the store starts the next fsync/COMMIT (``before_sync``), at the
latest when that append returns or fails. Acknowledging earlier would wake the
callers while the writer still needs the GIL to prepare the next batch: they
would run first and the disk would sit idle; woken just before the sync, they
prepare their next entries while the disk works.

Invariants a change here must keep:

- **One committer at a time.** ``_busy`` is held by whoever appends a batch: the
  writer thread or a leader (:meth:`GroupCommitWriter.lead`). The store would
  serialise concurrent appends anyway (each builder reads the chain head inside
  the store's transaction), but two committers would each pay an fsync for half
  the entries, and a leader's entry could reach the chain before entries queued
  earlier. With one committer the queue fills while a sync runs: that wait *is*
  the group commit.
- **Acknowledged means durable.** A future is resolved only with a record the
  store returned, after its fsync/COMMIT; every path that fails a batch fails all
  of its futures. ``_Acks`` is idempotent because the durable batch may be
  acknowledged from ``before_sync`` and again when the next append returns.
- **Shutdown has a deadline.** :meth:`close` waits for the writer thread at most
  ``timeout_s``; a store that hangs is abandoned (the thread is a daemon), never
  waited for, and callers still waiting get their own ``record_timeout_s``.
- **Fork.** The lock, the queue and the thread belong to the process that made
  them; a child sees a different pid and starts afresh instead of waiting on a
  thread that does not exist in it (or a lock some parent thread held at fork).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, InvalidStateError
from typing import Any

from kaizen_perf._ratelimit import RateLimitedLog
from kaizen_perf.audit.chain import Chainer
from kaizen_perf.audit.model import AuditEntry, Draft
from kaizen_perf.audit.store import AuditStore
from kaizen_perf.errors import AuditStoreError

THREAD_NAME = "kaizen-perf-audit"


class GroupCommitWriter:
    """Queues drafts and commits them in batches on a background thread."""

    def __init__(self, store: AuditStore, chainer: Chainer, *, max_batch: int = 4096,
                 log: RateLimitedLog | None = None) -> None:
        self.store, self.chainer, self.max_batch = store, chainer, max_batch
        self._log = log or RateLimitedLog()
        # Written only by the committer holding _busy, so they need no lock of their own.
        self.batches = 0
        self.failed_batches = 0
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._cond = threading.Condition()
        self._queue: list[tuple[Draft, Future[AuditEntry]]] = []
        self._thread: threading.Thread | None = None
        self._closing = False
        self._busy = False  # a batch is being committed (by the writer thread or a leader)

    def submit(self, draft: Draft) -> Future[AuditEntry]:
        """Queue one draft; the future resolves to its stored record once durable."""
        fut: Future[AuditEntry] = Future()
        if self._pid != os.getpid():
            self._reset()  # forked child: the parent's thread does not exist here
        with self._cond:
            if self._enqueue(draft, fut):
                self._wake_writer()
        return fut

    def lead(self, draft: Draft) -> AuditEntry | None:
        """For a caller that waits anyway: when no batch is in flight, commit ``draft`` (with
        whatever is queued) on the caller's thread and return its record, saving two thread
        hand-offs and a future per entry; None while a batch is in flight (then :meth:`submit`
        joins the writer thread's next group commit). Raises AuditStoreError if the batch
        failed: nothing of it was acknowledged."""
        if self._pid != os.getpid():
            self._reset()
        with self._cond:
            if self._closing:
                raise self._closed()
            if self._busy:
                return None  # a sync is in flight: joining its successor batch is cheaper
            self._busy = True
            # Entries queued before ours go first: the chain keeps submission order.
            queued = self._take() if self._queue else []
        try:
            drafts = [d for d, _ in queued]
            drafts.append(draft)
            try:
                records = self.store.append(self.chainer.builder(drafts))
            except Exception as exc:
                error = self._failed(queued, exc, len(drafts))
                if error is exc:
                    raise
                raise error from exc
            self.batches += 1
            if queued:
                _Acks(queued, records)()
        finally:
            with self._cond:
                self._busy = False
                # Entries that queued behind us (and a pending close) need a committer now:
                # the writer thread may be asleep, having seen _busy when they arrived.
                if self._queue or self._closing:
                    self._wake_writer()
        for record in reversed(records):  # the draft is last, or before a checkpoint
            if record.id == draft.id:
                return record
        raise AuditStoreError(f"The audit store {self.store.location} did not return the "
                              f"record of entry {draft.id}.")

    def _closed(self) -> AuditStoreError:
        return AuditStoreError(
            f"The audit trail at {self.store.location} is closed; entry not recorded.")

    def _enqueue(self, draft: Draft, fut: Future[AuditEntry]) -> bool:
        """Queue a draft (lock held); False, with the future failed, once closing."""
        if self._closing:
            fut.set_exception(self._closed())
            return False
        self._queue.append((draft, fut))
        return True

    def _take(self) -> list[tuple[Draft, Future[AuditEntry]]]:
        # Bounded so one batch's transaction (and the memory it builds) stays bounded
        # under a burst; the rest goes into the next batch straight away.
        items = self._queue[:self.max_batch]
        del self._queue[:self.max_batch]
        return items

    def _wake_writer(self) -> None:
        """Start the writer thread if needed and wake it (lock held)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
            self._thread.start()
        self._cond.notify_all()

    def _run(self) -> None:
        owed: _Acks | None = None  # a durable batch, acknowledged just before the next sync
        holding = False  # this thread set _busy
        while True:
            items = None
            if owed is not None:
                with self._cond:
                    if self._queue:
                        items = self._take()  # still busy: go straight on to the next batch
            if items is None:
                if owed is not None:
                    owed()
                    owed = None
                with self._cond:
                    if holding:
                        self._busy = holding = False
                        self._cond.notify_all()
                    # one committer at a time: wait while a leader's batch is in flight.
                    # Wake for work, or for a close once no leader is committing: a
                    # leader's batch must be in the chain before the closing checkpoint.
                    while (not self._queue or self._busy) and not (self._closing
                                                                   and not self._busy):
                        self._cond.wait()
                    if not self._queue:
                        break  # closing and drained: _finish() writes the last checkpoint
                    self._busy = holding = True
                    items = self._take()
            try:
                owed = self._commit(items, owed, defer=True)
            except BaseException:
                # Release the committer role even when dying, or every later lead() and
                # close() would wait on a batch that no thread will ever finish.
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
                raise
        self._finish()

    def _commit(self, items: list[tuple[Draft, Future[AuditEntry]]],
                owed: _Acks | None = None, *, defer: bool = False) -> _Acks | None:
        """Append one batch; acknowledges ``owed`` before the sync (at the latest on return).
        With ``defer`` (the writer thread) returns this batch's acknowledgements instead of
        settling them: the batch is durable, its callers are woken a moment later."""
        try:
            records = self.store.append(self.chainer.builder([d for d, _ in items]), owed)
        except Exception as exc:  # a store bug must fail the batch, never kill the writer
            self._failed(items, exc, len(items))
            return None
        finally:
            if owed is not None:
                owed()  # durable before this batch began: never left waiting on its outcome
        self.batches += 1
        acks = _Acks(items, records)
        if not defer:
            acks()
            return None
        return acks

    def _failed(self, items: list[tuple[Draft, Future[AuditEntry]]], exc: Exception,
                size: int) -> AuditStoreError:
        """Count and log a failed batch of ``size`` entries and fail the futures of
        ``items``; the error to report."""
        self.failed_batches += 1
        error = exc if isinstance(exc, AuditStoreError) else AuditStoreError(
            f"The audit store {self.store.location} failed: {type(exc).__name__}: {exc}.")
        self._log("audit-write", f"kaizen-perf audit batch of {size} failed: {error}")
        for _, fut in items:
            _settle(fut, error=error)
        return error

    def _finish(self) -> None:
        """Close with a final checkpoint so a clean shutdown ends on a signed record."""
        try:
            self.store.append(self.chainer.builder([], final=True))
        except Exception as exc:
            self._log("audit-close", f"kaizen-perf could not write the closing checkpoint: {exc}")

    def close(self, timeout_s: float) -> bool:
        """Commit what is queued, write a closing checkpoint, stop; False if the deadline hit."""
        with self._cond:
            self._closing = True
            if self._thread is None and (self._queue or self.batches or self._busy):
                # only leaders wrote so far: the writer thread writes the closing checkpoint
                self._wake_writer()
            thread = self._thread
            self._cond.notify_all()
        if thread is not None and self._pid == os.getpid():
            thread.join(timeout_s)
            if thread.is_alive():
                # Deadline hit (a hung disk or database): leave the queue to the thread,
                # which may still make it durable; failing those futures now could deny
                # entries that are about to be committed.
                return False
        # The writer is gone: anything still queued arrived after its last look and can
        # never become durable, so its callers are told now rather than at their timeout.
        self._fail_queued()
        return True

    def _fail_queued(self) -> None:
        with self._cond:
            items, self._queue = self._queue, []
        for _, fut in items:
            _settle(fut, error=AuditStoreError(
                f"The audit trail at {self.store.location} closed before the entry was durable."))


class _Acks:
    """Resolves the futures of one durable batch, once (callable more than once)."""

    def __init__(self, items: list[tuple[Draft, Future[AuditEntry]]],
                 records: Sequence[AuditEntry]) -> None:
        self._items: list[tuple[Draft, Future[AuditEntry]]] | None = items
        self._records = records

    def __call__(self) -> None:
        items, self._items = self._items, None
        if items is None:
            return
        by_id = {r.id: r for r in self._records}
        for draft, fut in items:
            _settle(fut, result=by_id[draft.id])


def _settle(fut: Future[Any], *, result: Any = None, error: BaseException | None = None) -> None:
    try:
        if error is not None:
            fut.set_exception(error)
        else:
            fut.set_result(result)
    except InvalidStateError:
        pass  # the caller gave up on it (cancelled)
