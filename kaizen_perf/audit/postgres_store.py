"""PostgreSQL store: many hosts writing one trail.

Each batch is one transaction that first takes a transaction-scoped advisory
lock (one per trail table), reads the end of the chain, inserts the batch and
updates the head anchor row; it is durable when COMMIT returns (the server's
``synchronous_commit`` must stay ``on``, the default). Tables are
``<table>_entries``, ``<table>_head`` and ``<table>_meta`` (``?table=`` in the
URL, default ``kaizen_audit``).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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
from kaizen_perf.errors import AuditStoreError, ConfigError

Conn = Any  # psycopg.Connection; psycopg is an optional dependency


def _no_fault(stage: str) -> None:
    """Default fault hook: nothing fails."""


def split_url(url: str) -> tuple[str, str, str]:
    """(connection URL without ``table``, table prefix, URL safe to print)."""
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query))
    table = params.pop("table", "kaizen_audit")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,40}", table):
        msg = (f"Audit table name {table!r} in {url!r} is not valid: expected lower-case "
               "letters, digits and underscores, such as ?table=kaizen_audit.")
        raise ConfigError(msg)
    conninfo = urlunsplit(parts._replace(query=urlencode(params)))
    netloc = parts.netloc.rsplit("@", 1)[-1]
    shown = urlunsplit(parts._replace(netloc=netloc, query=f"table={table}"))
    return conninfo, table, shown


class PostgresStore:
    """Audit records in PostgreSQL tables."""

    def __init__(self, url: str, *, fault: Callable[[str], None] = _no_fault,
                 connect_timeout_s: float = 10.0) -> None:
        self._conninfo, table, self.location = split_url(url)
        self.E, self.H, self.M = f"{table}_entries", f"{table}_head", f"{table}_meta"
        self._lock_key = int.from_bytes(hashlib.sha256(table.encode()).digest()[:8], "big",
                                        signed=True)
        self._fault, self._timeout = fault, connect_timeout_s
        self._conn: Conn | None = None
        self._pid = os.getpid()
        self._mutex = threading.Lock()

    def _connect(self) -> Conn:
        try:
            import psycopg
        except ImportError:
            msg = ("The PostgreSQL audit store needs psycopg: "
                   "pip install 'kaizen-perf[postgres]'.")
            raise ConfigError(msg) from None
        try:
            conn = psycopg.connect(self._conninfo, connect_timeout=int(self._timeout))
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
                for ddl in sql.schema(self.E, self.H, self.M, integer="BIGINT"):
                    conn.execute(ddl)
        except psycopg.Error as exc:
            msg = f"Cannot open the PostgreSQL audit store {self.location}: {exc}".strip() + "."
            raise AuditStoreError(msg) from exc
        return conn

    def _run(self, step: Callable[[Conn], Any], *, pipeline: bool = False) -> Any:
        """Run ``step`` in one transaction on the shared connection (reconnecting if needed).
        With ``pipeline`` statements go out without waiting for each answer: the server
        runs them in order, and reading a result (or the end) waits for all sent so far."""
        import psycopg
        if self._pid != os.getpid():  # forked child: never share the parent's socket
            self._pid, self._mutex, self._conn = os.getpid(), threading.Lock(), None
        with self._mutex:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = self._connect()
                conn = self._conn
                if pipeline:  # the COMMIT's answer is read when the pipeline closes
                    with conn.pipeline(), conn.transaction():
                        return step(conn)
                with conn.transaction():
                    return step(conn)
            except (psycopg.Error, OSError) as exc:
                if self._conn is not None and self._conn.broken:
                    self._conn = None
                msg = f"The PostgreSQL audit store {self.location} failed: {exc}".strip() + "."
                raise AuditStoreError(msg) from exc

    # -- writing ----------------------------------------------------------------------
    def append(self, build: Builder,
               before_sync: Callable[[], None] | None = None) -> Sequence[AuditEntry]:
        """Write one batch in one transaction; durable when COMMIT returns. Two round trips:
        BEGIN, the advisory lock and the end of the chain; then the INSERT, the head anchor
        and COMMIT (pipeline mode)."""
        def step(conn: Conn) -> list[AuditEntry]:
            records = self._write(conn, build(*self._state(conn)))
            self._fault("commit")
            if before_sync is not None:
                before_sync()
            return records
        return list(self._run(step, pipeline=True))

    def prune(self, cutoff: str, build: PruneBuild) -> int:
        """Delete rows up to the last one older than ``cutoff``, behind a retention record."""
        def step(conn: Conn) -> int:
            state, incidents = self._state(conn)
            boundary = self._boundary(conn, cutoff)
            if boundary is None:
                return 0
            self._write(conn, build(boundary)(state, incidents))
            conn.execute(f"DELETE FROM {self.E} WHERE seq <= %s", (boundary.seq,))
            return boundary.count
        return int(self._run(step))

    def _write(self, conn: Conn, batch: Batch) -> list[AuditEntry]:
        if not batch.records:
            return []
        for statement, params in sql.inserts(self.E, batch.sealed, "%s"):
            conn.execute(statement, params)
        h = batch.head
        conn.execute(f"INSERT INTO {self.H} (one, seq, hash, key_id, mac) VALUES "
                     "(1, %s, %s, %s, %s) ON CONFLICT (one) DO UPDATE SET seq = EXCLUDED.seq, "
                     "hash = EXCLUDED.hash, key_id = EXCLUDED.key_id, mac = EXCLUDED.mac",
                     (h.seq, h.hash, h.key_id, h.mac))
        return batch.records

    def _state(self, conn: Conn) -> tuple[ChainState, Sequence[Incident]]:
        """The end of the chain and the signed head anchor (with an incident when they
        differ: see ``chain.unproven``), read under the lock: a statement after the one that
        took it, so (READ COMMITTED) its snapshot sees every batch committed before."""
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
        rows = conn.execute(
            f"SELECT 'last', * FROM (SELECT seq, hash FROM {self.E} ORDER BY seq DESC "
            f"LIMIT 1) a UNION ALL SELECT 'ckpt', * FROM ({sql.last_checkpoint(self.E)}) c "
            f"UNION ALL SELECT 'head', seq, hash || ' ' || key_id || ' ' || mac FROM {self.H}"
        ).fetchall()
        found = {str(kind): (seq, text) for kind, seq, text in rows}
        state = sql.state_from(found.get("last"), found.get("ckpt"))
        head = found.get("head")
        parts = [*str(head[1]).split(" ", 2), "", ""][:3] if head is not None else []
        anchor = None if head is None else sql.head_from((head[0], *parts))
        incident = unproven(state, anchor)
        return state, () if incident is None else (incident,)

    def _boundary(self, conn: Conn, cutoff: str) -> PruneBoundary | None:
        first_new = conn.execute(f"SELECT MIN(seq) FROM {self.E} WHERE ts >= %s",
                                 (cutoff,)).fetchone()[0]
        limit = first_new if first_new is not None else 2**62
        row = conn.execute(f"SELECT MAX(seq), COUNT(*) FROM {self.E} WHERE seq < %s",
                           (limit,)).fetchone()
        if not row[1]:
            return None
        last = conn.execute(f"SELECT hash FROM {self.E} WHERE seq = %s", (row[0],)).fetchone()
        ckpt = conn.execute(sql.last_checkpoint(self.E, "%s"), (row[0],)).fetchone()
        mac = "" if ckpt is None else sql.checkpoint_mac(str(ckpt[1]))
        return PruneBoundary(int(row[0]), str(last[0]), mac, int(row[1]), cutoff)

    def stored_key(self) -> bytes:
        """The per-trail key kept in the meta table when none is configured (created once)."""
        def step(conn: Conn) -> str:
            conn.execute(f"INSERT INTO {self.M} (name, value) VALUES ('hmac_key', %s) "
                         "ON CONFLICT (name) DO NOTHING", (secrets.token_hex(32),))
            row = conn.execute(f"SELECT value FROM {self.M} WHERE name = 'hmac_key'").fetchone()
            return str(row[0])
        return bytes.fromhex(self._run(step))

    # -- reading ----------------------------------------------------------------------
    def _rows(self, text: str, args: Sequence[Any] = ()) -> list[Any]:
        return list(self._run(lambda conn: conn.execute(text, args).fetchall()))

    def scan(self) -> Iterator[Scanned]:
        """Every row in sequence order."""
        for row in self._rows(f"SELECT {sql.COLUMNS} FROM {self.E} ORDER BY seq"):
            yield sql.scanned(row, self.location)

    def query(self, flt: Filter) -> list[AuditEntry]:
        """Matching rows, oldest first."""
        text, args = sql.query_sql(self.E, flt, "%s")
        return [sql.from_row(r) for r in reversed(self._rows(text, args))]

    def head(self) -> HeadAnchor | None:
        """The head anchor row."""
        rows = self._rows(f"SELECT seq, hash, key_id, mac FROM {self.H} WHERE one = 1")
        return sql.head_from(rows[0] if rows else None)

    def close(self) -> None:
        """Close the connection."""
        with self._mutex:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None
