"""The behaviour users rely on, the same for every store (SQLite, JSON lines, PostgreSQL)."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from kaizen_perf.audit import AuditTrail
from kaizen_perf.errors import ConfigError

MakeTrail = Callable[..., AuditTrail]


def test_record_returns_id_and_consecutive_sequence_numbers(store_url: str,
                                                            make_trail: MakeTrail) -> None:
    """record() returns a UUIDv7 id and the next sequence number once the entry is stored."""
    trail = make_trail(store_url)
    first = trail.record("tool_execute", {"tool": "bash"}, user_id="alice")
    second = trail.record("permission_check", {"tool": "bash"}, result="denied")
    assert uuid.UUID(first.id).version == 7
    assert (first.seq, second.seq) == (1, 2)
    assert first.durable
    entry = trail.query(action="tool_execute")[0]
    assert (entry.id, entry.user_id, entry.details, entry.result) == (
        first.id, "alice", {"tool": "bash"}, "success")
    assert entry.agent_id == "agent-1"
    assert entry.timestamp.tzinfo is not None
    assert abs(entry.timestamp - datetime.now(UTC)) < timedelta(minutes=1)


def test_query_filters_combine_and_limit_keeps_the_newest(store_url: str,
                                                          make_trail: MakeTrail) -> None:
    """Every query filter narrows the result; limit keeps the newest matches in order."""
    clock = [1_700_000_000 * 10**9]
    trail = make_trail(store_url, clock=lambda: clock[0])
    for i in range(6):
        clock[0] += 10**9
        trail.record("tool_execute" if i % 2 else "login", {"i": i},
                     result="failure" if i == 5 else "success", user_id=f"u{i % 3}")
    assert [e.details["i"] for e in trail.query(action="tool_execute")] == [1, 3, 5]
    assert [e.details["i"] for e in trail.query(user_id="u0")] == [0, 3]
    assert [e.details["i"] for e in trail.query(result="failure")] == [5]
    assert [e.details["i"] for e in trail.query(limit=2)] == [4, 5]
    start = datetime.fromtimestamp(1_700_000_003, UTC)
    end = datetime.fromtimestamp(1_700_000_005, UTC)
    assert [e.details["i"] for e in trail.query(start=start, end=end)] == [2, 3]
    assert trail.query(agent_id="someone-else") == []


def test_invalid_result_or_action_is_refused_with_the_expected_values(
        store_url: str, make_trail: MakeTrail) -> None:
    """A result other than success/failure/denied, or an empty action, raises ConfigError."""
    trail = make_trail(store_url)
    with pytest.raises(ConfigError, match="expected success, failure or denied"):
        trail.record("x", result="ok")
    with pytest.raises(ConfigError, match="non-empty string"):
        trail.record("")


def test_sixteen_threads_share_group_commits_and_lose_nothing(store_url: str,
                                                              make_trail: MakeTrail) -> None:
    """16 threads appending at once get distinct sequence numbers, all stored, fewer commits."""
    trail = make_trail(store_url)
    receipts: list[int] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        for i in range(40):
            r = trail.record("step", {"thread": n, "i": i})
            with lock:
                receipts.append(r.seq)
    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stored = {e.seq for e in trail.query(action="step")}
    assert len(receipts) == 640 and set(receipts) == stored
    assert trail.writer.batches < 640
    report = trail.verify()
    assert report.ok, report.problems


def test_verify_passes_and_counts_signed_checkpoints(store_url: str,
                                                     make_trail: MakeTrail) -> None:
    """A clean trail verifies, with a checkpoint every interval and one on close."""
    trail = make_trail(store_url, checkpoint_interval=5)
    for i in range(12):
        trail.record("step", {"i": i})
    trail.close()
    reader = make_trail(store_url)
    report = reader.verify()
    assert report.ok, report.problems
    assert report.checkpoints == 3  # after 5 records, after 10 (+1 checkpoint), and on close
    assert report.last_seq == 15
    assert len(reader.query(action="audit.checkpoint")) == 3
    assert all(e.action != "audit.checkpoint" for e in reader.query())


def test_verify_with_another_key_fails_naming_the_key(store_url: str,
                                                      make_trail: MakeTrail) -> None:
    """Checkpoints signed with one key do not verify with another (message names key ids)."""
    trail = make_trail(store_url, checkpoint_interval=2)
    trail.record("a")
    trail.record("b")
    report = make_trail(store_url, key=b"some-other-key-0123456789").verify()
    assert not report.ok
    assert any("signed with key id" in p.message for p in report.problems)


def test_arecord_does_not_block_the_event_loop(store_url: str, make_trail: MakeTrail) -> None:
    """While arecord() waits for a slow commit, other asyncio tasks keep running."""
    slow = lambda stage: time.sleep(0.3)  # noqa: E731
    trail = make_trail(store_url, store_options={"fault": slow} if "jsonl" not in store_url
                       else {"fsync": lambda fd: time.sleep(0.3)})

    async def main() -> tuple[int, int, list[str]]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1
        task = asyncio.create_task(ticker())
        receipt = await trail.arecord("async_action", {"x": 1})
        task.cancel()
        found = await trail.aquery(action="async_action")
        return receipt.seq, ticks, [e.id for e in found]
    seq, ticks, ids = asyncio.run(main())
    assert seq == 1 and len(ids) == 1
    assert ticks >= 10  # 0.3 s of commit at 10 ms a tick: the loop was never blocked


def test_export_writes_every_record_in_each_format(store_url: str, make_trail: MakeTrail,
                                                   tmp_path: object) -> None:
    """export() writes all records (checkpoints too) as jsonl, json and csv."""
    import csv
    import io
    import json
    trail = make_trail(store_url, checkpoint_interval=3)
    for i in range(4):
        trail.record("step", {"i": i, "text": "comma, \"quote\""})
    out = io.StringIO()
    assert trail.export("jsonl", out) == 5
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [d["seq"] for d in lines] == [1, 2, 3, 4, 5] and lines[3]["action"] == "audit.checkpoint"
    out = io.StringIO()
    trail.export("json", out)
    assert len(json.loads(out.getvalue())) == 5
    out = io.StringIO()
    trail.export("csv", out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0][:3] == ["seq", "id", "ts"] and len(rows) == 6
    assert json.loads(rows[1][7]) == {"i": 0, "text": "comma, \"quote\""}
    with pytest.raises(ConfigError, match="expected one of jsonl, json, csv"):
        trail.export("xml", out)


def test_redaction_runs_before_hashing(store_url: str, make_trail: MakeTrail) -> None:
    """Secrets in details and metadata are scrubbed before storage; the trail still verifies."""
    secret = "sk-ant-api03-" + "A" * 80 + "-" + "B" * 6 + "AA"
    trail = make_trail(store_url)
    trail.record("api_call", {"auth": f"Bearer {secret}", "note": f"key {secret}"},
                 metadata={"api_key": "hunter2hunter2"})
    entry = trail.query(action="api_call")[0]
    stored = repr((entry.details, entry.metadata))
    assert secret not in stored and "hunter2" not in stored
    assert "REDACTED" in stored
    assert trail.verify().ok


def test_injected_redactor_is_used_and_a_failing_one_stores_no_raw_data(
        store_url: str, make_trail: MakeTrail) -> None:
    """A custom redactor replaces the default; if it raises, only a placeholder is stored."""
    trail = make_trail(store_url, redactor=lambda v: {"scrubbed": True})
    trail.record("x", {"password": "p"})
    assert trail.query(action="x")[0].details == {"scrubbed": True}

    def broken(value: object) -> object:
        raise TypeError("boom")
    other = make_trail(store_url, redactor=broken)
    other.record("y", {"password": "p"})
    assert other.query(action="y")[0].details == {"redaction_failed": "TypeError"}
