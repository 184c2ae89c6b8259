"""Attacks on a stored trail, done the way someone with write access to the storage would."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from kaizen_perf.audit import AuditEntry, open_store
from kaizen_perf.audit.chain import HeadAnchor
from kaizen_perf.audit.jsonl_store import JsonlStore, canonical_lines
from kaizen_perf.audit.model import Draft, Filter, chained, uuid7
from kaizen_perf.audit.postgres_store import PostgresStore, split_url
from kaizen_perf.audit.segments import segment_name, segments
from kaizen_perf.audit.sql import COLUMNS, to_row
from kaizen_perf.audit.sqlite_store import SqliteStore

Entries = list[AuditEntry]


def read_all(url: str) -> Entries:
    """Every stored record, checkpoints included."""
    return open_store(url).query(Filter(include_checkpoints=True))


def write_all(url: str, entries: Entries) -> None:
    """Replace the stored records with ``entries`` exactly as given (the head anchor stays)."""
    store = open_store(url)
    rows = [to_row(e) for e in entries]
    marks = ",".join(["?"] * 11)
    if isinstance(store, SqliteStore):
        with sqlite3.connect(store.path) as conn:
            conn.execute("DELETE FROM audit_entries")
            conn.executemany(f"INSERT INTO audit_entries ({COLUMNS}) VALUES ({marks})", rows)
    elif isinstance(store, PostgresStore):
        import psycopg
        conninfo, table, _ = split_url(url)
        with psycopg.connect(conninfo) as conn:
            conn.execute(f"DELETE FROM {table}_entries")
            with conn.cursor() as cur:
                cur.executemany(f"INSERT INTO {table}_entries ({COLUMNS}) VALUES "
                                f"({','.join(['%s'] * 11)})", rows)
    else:
        assert isinstance(store, JsonlStore)
        for name in segments(store.dir):
            (store.dir / name).unlink()
        (store.dir / segment_name(1)).write_bytes(canonical_lines(entries))


def _at(entries: Entries, seq: int) -> int:
    return next(i for i, e in enumerate(entries) if e.seq == seq)


def flip(entries: Entries, seq: int) -> Entries:
    """Change one value of one record, leaving its hash."""
    i = _at(entries, seq)
    return [*entries[:i], dataclasses.replace(entries[i], result="failure"), *entries[i + 1:]]


def delete(entries: Entries, seq: int) -> Entries:
    """Remove one record."""
    i = _at(entries, seq)
    return entries[:i] + entries[i + 1:]


def reorder(entries: Entries, seq: int) -> Entries:
    """Swap a record with the next one (each keeps the position's sequence number)."""
    i = _at(entries, seq)
    a, b = entries[i], entries[i + 1]
    swapped = [dataclasses.replace(b, seq=a.seq), dataclasses.replace(a, seq=b.seq)]
    return [*entries[:i], *swapped, *entries[i + 2:]]


def insert(entries: Entries, seq: int) -> Entries:
    """Insert a forged record after ``seq`` with a correct hash, renumbering the rest."""
    i = _at(entries, seq)
    prev = entries[i]
    forged = chained(_draft_like(prev), prev.seq + 1, prev.hash)
    rest = [dataclasses.replace(e, seq=e.seq + 1) for e in entries[i + 1:]]
    return [*entries[:i + 1], forged, *rest]


def truncate(entries: Entries, seq: int) -> Entries:
    """Cut every record from ``seq`` on."""
    return entries[:_at(entries, seq)]


def rewrite(entries: Entries, seq: int) -> Entries:
    """Edit one record and recompute every hash after it (all an attacker without the key can)."""
    i = _at(entries, seq)
    out = entries[:i]
    prev_hash = entries[i - 1].hash if i else entries[i].prev_hash
    for n, e in enumerate(entries[i:]):
        e = dataclasses.replace(e, details={"rewritten": True}) if n == 0 else e
        e = dataclasses.replace(e, prev_hash=prev_hash, hash="")
        e = dataclasses.replace(e, hash=e.compute_hash())
        out.append(e)
        prev_hash = e.hash
    return out


def full_rewrite(entries: Entries, seq: int) -> Entries:
    """Rewrite the whole trail from its first record with recomputed hashes (``seq`` unused)."""
    return rewrite(entries, entries[0].seq)


def append_forged(entries: Entries, count: int) -> Entries:
    """Append ``count`` forged records chained in SHA-256 (all a forger without the key can)."""
    out = list(entries)
    for _ in range(count):
        prev = out[-1]
        out.append(chained(_draft_like(prev), prev.seq + 1, prev.hash))
    return out


def set_head(url: str, head: HeadAnchor) -> None:
    """Put back a head anchor (say, one saved earlier: the head a crash left behind)."""
    store = open_store(url)
    row = (head.seq, head.hash, head.key_id, head.mac)
    if isinstance(store, SqliteStore):
        with sqlite3.connect(store.path) as conn:
            conn.execute("UPDATE audit_head SET seq = ?, hash = ?, key_id = ?, mac = ?", row)
    elif isinstance(store, PostgresStore):
        import psycopg
        conninfo, table, _ = split_url(url)
        with psycopg.connect(conninfo) as conn:
            conn.execute(f"UPDATE {table}_head SET seq = %s, hash = %s, key_id = %s, mac = %s",
                         row)
    else:
        assert isinstance(store, JsonlStore)
        (store.dir / "head.json").write_text(json.dumps(head.to_dict()).ljust(511) + "\n")


def _draft_like(e: AuditEntry) -> Draft:
    return Draft(uuid7(), e.ts, e.agent_id, "mallory", "grant_admin", {"forged": True},
                 "success", None)


ATTACKS: dict[str, Callable[[Entries, int], Entries]] = {
    "flip": flip, "delete": delete, "reorder": reorder, "insert": insert,
    "truncate": truncate, "rewrite": rewrite, "full_rewrite": full_rewrite,
    "append_5": lambda entries, _seq: append_forged(entries, 5),
}


def jsonl_segment(url: str) -> Path:
    """The newest segment file of a jsonl trail."""
    store = open_store(url)
    assert isinstance(store, JsonlStore)
    return store.dir / segments(store.dir)[-1]
