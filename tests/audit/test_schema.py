"""The SQL stores' schema: a trail made by an earlier version keeps working, and the chain
state is found through the checkpoint index, not by scanning the trail."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kaizen_perf.audit import AuditTrail, sql
from kaizen_perf.audit.model import CHECKPOINT

MakeTrail = Callable[..., AuditTrail]


def _execute(trail: AuditTrail, statement: str) -> list[tuple[Any, ...]]:
    """Run one statement on the trail's database with a connection of its own."""
    store: Any = trail.store
    if hasattr(store, "path"):
        with sqlite3.connect(store.path) as conn:
            return list(conn.execute(statement))
    import psycopg
    with psycopg.connect(store._conninfo, autocommit=True) as conn:
        cur = conn.execute(statement)
        return list(cur.fetchall()) if cur.description else []


def _indexes(trail: AuditTrail, table: str) -> set[str]:
    if hasattr(trail.store, "path"):
        rows = _execute(trail, f"SELECT name FROM sqlite_master WHERE tbl_name = '{table}' "
                               "AND type = 'index'")
    else:
        rows = _execute(trail, f"SELECT indexname FROM pg_indexes WHERE tablename = '{table}'")
    return {str(r[0]) for r in rows}


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_trail_with_the_earlier_action_index_loses_it_and_its_chain_goes_on(
        kind: str, url_for: Callable[[str], str], make_trail: MakeTrail) -> None:
    """Reopening a trail that has the (action, seq) index of earlier versions drops it; the
    chain, its checkpoints every ``interval`` records and verification carry on."""
    url = url_for(kind)
    trail = make_trail(url, checkpoint_interval=8)
    for i in range(20):
        trail.record("tool_execute", {"i": i})
    trail.close()
    table = "audit_entries" if kind == "sqlite" else trail.store.E  # type: ignore[attr-defined]
    _execute(trail, f"CREATE INDEX {table}_action ON {table} (action, seq)")
    assert f"{table}_action" in _indexes(trail, table)

    again = make_trail(url, checkpoint_interval=8)
    for i in range(20, 30):
        again.record("tool_execute", {"i": i})
    again.close()

    assert f"{table}_action" not in _indexes(again, table)
    assert f"{table}_checkpoints" in _indexes(again, table)
    report = again.verify()
    assert report.ok, report.problems
    ckpts = [e.seq for e in again.query(include_checkpoints=True) if e.action == CHECKPOINT]
    # every 8 records, then the closing checkpoint of each session (after 20 and 30 entries)
    assert ckpts == [9, 18, 23, 32, 35]


def test_the_chain_state_lookups_use_the_checkpoint_index(tmp_path: Path) -> None:
    """The last checkpoint (read when another process committed, and by prune) is found
    through the partial index, whatever the trail's length."""
    conn = sqlite3.connect(tmp_path / "a.db")
    for ddl in sql.schema("e", "h", "m"):
        conn.execute(ddl)
    for statement, args in ((sql.last_checkpoint("e"), ()),
                            (sql.last_checkpoint("e", "?"), (5,))):
        plan = " ".join(str(r[-1]) for r in conn.execute("EXPLAIN QUERY PLAN " + statement,
                                                         args))
        assert "USING INDEX e_checkpoints" in plan, plan
