"""What the SQL stores (SQLite, PostgreSQL) share: columns, row conversion, query filters."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Sequence
from typing import Any

from kaizen_perf.audit.chain import ChainState, HeadAnchor
from kaizen_perf.audit.encode import Sealed
from kaizen_perf.audit.model import CHECKPOINT, AuditEntry, Filter, canonical
from kaizen_perf.audit.store import Scanned, declared_interval

COLUMNS = "seq, id, ts, agent, user_id, action, details, result, metadata, prev, hash"
#: the condition of the partial checkpoint index, as a literal (a bound parameter would
#: not let the planner use a partial index)
IS_CHECKPOINT = f"action = '{CHECKPOINT}'"


def schema(entries: str, head: str, meta: str, integer: str = "INTEGER") -> list[str]:
    """DDL for the three tables of a trail (idempotent).

    Every index is a page the commit of each batch writes and syncs, so there are
    two: time ranges (``ts``) and a partial index of the checkpoint rows, which only
    every ``interval``-th record touches (the chain state and prune look the last
    checkpoint up). Queries by agent, user, action or result walk back from the
    newest row. Ids are UUIDv7 with 74 random bits: no index enforces them unique.
    A trail created before loses its ``(action, seq)`` index on the next open; the
    UNIQUE index on ``id`` it may carry stays (SQLite drops one only by rebuilding
    the table), correct but one more page per commit.
    """
    return [
        f"CREATE TABLE IF NOT EXISTS {entries} (seq {integer} PRIMARY KEY, id TEXT NOT NULL, "
        "ts TEXT NOT NULL, agent TEXT NOT NULL, user_id TEXT, action TEXT NOT NULL, "
        "details TEXT NOT NULL, result TEXT NOT NULL, metadata TEXT NOT NULL, "
        "prev TEXT NOT NULL, hash TEXT NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS {entries}_ts ON {entries} (ts)",
        f"CREATE INDEX IF NOT EXISTS {entries}_checkpoints ON {entries} (seq) "
        f"WHERE {IS_CHECKPOINT}",
        f"DROP INDEX IF EXISTS {entries}_action",
        f"CREATE TABLE IF NOT EXISTS {head} (one INTEGER PRIMARY KEY CHECK (one = 1), "
        f"seq {integer} NOT NULL, hash TEXT NOT NULL, key_id TEXT NOT NULL, mac TEXT NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {meta} (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ]


def last_checkpoint(table: str, upto: str | None = None) -> str:
    """SELECT (seq, details) of the newest checkpoint row, at or before the sequence number
    bound to the placeholder ``upto`` when given (served by the partial index)."""
    bound = f" AND seq <= {upto}" if upto else ""
    return (f"SELECT seq, details FROM {table} WHERE {IS_CHECKPOINT}{bound} "
            "ORDER BY seq DESC LIMIT 1")


ROWS_PER_INSERT = 256  #: 11 parameters a row: far below SQLite's 32,766 and PostgreSQL's 65,535


@functools.lru_cache(maxsize=128)
def insert_sql(table: str, rows: int, ph: str) -> str:
    """INSERT of ``rows`` records in one statement; ``ph`` is the placeholder (? or %s)."""
    row = "(" + ",".join([ph] * 11) + ")"
    return f"INSERT INTO {table} ({COLUMNS}) VALUES " + ",".join([row] * rows)


def inserts(table: str, sealed: Sequence[Sealed], ph: str) -> Iterator[tuple[str, list[Any]]]:
    """(statement, parameters) writing ``sealed``: one statement per ``ROWS_PER_INSERT`` rows
    (one round trip, and in SQLite one GIL release, instead of one per row)."""
    for at in range(0, len(sealed), ROWS_PER_INSERT):
        chunk = sealed[at:at + ROWS_PER_INSERT]
        yield insert_sql(table, len(chunk), ph), [v for s in chunk for v in s.row()]


def to_row(e: AuditEntry) -> tuple[Any, ...]:
    """Column values of a record (JSON fields as canonical text)."""
    return (e.seq, e.id, e.ts, e.agent_id, e.user_id, e.action, canonical(e.details).decode(),
            e.result, canonical(e.metadata).decode(), e.prev_hash, e.hash)


def from_row(row: Sequence[Any]) -> AuditEntry:
    """A record from its columns; raises ValueError when a JSON column is damaged."""
    seq, id_, ts, agent, user, action, details, result, metadata, prev, hash_ = row
    return AuditEntry(int(seq), str(id_), str(ts), str(agent), user, str(action),
                      json.loads(details), str(result), json.loads(metadata), str(prev),
                      str(hash_))


def scanned(row: Sequence[Any], where: str) -> Scanned:
    """A row as read for verification."""
    location = f"{where} row seq={row[0]}"
    try:
        return Scanned(location, from_row(row))
    except (ValueError, TypeError) as exc:
        return Scanned(location, None, f"unreadable row: {exc}")


def where_clause(flt: Filter, ph: str) -> tuple[str, list[Any]]:
    """SQL condition and parameters for a filter; ``ph`` is the placeholder (? or %s)."""
    conds: list[str] = []
    args: list[Any] = []
    for column, value in (("agent", flt.agent_id), ("user_id", flt.user_id),
                          ("action", flt.action), ("result", flt.result)):
        if value is not None:
            conds.append(f"{column} = {ph}")
            args.append(value)
    if flt.start is not None:
        conds.append(f"ts >= {ph}")
        args.append(flt.start)
    if flt.end is not None:
        conds.append(f"ts < {ph}")
        args.append(flt.end)
    if not flt.include_checkpoints and flt.action != CHECKPOINT:
        conds.append(f"action <> {ph}")
        args.append(CHECKPOINT)
    return (" WHERE " + " AND ".join(conds)) if conds else "", args


def query_sql(table: str, flt: Filter, ph: str) -> tuple[str, list[Any]]:
    """SELECT for a filter, newest ``limit`` rows, to be reversed into sequence order."""
    where, args = where_clause(flt, ph)
    sql = f"SELECT {COLUMNS} FROM {table}{where} ORDER BY seq DESC"
    if flt.limit is not None:
        sql += f" LIMIT {int(flt.limit)}"
    return sql, args


def state_from(last: Sequence[Any] | None, ckpt: Sequence[Any] | None) -> ChainState:
    """Chain state from the last row (seq, hash) and the last checkpoint row (seq, details)."""
    if last is None:
        return ChainState()
    if ckpt is None:
        return ChainState(int(last[0]), str(last[1]))
    details = json.loads(str(ckpt[1]))
    return ChainState(int(last[0]), str(last[1]), int(ckpt[0]), str(details["mac"]),
                      declared_interval(details))


def checkpoint_mac(details: str) -> str:
    """The MAC inside a checkpoint row's details column."""
    return str(json.loads(details)["mac"])


def head_from(row: Sequence[Any] | None) -> HeadAnchor | None:
    """The head anchor row, if any."""
    if row is None:
        return None
    return HeadAnchor(int(row[0]), str(row[1]), str(row[2]), str(row[3]))
