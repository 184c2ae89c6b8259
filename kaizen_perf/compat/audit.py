"""``AuditStorage``, ``FileAuditStorage`` and ``AuditTrailManager`` with Kaizen's API.

``FileAuditStorage`` writes Kaizen's JSON-lines format at Kaizen's path and
modes (file 0o600; a directory it creates 0o700), so files stay readable by
Kaizen and by tools built for it. Differences, all deliberate: an append is
flushed *and fsynced* before it returns, under a lock (appends from several
threads or tasks never interleave), in a worker thread (the event loop never
waits on the disk); naive timestamps are read as UTC instead of raising
``TypeError`` when compared; a value that is not JSON is stored as its ``str()``.

``TrailStorage`` puts the same API on kaizen-perf's durable, hash-chained audit
trail (:mod:`kaizen_perf.audit`: SQLite, JSON-lines segments or PostgreSQL,
checked by ``kaizen-perf audit verify``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from kaizen_perf._ratelimit import RateLimitedLog
from kaizen_perf.compat.types import AuditEntry, AuditResult

logger = logging.getLogger(__name__)
_log = RateLimitedLog(log=logger)
_RESULTS = ("success", "failure", "denied")


class AuditStorage(Protocol):
    """Where audit entries go: append-only, queryable."""

    async def append(self, entry: AuditEntry) -> None:
        """Store ``entry`` (never modified or deleted afterwards)."""

    async def query(self, agent_id: str | None = None, start_time: datetime | None = None,
                    end_time: datetime | None = None, action: str | None = None,
                    user_id: str | None = None,
                    result: AuditResult | None = None) -> list[AuditEntry]:
        """The entries matching every given filter, in the order they were stored."""
        return []


class FileAuditStorage:
    """Audit entries as JSON lines in one file, created (0o600) at construction."""

    _FILE_MODE = 0o600
    _DIR_MODE = 0o700

    def __init__(self, file_path: str | os.PathLike[str] = ".kaizen/audit.jsonl") -> None:
        self.file_path = Path(file_path)
        self._lock = threading.Lock()
        parent = self.file_path.parent
        existed = parent.exists()
        parent.mkdir(parents=True, exist_ok=True)
        if not existed:  # a directory someone else made is not ours to re-permission
            _enforce_mode(parent, self._DIR_MODE)
        if not self.file_path.exists():
            self.file_path.touch(mode=self._FILE_MODE)
        _enforce_mode(self.file_path, self._FILE_MODE)

    async def append(self, entry: AuditEntry) -> None:
        """Append one line; returns once it is on disk (fsynced)."""
        await asyncio.to_thread(self.append_sync, entry)

    def append_sync(self, entry: AuditEntry) -> None:
        """:meth:`append` for synchronous code."""
        line = json.dumps(_aware_entry(entry).to_json_dict(), default=str) + "\n"
        with self._lock, self.file_path.open("a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    async def query(self, agent_id: str | None = None, start_time: datetime | None = None,
                    end_time: datetime | None = None, action: str | None = None,
                    user_id: str | None = None,
                    result: AuditResult | None = None) -> list[AuditEntry]:
        """Entries matching every given (non-empty) filter, in file order; a line that is not
        an entry (damaged, or torn by a crash mid-write) is skipped with a warning."""
        start = None if start_time is None else _aware(start_time)
        end = None if end_time is None else _aware(end_time)

        def keep(e: AuditEntry) -> bool:
            return not ((agent_id and e.agent_id != agent_id)
                        or (start and e.timestamp < start) or (end and e.timestamp > end)
                        or (action and e.action != action) or (user_id and e.user_id != user_id)
                        or (result and e.result != result))
        entries = await asyncio.to_thread(self._read)
        return [e for e in entries if keep(e)]

    async def count(self) -> int:
        """How many non-empty lines the file has."""
        text = await asyncio.to_thread(self.file_path.read_text, "utf-8")
        return sum(1 for line in text.splitlines() if line.strip())

    def get_file_path(self) -> Path:
        """The audit file."""
        return self.file_path

    def _read(self) -> list[AuditEntry]:
        entries = []
        with self.file_path.open(encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    entries.append(_aware_entry(AuditEntry.from_json_dict(json.loads(line))))
                except (ValueError, TypeError, KeyError) as exc:
                    _log(f"audit-line:{self.file_path}", f"Skipping malformed audit entry on "
                         f"line {number} of {str(self.file_path)!r}: {exc}")
        return entries


def _enforce_mode(path: Path, mode: int) -> None:
    current = stat.S_IMODE(path.stat().st_mode)
    if current != mode:
        logger.warning("Audit path %s was %s; setting %s.", path, oct(current), oct(mode))
        path.chmod(mode)


def _aware(ts: datetime) -> datetime:
    """A naive datetime is taken as UTC (comparing naive with aware would raise)."""
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def _aware_entry(entry: AuditEntry) -> AuditEntry:
    if entry.timestamp.tzinfo is not None:
        return entry
    return AuditEntry(**{**entry.__dict__, "timestamp": _aware(entry.timestamp)})


class AuditTrailManager:
    """Records audit entries (timestamped now, UTC) and queries them."""

    def __init__(self, storage: AuditStorage | None = None,
                 canonical_store: object | None = None) -> None:
        self.storage: AuditStorage = storage if storage is not None else FileAuditStorage()
        self._canonical_store = canonical_store

    def entry(self, agent_id: str, action: str, details: dict[str, Any], result: AuditResult,
              user_id: str | None = None, metadata: dict[str, Any] | None = None) -> AuditEntry:
        """The entry :meth:`record` would store (not in Kaizen)."""
        if result not in _RESULTS:
            msg = (f"Audit result {result!r} is not one of 'success', 'failure', 'denied'; "
                   "pass one of those.")
            raise ValueError(msg)
        return AuditEntry(datetime.now(UTC), agent_id, action, details, result, user_id,
                          metadata or {})

    async def record(self, agent_id: str, action: str, details: dict[str, Any],
                     result: AuditResult, user_id: str | None = None,
                     metadata: dict[str, Any] | None = None) -> None:
        """Store one entry; returns once it is durable. Also forwarded to the
        ``canonical_store`` when one was given (its failure is logged, not raised)."""
        await self.storage.append(self.entry(agent_id, action, details, result, user_id,
                                             metadata))
        if self._canonical_store is not None:
            try:
                self._canonical_store.append_sync(  # type: ignore[attr-defined]
                    actor=agent_id, action=action,
                    resource=f"kaizen.observability:{agent_id}",
                    details={"result": str(result), **details, **(metadata or {})})
            except Exception as exc:  # the local record is made; the forward is best effort
                logger.warning("audit.canonical_forward_failed agent_id=%s action=%s "
                               "error_type=%s", agent_id, action, type(exc).__name__)

    async def query_by_agent(self, agent_id: str) -> list[AuditEntry]:
        """Every entry of one agent."""
        return await self.storage.query(agent_id=agent_id)

    async def query_by_action(self, action: str) -> list[AuditEntry]:
        """Every entry of one action."""
        return await self.storage.query(action=action)

    async def query_by_user(self, user_id: str) -> list[AuditEntry]:
        """Every entry of one user."""
        return await self.storage.query(user_id=user_id)

    async def query_by_result(self, result: AuditResult) -> list[AuditEntry]:
        """Every entry with one result (``success``, ``failure``, ``denied``)."""
        return await self.storage.query(result=result)

    async def query_by_timerange(self, start_time: datetime,
                                 end_time: datetime) -> list[AuditEntry]:
        """Every entry from ``start_time`` to ``end_time``, both inclusive."""
        return await self.storage.query(start_time=start_time, end_time=end_time)

    async def query_all(self) -> list[AuditEntry]:
        """Every entry."""
        return await self.storage.query()


class TrailStorage:
    """``AuditStorage`` over a kaizen-perf :class:`~kaizen_perf.audit.AuditTrail`, e.g.
    ``AuditTrailManager(TrailStorage(mon.audit))``; pass a function returning the trail
    (``lambda: mon.audit``) to open it only on first use."""

    def __init__(self, trail: Any | Callable[[], Any]) -> None:
        self._trail = trail

    @property
    def trail(self) -> Any:
        """The kaizen-perf trail."""
        return self._trail if hasattr(self._trail, "draft") else self._trail()

    def _append(self, entry: AuditEntry) -> None:
        trail = self.trail
        unix_ns = int(_aware(entry.timestamp).timestamp() * 1e9)
        draft = trail.draft(entry.action, entry.details, entry.result, entry.user_id,
                            entry.metadata, agent_id=entry.agent_id, unix_ns=unix_ns)
        trail.settle(draft, trail.submit(draft))

    async def append(self, entry: AuditEntry) -> None:
        """Store ``entry``; returns once it is durable (the event loop never waits on fsync)."""
        await asyncio.to_thread(self._append, entry)

    def append_sync(self, entry: AuditEntry) -> None:
        """:meth:`append` for synchronous code."""
        self._append(entry)

    async def query(self, agent_id: str | None = None, start_time: datetime | None = None,
                    end_time: datetime | None = None, action: str | None = None,
                    user_id: str | None = None,
                    result: AuditResult | None = None) -> list[AuditEntry]:
        """The entries matching every given filter, oldest first."""
        rows = await self.trail.aquery(agent_id=agent_id or None, action=action or None,
                                       user_id=user_id or None, result=result or None,
                                       start=start_time, end=end_time)
        return [AuditEntry(r.timestamp, r.agent_id, r.action, r.details, r.result, r.user_id,
                           r.metadata or {}) for r in rows]


__all__ = ["AuditStorage", "AuditTrailManager", "FileAuditStorage", "TrailStorage"]
