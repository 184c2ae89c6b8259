"""SQLite store (the default): WAL journal, ``synchronous=FULL``, one transaction per batch.

``BEGIN IMMEDIATE`` takes SQLite's write lock, so writer threads in several
processes extend one chain; the head anchor row is updated in the same
transaction as the records. COMMIT returns after the WAL is fsynced.

The chain state (last seq and hash, last checkpoint) is read from the database
only when it may have changed: ``PRAGMA data_version`` changes exactly when
another connection committed, so while it stays the same the state this
connection committed last is still the end of the chain. After a failed
transaction, a fork or a prune the state is read again.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from kaizen_perf.audit import sql
from kaizen_perf.audit.chain import (
    Batch,
    Builder,
    ChainState,
    HeadAnchor,
    Incident,
    PruneBoundary,
    unproven,
)
from kaizen_perf.audit.model import AuditEntry, Filter
from kaizen_perf.audit.store import PruneBuild, Scanned
from kaizen_perf.errors import AuditStoreError

E, H, M = "audit_entries", "audit_head", "audit_meta"


#: one transaction's work: (connection, chain state, incidents to record) -> the batch written
Step = Callable[[sqlite3.Connection, ChainState, Sequence[Incident]], Batch | None]


def _no_fault(stage: str) -> None:
    """Default fault hook: nothing fails."""


class SqliteStore:
    """Audit records in one SQLite database file."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 30.0,
                 fault: Callable[[str], None] = _no_fault) -> None:
        self.path = Path(path)
        self.location = f"sqlite:///{self.path}"
        self._timeout, self._fault = busy_timeout_s, fault
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._mutex = threading.Lock()
        #: (data_version, chain state) after this connection's last commit
        self._known: tuple[int, ChainState] | None = None

    # -- writing ----------------------------------------------------------------------
    def append(self, build: Builder,
               before_sync: Callable[[], None] | None = None) -> Sequence[AuditEntry]:
        """Write one batch in one transaction; durable when COMMIT returns."""
        batch = self._transaction(
            lambda conn, state, incidents: self._write(conn, build(state, incidents)),
            before_sync)
        return batch.records if batch is not None else ()

    def prune(self, cutoff: str, build: PruneBuild) -> int:
        """Delete rows up to the last one older than ``cutoff``, behind a retention record."""
        def step(conn: sqlite3.Connection, state: ChainState,
                 incidents: Sequence[Incident]) -> Batch | None:
            boundary = self._boundary(conn, cutoff)
            if boundary is None:
                return None
            batch = self._write(conn, build(boundary)(state, incidents))
            conn.execute(f"DELETE FROM {E} WHERE seq <= ?", (boundary.seq,))
            counted.append(boundary.count)
            return batch
        counted: list[int] = []
        self._transaction(step)
        return sum(counted)

    def _transaction(self, step: Step,
                     before_sync: Callable[[], None] | None = None) -> Batch | None:
        if self._pid != os.getpid():  # forked child: fresh lock and connection
            self._pid, self._mutex, self._conn = os.getpid(), threading.Lock(), None
            self._known = None
        with self._mutex:  # the writer thread and prune() share one connection
            return self._transaction_locked(step, before_sync)

    def _transaction_locked(self, step: Step,
                            before_sync: Callable[[], None] | None) -> Batch | None:
        try:
            conn = self._writer()
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            msg = f"Cannot open the audit database {self.path} for writing: {exc}."
            raise AuditStoreError(msg) from exc
        known, self._known = self._known, None  # trusted again only once COMMIT returned
        try:
            version, state, incidents = self._state(conn, known)
            batch = step(conn, state, incidents)
            self._fault("commit")
            if before_sync is not None:
                before_sync()
            conn.execute("COMMIT")
        except (sqlite3.Error, OSError) as exc:
            self._rollback(conn)
            msg = f"Writing to the audit database {self.path} failed: {exc}."
            raise AuditStoreError(msg) from exc
        except BaseException:
            self._rollback(conn)
            raise
        self._known = (version, state if batch is None else batch.state)
        return batch

    def _write(self, conn: sqlite3.Connection, batch: Batch) -> Batch:
        if not batch.records:
            return batch
        # the writer thread loses the GIL to busy callers at every statement: few statements
        for statement, params in sql.inserts(E, batch.sealed, "?"):
            conn.execute(statement, params)
        h = batch.head
        conn.execute(f"INSERT OR REPLACE INTO {H} (one, seq, hash, key_id, mac) "
                     "VALUES (1, ?, ?, ?, ?)", (h.seq, h.hash, h.key_id, h.mac))
        return batch

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back already
            conn.execute("ROLLBACK")

    @staticmethod
    def _state(conn: sqlite3.Connection, known: tuple[int, ChainState] | None,
               ) -> tuple[int, ChainState, Sequence[Incident]]:
        """(data_version, end of the chain, incidents) inside the write transaction; ``known``
        is what this connection committed last, still the end when no one else committed
        since. Read from disk, the end is checked against the signed head anchor (records
        and head commit together, so only someone without the key makes them differ)."""
        version = int(conn.execute("PRAGMA data_version").fetchone()[0])
        if known is not None and known[0] == version:
            return known[0], known[1], ()
        last = conn.execute(f"SELECT seq, hash FROM {E} ORDER BY seq DESC LIMIT 1").fetchone()
        ckpt = conn.execute(sql.last_checkpoint(E)).fetchone()
        state = sql.state_from(last, ckpt)
        head = sql.head_from(conn.execute(
            f"SELECT seq, hash, key_id, mac FROM {H} WHERE one = 1").fetchone())
        incident = unproven(state, head)
        return version, state, () if incident is None else (incident,)

    def _boundary(self, conn: sqlite3.Connection, cutoff: str) -> PruneBoundary | None:
        first_new = conn.execute(f"SELECT MIN(seq) FROM {E} WHERE ts >= ?",
                                 (cutoff,)).fetchone()[0]
        cond, args = ("seq < ?", (first_new,)) if first_new is not None else ("1 = 1", ())
        row = conn.execute(f"SELECT MAX(seq), COUNT(*) FROM {E} WHERE {cond}", args).fetchone()
        if not row[1]:
            return None
        last = conn.execute(f"SELECT hash FROM {E} WHERE seq = ?", (row[0],)).fetchone()
        ckpt = conn.execute(sql.last_checkpoint(E, "?"), (row[0],)).fetchone()
        mac = "" if ckpt is None else sql.checkpoint_mac(str(ckpt[1]))
        return PruneBoundary(int(row[0]), str(last[0]), mac, int(row[1]), cutoff)

    def _writer(self) -> sqlite3.Connection:
        if self._conn is None:
            self._known = None  # data_version counts per connection
            self._conn = self._connect(create=True)
        return self._conn

    def _connect(self, *, create: bool) -> sqlite3.Connection:
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        if create:
            for ddl in sql.schema(E, H, M):
                conn.execute(ddl)
        return conn

    # -- reading ----------------------------------------------------------------------
    def _reader(self) -> sqlite3.Connection | None:
        if not self.path.exists():
            return None
        try:
            conn = self._connect(create=False)
            conn.execute("PRAGMA query_only=ON")
        except sqlite3.Error as exc:
            msg = f"Cannot read the audit database {self.path}: {exc}."
            raise AuditStoreError(msg) from exc
        return conn

    def _rows(self, query: str, args: Sequence[object] = ()) -> list[tuple[object, ...]]:
        conn = self._reader()
        if conn is None:
            return []
        try:
            return list(conn.execute(query, args))
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            msg = f"Cannot read the audit database {self.path}: {exc}."
            raise AuditStoreError(msg) from exc
        except sqlite3.DatabaseError as exc:
            msg = f"The audit database {self.path} is damaged: {exc}."
            raise AuditStoreError(msg) from exc
        finally:
            conn.close()

    def scan(self) -> Iterator[Scanned]:
        """Every row in sequence order."""
        for row in self._rows(f"SELECT {sql.COLUMNS} FROM {E} ORDER BY seq"):
            yield sql.scanned(row, str(self.path))

    def query(self, flt: Filter) -> list[AuditEntry]:
        """Matching rows, oldest first."""
        text, args = sql.query_sql(E, flt, "?")
        return [sql.from_row(r) for r in reversed(self._rows(text, args))]

    def head(self) -> HeadAnchor | None:
        """The head anchor row."""
        rows = self._rows(f"SELECT seq, hash, key_id, mac FROM {H} WHERE one = 1")
        return sql.head_from(rows[0] if rows else None)

    def close(self) -> None:
        """Close the writer connection."""
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn, self._known = None, None
