"""``AuditTrailManager`` over an ``AuditStorage``; ``FileAuditStorage`` keeps JSON lines.

Unlike the original sketch, an append is durable when it returns (flushed and
fsynced: the audit trail must lose nothing) and appends from several tasks or
threads never interleave. Blocking file work runs in a worker thread so the event
loop is not held up.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from kaizen_perf.compat.types import AuditEntry, AuditResult
from kaizen_perf.errors import AuditStoreError


class AuditStorage(Protocol):
    """Where audit entries go: append-only, queryable."""

    async def append(self, entry: AuditEntry) -> None:
        """Store ``entry`` durably."""

    async def query(self, agent_id: str | None = None, start_time: datetime | None = None,
                    end_time: datetime | None = None,
                    action: str | None = None) -> list[AuditEntry]:
        """The entries matching every given filter, oldest first."""


class FileAuditStorage:
    """Audit entries as JSON lines in one file (created with its directory on first append)."""

    def __init__(self, file_path: str | os.PathLike[str] = ".kaizen/audit.jsonl") -> None:
        self.file_path = Path(file_path)
        self._lock = threading.Lock()

    async def append(self, entry: AuditEntry) -> None:
        await asyncio.to_thread(self.append_sync, entry)

    def append_sync(self, entry: AuditEntry) -> None:
        """:meth:`append` for synchronous code."""
        line = json.dumps(entry.to_json_dict(), default=str, ensure_ascii=False) + "\n"
        try:
            with self._lock:
                self.file_path.parent.mkdir(parents=True, exist_ok=True)
                with self.file_path.open("a", encoding="utf-8") as f:
                    f.write(line)
                    f.flush()
                    os.fsync(f.fileno())
        except OSError as exc:
            msg = (f"Cannot append to the audit file {str(self.file_path)!r}: {exc.strerror}. "
                   "Check that its directory exists and is writable.")
            raise AuditStoreError(msg) from exc

    async def query(self, agent_id: str | None = None, start_time: datetime | None = None,
                    end_time: datetime | None = None,
                    action: str | None = None) -> list[AuditEntry]:
        return await asyncio.to_thread(self._query, agent_id, start_time, end_time, action)

    def _query(self, agent_id: str | None, start: datetime | None, end: datetime | None,
               action: str | None) -> list[AuditEntry]:
        out = []
        for entry in self._read():
            if agent_id is not None and entry.agent_id != agent_id:
                continue
            if action is not None and entry.action != action:
                continue
            if start is not None and entry.timestamp < _aware(start):
                continue
            if end is not None and entry.timestamp > _aware(end):
                continue
            out.append(entry)
        return out

    def _read(self) -> list[AuditEntry]:
        try:
            text = self.file_path.read_text("utf-8")
        except FileNotFoundError:
            return []
        except OSError as exc:
            msg = f"Cannot read the audit file {str(self.file_path)!r}: {exc.strerror}."
            raise AuditStoreError(msg) from exc
        entries = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                entries.append(_aware_entry(AuditEntry.from_json_dict(json.loads(line))))
            except (ValueError, TypeError, KeyError) as exc:
                if number == len(text.splitlines()) and not text.endswith("\n"):
                    break  # a torn last line from a crash mid-write: not an entry
                msg = (f"The audit file {str(self.file_path)!r} has an unreadable entry on "
                       f"line {number}: {exc}. Restore it from a backup or move it aside.")
                raise AuditStoreError(msg) from exc
        return entries


def _aware(ts: datetime) -> datetime:
    """Naive datetimes (the original used ``utcnow()``) are taken as UTC."""
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def _aware_entry(entry: AuditEntry) -> AuditEntry:
    if entry.timestamp.tzinfo is not None:
        return entry
    return AuditEntry(**{**entry.__dict__, "timestamp": _aware(entry.timestamp)})


class AuditTrailManager:
    """Records and queries audit entries."""

    def __init__(self, storage: AuditStorage | None = None) -> None:
        self.storage: AuditStorage = storage if storage is not None else FileAuditStorage()

    def entry(self, agent_id: str, action: str, details: dict[str, Any], result: AuditResult,
              user_id: str | None = None, metadata: dict[str, Any] | None = None) -> AuditEntry:
        """The entry :meth:`record` would store (timestamped now, UTC)."""
        if result not in ("success", "failure", "denied"):
            msg = (f"Audit result {result!r} is not one of 'success', 'failure', 'denied'; "
                   "pass one of those.")
            raise ValueError(msg)
        return AuditEntry(datetime.now(UTC), agent_id, action, details, result, user_id,
                          metadata or {})

    async def record(self, agent_id: str, action: str, details: dict[str, Any],
                     result: AuditResult, user_id: str | None = None,
                     metadata: dict[str, Any] | None = None) -> None:
        """Store one entry; returns once it is durable."""
        await self.storage.append(self.entry(agent_id, action, details, result, user_id,
                                             metadata))

    async def query_by_agent(self, agent_id: str) -> list[AuditEntry]:
        """Every entry of one agent."""
        return await self.storage.query(agent_id=agent_id)

    async def query_by_action(self, action: str) -> list[AuditEntry]:
        """Every entry of one action."""
        return await self.storage.query(action=action)


class TrailStorage:
    """``AuditStorage`` over a kaizen-perf :class:`~kaizen_perf.audit.AuditTrail`: the original
    API on the durable, hash-chained stores (SQLite, JSON lines, PostgreSQL), e.g.
    ``AuditTrailManager(TrailStorage(mon.audit))``."""

    def __init__(self, trail: Any) -> None:
        self.trail = trail

    def _append(self, entry: AuditEntry) -> None:
        unix_ns = int(_aware(entry.timestamp).timestamp() * 1e9)
        draft = self.trail.draft(entry.action, entry.details, entry.result, entry.user_id,
                                 entry.metadata, agent_id=entry.agent_id, unix_ns=unix_ns)
        self.trail.settle(draft, self.trail.submit(draft))

    async def append(self, entry: AuditEntry) -> None:
        """Store ``entry``; returns once it is durable (the event loop never waits on fsync)."""
        await asyncio.to_thread(self._append, entry)

    async def query(self, agent_id: str | None = None, start_time: datetime | None = None,
                    end_time: datetime | None = None,
                    action: str | None = None) -> list[AuditEntry]:
        """The entries matching every given filter, oldest first."""
        rows = await self.trail.aquery(agent_id=agent_id, action=action, start=start_time,
                                       end=end_time)
        return [AuditEntry(r.timestamp, r.agent_id, r.action, r.details, r.result, r.user_id,
                           r.metadata or {}) for r in rows]
