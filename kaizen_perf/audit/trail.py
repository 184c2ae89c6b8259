"""AuditTrail: record (durably), query, verify, export and prune one trail.

``record()`` returns only once the entry is durable. When the store cannot
write, the policy decides: ``deny`` raises :class:`~kaizen_perf.errors.AuditDenied`
(the audited action must not go ahead), ``wait`` retries for up to
``wait_timeout_s`` and then denies, ``degrade`` returns a receipt with
``durable=False``, counts it and logs a rate-limited warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime, timedelta
from typing import IO, Any

from kaizen_perf._ratelimit import RateLimitedLog
from kaizen_perf.audit.chain import Chainer
from kaizen_perf.audit.encode import json_value
from kaizen_perf.audit.export import export_entries
from kaizen_perf.audit.model import (
    RESULTS,
    AuditEntry,
    AuditReceipt,
    Draft,
    Filter,
    format_ts,
    ts_of,
    uuid7,
)
from kaizen_perf.audit.signing import Signer
from kaizen_perf.audit.store import AuditStore
from kaizen_perf.audit.verify import DEFAULT_INTERVAL, VerifyReport, verify
from kaizen_perf.audit.writer import GroupCommitWriter
from kaizen_perf.errors import AuditDenied, AuditStoreError, ConfigError

POLICIES = ("deny", "wait", "degrade")
Redactor = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


class AuditTrail:
    """One tamper-evident audit trail in one store."""

    def __init__(self, store: AuditStore, *, agent_id: str, signer: Signer,
                 policy: str = "deny", redactor: Redactor | None = None,
                 checkpoint_interval: int = 256, record_timeout_s: float = 10.0,
                 wait_timeout_s: float = 30.0, clock: Callable[[], int] = time.time_ns,
                 sleep: Callable[[float], None] = time.sleep,
                 log: RateLimitedLog | None = None) -> None:
        if policy not in POLICIES:
            msg = f"Audit policy {policy!r} is not valid: expected one of deny, wait, degrade."
            raise ConfigError(msg)
        self.store, self.agent_id, self.signer, self.policy = store, agent_id, signer, policy
        self._redact = redactor or _identity
        self._clock, self._sleep = clock, sleep
        self._record_timeout, self._wait_timeout = record_timeout_s, wait_timeout_s
        self._log = log or RateLimitedLog()
        self.chainer = Chainer(signer, agent_id, interval=checkpoint_interval,
                               now_ts=lambda: format_ts(self._clock()))
        self.writer = GroupCommitWriter(store, self.chainer, log=self._log)
        self.failures = 0  #: records the store could not write (any policy)
        self.degraded = 0  #: records given up on under the degrade policy

    @property
    def location(self) -> str:
        """Where the trail lives."""
        return self.store.location

    # -- recording --------------------------------------------------------------------
    def draft(self, action: str, details: Any = None, result: str = "success",
              user_id: str | None = None, metadata: Any = None,
              agent_id: str | None = None, unix_ns: int | None = None) -> Draft:
        """Validate, redact and freeze an entry (on the caller's thread)."""
        if not isinstance(action, str) or not action:
            msg = f"Audit action {action!r} is not valid: expected a non-empty string."
            raise ConfigError(msg)
        if result not in RESULTS:
            msg = f"Audit result {result!r} is not valid: expected success, failure or denied."
            raise ConfigError(msg)
        now = self._clock() if unix_ns is None else unix_ns
        details, details_json = self._clean(details)
        metadata, metadata_json = self._clean(metadata)
        return Draft(uuid7(now), format_ts(now), agent_id or self.agent_id,
                     None if user_id is None else str(user_id), action,
                     details, result, metadata, details_json, metadata_json)

    def _clean(self, value: Any) -> tuple[Any, str]:
        """Redact before hashing, then the stored JSON value and its canonical text (so the
        writer thread never serialises details); never store what the redactor could not
        handle."""
        if value is None:
            return None, "null"
        try:
            return json_value(self._redact(value))
        except Exception as exc:
            self._log("audit-redact", f"kaizen-perf audit redactor failed: {exc!r}")
            return json_value({"redaction_failed": type(exc).__name__})

    def submit(self, draft: Draft) -> Future[AuditEntry]:
        """Queue a draft for the next group commit (the sink uses this)."""
        return self.writer.submit(draft)

    def record(self, action: str, details: Any = None, result: str = "success",
               user_id: str | None = None, metadata: Any = None) -> AuditReceipt:
        """Record one entry; returns once it is durable (or as the policy says)."""
        draft = self.draft(action, details, result, user_id, metadata)
        # The caller blocks until durable anyway, so with no batch in flight it commits on
        # its own thread (no hand-off to the writer and back); with one in flight it joins
        # the next group commit and shares that fsync.
        try:
            entry = self.writer.lead(draft)
        except AuditStoreError as exc:
            return self._on_failure(draft, None, exc)
        if entry is None:  # a batch is in flight: join the next group commit
            return self.settle(draft, self.writer.submit(draft))
        return AuditReceipt(entry.id, entry.seq)

    async def arecord(self, action: str, details: Any = None, result: str = "success",
                      user_id: str | None = None, metadata: Any = None) -> AuditReceipt:
        """:meth:`record` for asyncio code: the event loop never waits on an fsync."""
        draft = self.draft(action, details, result, user_id, metadata)
        fut = self.submit(draft)
        # shield: wait_for cancels what it awaits on timeout, and cancelling the wrapper
        # would cancel the write itself; the policy below decides what a timeout means.
        with contextlib.suppress(AuditStoreError, TimeoutError):
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(fut)),
                                   self._record_timeout)
        if fut.done() and fut.exception() is None:
            return _receipt(fut.result())
        return await asyncio.to_thread(self.settle, draft, fut)

    def settle(self, draft: Draft, fut: Future[AuditEntry]) -> AuditReceipt:
        """Wait for a submitted draft and apply the policy if it was not recorded."""
        try:
            return _receipt(fut.result(timeout=self._record_timeout))
        except (AuditStoreError, TimeoutError) as exc:
            return self._on_failure(draft, fut, exc)

    def _on_failure(self, draft: Draft, fut: Future[AuditEntry] | None,
                    exc: BaseException) -> AuditReceipt:
        """Apply the policy; ``fut`` is the pending or failed write (None: failed already)."""
        self.failures += 1
        if self.policy == "degrade":
            self.degraded += 1
            self._log("audit-degrade", f"kaizen-perf audit entry {draft.action!r} NOT recorded "
                      f"(policy degrade, {self.degraded} so far): {exc}")
            return AuditReceipt(draft.id, -1, durable=False)
        if self.policy == "wait":
            receipt = self._retry(draft, fut)
            if receipt is not None:
                return receipt
        msg = (f"The audit trail at {self.location} could not record {draft.action!r}, so the "
               f"action is denied (policy {self.policy!r}): {exc} Fix the store (free space, "
               "permissions, database) or set KAIZEN_PERF_AUDIT_POLICY=wait or degrade.")
        raise AuditDenied(msg) from exc

    def _retry(self, draft: Draft, fut: Future[AuditEntry] | None) -> AuditReceipt | None:
        """Keep trying until ``wait_timeout_s``; a failed batch is resubmitted, never re-synced."""
        deadline = time.monotonic() + self._wait_timeout
        delay = 0.05
        while (left := deadline - time.monotonic()) > 0:
            # Only a failed write is submitted again. One that timed out may still be
            # committed by the writer, or may have been just after the wait gave up:
            # submitting it again would record the entry twice.
            if fut is None or _failed(fut):  # nothing of it was acknowledged: write anew
                self._sleep(min(delay, left))
                delay = min(delay * 2, 1.0)
                fut = self.submit(draft)
            with contextlib.suppress(AuditStoreError, TimeoutError):
                return _receipt(fut.result(timeout=max(0.0, deadline - time.monotonic())))
        return None

    # -- reading ----------------------------------------------------------------------
    def query(self, *, agent_id: str | None = None, user_id: str | None = None,
              action: str | None = None, result: str | None = None,
              start: datetime | None = None, end: datetime | None = None,
              limit: int | None = None, include_checkpoints: bool = False) -> list[AuditEntry]:
        """Entries matching every given filter, oldest first (the newest ``limit``)."""
        flt = Filter(agent_id, user_id, action, result, None if start is None else ts_of(start),
                     None if end is None else ts_of(end), limit, include_checkpoints)
        return self.store.query(flt)

    async def aquery(self, **filters: Any) -> list[AuditEntry]:
        """:meth:`query` in a worker thread."""
        return await asyncio.to_thread(lambda: self.query(**filters))

    def verify(self, *, interval: int | None = None) -> VerifyReport:
        """Check the whole trail; see :mod:`kaizen_perf.audit.verify`. ``interval`` is the
        checkpoint interval enforced where no checkpoint declares one (default: the larger
        of this trail's and the writer's default)."""
        limit = interval or max(self.chainer.interval, DEFAULT_INTERVAL)
        return verify(self.store, self.signer, interval=limit)

    def export(self, format: str, out: IO[str]) -> int:
        """Write every entry (checkpoints included) as jsonl, json or csv; returns the count."""
        return export_entries(self.store.query(Filter(include_checkpoints=True)), format, out)

    def prune(self, older_than: timedelta | datetime) -> int:
        """Remove entries older than ``older_than`` (an age, or a moment) behind a signed record."""
        if isinstance(older_than, timedelta):
            cutoff = format_ts(self._clock() - int(older_than.total_seconds() * 1e9))
        else:
            cutoff = ts_of(older_than)
        return self.store.prune(cutoff, self.chainer.retention_builder)

    def close(self, timeout_s: float = 5.0) -> bool:
        """Commit what is queued, sign a closing checkpoint, release the store."""
        done = self.writer.close(timeout_s)
        if done:
            # Past the deadline the writer thread may still be inside append(): its
            # connection is left open rather than closed under it.
            self.store.close()
        return done


def _failed(fut: Future[AuditEntry]) -> bool:
    """The write is over and did not succeed (a pending or successful one is not retried)."""
    return fut.done() and (fut.cancelled() or fut.exception() is not None)


def _receipt(entry: AuditEntry) -> AuditReceipt:
    return AuditReceipt(entry.id, entry.seq)
