"""The role every audit store plays (SQLite, JSON lines, PostgreSQL).

A store keeps records and one signed head anchor, and knows nothing about hashes
or keys: :meth:`AuditStore.append` takes a *builder* and calls it while holding
the store's exclusive write lock with the chain state read from disk, so
writers in many threads, processes or hosts extend one chain. ``append`` returns
only once the batch is durable (fsync or COMMIT returned); if it raises, no
record of the batch may be acknowledged.

``before_sync`` (optional) is called once, just before the store starts the
fsync/COMMIT that makes the batch durable, and never after it: the group-commit
writer acknowledges the *previous* (already durable) batch there, so its
callers prepare their next entries while the disk syncs this one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from kaizen_perf.audit.chain import Builder, ChainState, HeadAnchor, PruneBoundary
from kaizen_perf.audit.model import CHECKPOINT, AuditEntry, Filter


@dataclass(frozen=True, slots=True)
class Scanned:
    """One stored record as read back for verification, with where it lives.

    ``entry`` is None when the record cannot be parsed (``error`` says why);
    ``torn`` marks an unfinished final record that the next writer will
    truncate; ``ignored`` marks unacknowledged bytes left behind by a failed
    write that a later ``audit.write_failed`` record disowns.
    """

    location: str
    entry: AuditEntry | None
    error: str | None = None
    torn: bool = False
    ignored: bool = False


class AuditStore(Protocol):
    """Durable, append-only storage of audit records."""

    #: a human-readable name of where the records live (path or URL without password)
    location: str

    def append(self, build: Builder,
               before_sync: Callable[[], None] | None = None) -> Sequence[AuditEntry]:
        """Write the batch ``build`` makes, durably; raise AuditStoreError if it is not."""
        ...

    def scan(self) -> Iterator[Scanned]:
        """Every stored record in sequence order, damaged ones included."""
        ...

    def query(self, flt: Filter) -> list[AuditEntry]:
        """Records matching ``flt`` in sequence order (the newest ``limit`` of them)."""
        ...

    def head(self) -> HeadAnchor | None:
        """The signed head anchor, or None when none was written."""
        ...

    def prune(self, cutoff: str, build: PruneBuild) -> int:
        """Remove whole old records/segments older than ``cutoff``; returns how many."""
        ...

    def close(self) -> None:
        """Release files and connections."""
        ...


class PruneBuild(Protocol):
    """Makes the retention builder once the store knows what it will remove."""

    def __call__(self, boundary: PruneBoundary) -> Builder: ...


def boundary_state(entries: Sequence[AuditEntry], start: ChainState) -> ChainState:
    """Chain state after ``entries`` (used by stores replaying what they read)."""
    state = start
    for e in entries:
        state = advance(state, e)
    return state


def advance(state: ChainState, e: AuditEntry) -> ChainState:
    """Chain state after one more record."""
    if e.action == CHECKPOINT and isinstance(e.details, dict):
        return ChainState(e.seq, e.hash, e.seq, str(e.details.get("mac", "")),
                          declared_interval(e.details))
    return ChainState(e.seq, e.hash, state.ckpt_seq, state.ckpt_mac, state.ckpt_interval)


def declared_interval(details: dict[str, object]) -> int:
    """The checkpoint interval a checkpoint's details declare (0 for none or nonsense)."""
    value = details.get("interval")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
