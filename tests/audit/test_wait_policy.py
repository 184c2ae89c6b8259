"""The wait policy never records an entry twice: a write that completed late is not resubmitted."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from kaizen_perf.audit import AuditTrail
from kaizen_perf.audit.model import AuditEntry


class _LateFuture(Future[AuditEntry]):
    """A durable write whose first wait timed out a moment before it completed."""

    def __init__(self, entry: AuditEntry) -> None:
        super().__init__()
        self.set_result(entry)
        self._late = True

    def result(self, timeout: float | None = None) -> AuditEntry:
        if self._late:
            self._late = False
            raise TimeoutError
        return super().result(timeout)


def test_a_write_that_completes_after_its_timeout_is_not_written_again(
        url_for: Callable[[str], str], make_trail: Callable[..., AuditTrail]) -> None:
    """Under policy wait, an entry acknowledged just after record's timeout is stored once."""
    trail = make_trail(url_for("sqlite"), policy="wait", wait_timeout_s=5.0)
    draft = trail.draft("tool_execute", {"tool": "bash"})
    entry = trail.submit(draft).result(timeout=30)
    receipt = trail.settle(draft, _LateFuture(entry))
    assert (receipt.id, receipt.seq, receipt.durable) == (draft.id, entry.seq, True)
    stored: list[Any] = [e for e in trail.query() if e.id == draft.id]
    assert len(stored) == 1 and trail.failures == 1
