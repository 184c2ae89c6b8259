"""Tamper evidence, torn tails, interior corruption, write failures and policies, retention."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from kaizen_perf.audit import AuditTrail
from kaizen_perf.audit.model import TAIL_TRUNCATED, WRITE_FAILED
from kaizen_perf.errors import AuditDenied
from tests.audit import tamper

MakeTrail = Callable[..., AuditTrail]


def _filled(url: str, make_trail: MakeTrail, n: int = 12) -> AuditTrail:
    trail = make_trail(url, checkpoint_interval=4)
    for i in range(n):
        trail.record("step", {"i": i}, user_id="alice")
    trail.close()
    return make_trail(url)


#: where the first break shows: at the record attacked (seq 7) or where the chain notices
FIRST_PROBLEM = {
    "flip": "record seq 7 does not match its hash", "delete": "expected seq 7, found 8",
    "reorder": "record seq 7 does not match its hash",
    "insert": "record seq 9 does not match its hash",  # the forged seq 8 is well formed
    "truncate": "records 7..15 were removed",  # caught by the signed head anchor
    "rewrite": "checkpoint seq 10 does not match",  # recomputed hashes, but no key
    "full_rewrite": "checkpoint seq 5 does not match",
}
#: attacks that break nothing a hash can see: caught as records no signature covers
UNVERIFIED = {"append_5": (16, 20)}


@pytest.mark.parametrize("attack", sorted(tamper.ATTACKS))
def test_every_tamper_class_is_detected_with_its_location(
        attack: str, store_url: str, make_trail: MakeTrail) -> None:
    """Flip, delete, reorder, insert, truncate, rewrite (of a part or all) and an appended
    forgery each make verify() fail, saying where."""
    reader = _filled(store_url, make_trail)
    assert reader.verify().ok
    entries = tamper.read_all(store_url)
    tamper.write_all(store_url, tamper.ATTACKS[attack](entries, 7))
    report = reader.verify()
    assert not report.ok, f"{attack} was not detected"
    if attack in UNVERIFIED:
        assert [(u.first_seq, u.last_seq) for u in report.unverified] == [UNVERIFIED[attack]]
        return
    first = report.problems[0]
    assert first.location  # each problem says where
    assert FIRST_PROBLEM[attack] in first.message, report.problems


def test_tampering_after_the_last_checkpoint_is_caught_by_the_head_anchor(
        store_url: str, make_trail: MakeTrail) -> None:
    """Rewriting only the newest records (after any checkpoint) is still detected."""
    trail = make_trail(store_url, checkpoint_interval=100)
    for i in range(5):
        trail.record("step", {"i": i})
    entries = tamper.read_all(store_url)
    tamper.write_all(store_url, tamper.rewrite(entries, 5))
    report = trail.verify()
    assert not report.ok
    assert any("head anchor" in p.location for p in report.problems)


@pytest.mark.parametrize("tail", ["cut", "zeros", "garbage"])
def test_torn_tail_is_truncated_on_reopen_and_that_is_audited(
        tail: str, url_for: Callable[[str], str], make_trail: MakeTrail) -> None:
    """A half-written final record is a note for verify, cut by the next writer, and recorded."""
    url = url_for("jsonl")
    trail = make_trail(url)
    acked = [trail.record("step", {"i": i}).id for i in range(5)]
    segment = tamper.jsonl_segment(url)
    line = segment.read_bytes().splitlines()[-1]
    junk = {"cut": line[: len(line) // 2], "zeros": b"\0" * 300,
            "garbage": os.urandom(200).replace(b"\n", b"x") + b"\n" + os.urandom(50)}[tail]
    with segment.open("ab") as f:
        f.write(junk)
    report = make_trail(url).verify()
    assert report.ok, report.problems
    assert any("unfinished final record" in n for n in report.notes)

    writer = make_trail(url)
    writer.record("after_crash")
    notices = writer.query(action=TAIL_TRUNCATED)
    assert len(notices) == 1 and notices[0].details["bytes"] == len(junk)
    assert {e.id for e in writer.query()} >= set(acked)
    report = writer.verify()
    assert report.ok, report.problems
    assert any("truncated" in n for n in report.notes)


def test_interior_corruption_is_reported_with_its_location_and_never_repaired(
        url_for: Callable[[str], str], make_trail: MakeTrail) -> None:
    """Damage followed by good records is reported (file, line, byte) and left in place."""
    url = url_for("jsonl")
    trail = make_trail(url)
    for i in range(6):
        trail.record("step", {"i": i})
    segment = tamper.jsonl_segment(url)
    data = bytearray(segment.read_bytes())
    start = data.index(b"\n") + 1  # line 2
    data[start + 10] ^= 0x20
    segment.write_bytes(bytes(data))
    before = segment.read_bytes()
    trail.record("more")
    report = trail.verify()
    assert not report.ok
    assert f"{segment} line 2" in report.problems[0].location
    assert segment.read_bytes().startswith(before)  # nothing was rewritten


def _jsonl_faults(failures: list[str]) -> dict[str, object]:
    def fsync(fd: int) -> None:
        if failures and failures[0] == "fsync":
            failures.pop(0)
            raise OSError(errno.EIO, "Input/output error")
        os.fsync(fd)

    def write(fd: int, data: bytes) -> int:
        if failures and failures[0] == "write":
            failures.pop(0)
            os.write(fd, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return os.write(fd, data)
    return {"fsync": fsync, "write": write}


@pytest.mark.parametrize("failure", ["fsync", "write"])
def test_eio_or_enospc_fails_the_batch_and_writing_continues_in_a_new_segment(
        failure: str, url_for: Callable[[str], str], make_trail: MakeTrail) -> None:
    """An fsync EIO or write ENOSPC denies that entry; it is never acknowledged nor kept."""
    url = url_for("jsonl")
    failures: list[str] = []
    trail = make_trail(url, store_options=_jsonl_faults(failures))
    ok = [trail.record("step", {"i": i}).id for i in range(3)]
    failures.append(failure)
    with pytest.raises(AuditDenied, match="denied \\(policy 'deny'\\)"):
        trail.record("lost")
    after = trail.record("after")
    assert after.seq == 5  # 3 acknowledged, then the audit.write_failed record
    ids = [e.id for e in trail.query()]
    assert ids[:3] == ok and after.id in ids
    assert trail.query(action="lost") == []
    notice = trail.query(action=WRITE_FAILED)[0]
    assert notice.details["valid_bytes"] > 0 and failure in ("fsync", "write")
    report = trail.verify()
    assert report.ok, report.problems


def _sql_fault(failing: list[bool]) -> Callable[[str], None]:
    def fault(stage: str) -> None:
        if failing and failing[0]:
            raise OSError(errno.EIO, "injected I/O error at commit")
    return fault


def _faulty(url: str, make_trail: MakeTrail, failing: list[bool], **kw: object) -> AuditTrail:
    if url.startswith("jsonl"):
        def fsync(fd: int) -> None:
            if failing and failing[0]:
                raise OSError(errno.EIO, "injected I/O error")
            os.fsync(fd)
        return make_trail(url, store_options={"fsync": fsync}, **kw)
    return make_trail(url, store_options={"fault": _sql_fault(failing)}, **kw)


def test_deny_policy_refuses_the_action_and_says_why(store_url: str,
                                                     make_trail: MakeTrail) -> None:
    """Under deny (the default) a failed write raises AuditDenied naming the store and fix."""
    trail = _faulty(store_url, make_trail, [True])
    with pytest.raises(AuditDenied, match="KAIZEN_PERF_AUDIT_POLICY"):
        trail.record("tool_execute")
    assert trail.failures == 1


def test_wait_policy_waits_for_the_store_to_recover(store_url: str,
                                                    make_trail: MakeTrail) -> None:
    """Under wait, record() retries (re-writing, never re-syncing) until the store works."""
    failing = [True]
    sleeps: list[float] = []

    def sleep(s: float) -> None:
        sleeps.append(s)
        if len(sleeps) == 3:
            failing[0] = False
    trail = _faulty(store_url, make_trail, failing, policy="wait", sleep=sleep)
    receipt = trail.record("tool_execute")
    assert receipt.durable and len(sleeps) == 3
    assert [e.id for e in trail.query(action="tool_execute")] == [receipt.id]
    assert trail.verify().ok


def test_wait_policy_denies_after_its_timeout(store_url: str, make_trail: MakeTrail) -> None:
    """Under wait, a store that stays broken denies the action after wait_timeout_s."""
    trail = _faulty(store_url, make_trail, [True], policy="wait", wait_timeout_s=0.3)
    with pytest.raises(AuditDenied):
        trail.record("tool_execute")


def test_degrade_policy_continues_and_counts(store_url: str, make_trail: MakeTrail) -> None:
    """Under degrade, record() returns a non-durable receipt, counts it and does not raise."""
    failing = [True]
    trail = _faulty(store_url, make_trail, failing, policy="degrade")
    receipt = trail.record("tool_execute")
    assert not receipt.durable and receipt.seq == -1 and trail.degraded == 1
    failing[0] = False
    assert trail.record("next").durable


def test_prune_removes_old_entries_behind_a_signed_record_and_verify_passes(
        store_url: str, make_trail: MakeTrail) -> None:
    """After prune, old entries are gone, verify passes and names what was pruned."""
    day = 86_400 * 10**9
    clock = [1_700_000_000 * 10**9]
    options = {"max_segment_bytes": 1} if store_url.startswith("jsonl") else {}
    trail = make_trail(store_url, clock=lambda: clock[0], checkpoint_interval=4,
                       store_options=options)
    for i in range(10):
        trail.record("old", {"i": i})
    clock[0] += 40 * day
    for i in range(3):
        trail.record("new", {"i": i})
    removed = trail.prune(timedelta(days=30))
    assert removed >= 10
    assert trail.query(action="old") == []
    assert len(trail.query(action="new")) == 3
    report = trail.verify()
    assert report.ok, report.problems
    assert report.pruned_through >= 10 and any("pruned by retention" in n for n in report.notes)
    retention = trail.query(action="audit.retention")
    assert len(retention) == 1 and retention[0].details["records"] == removed
    trail.record("after_prune")
    assert trail.verify().ok
    assert trail.prune(timedelta(days=30)) == 0 or trail.verify().ok


def test_deleting_the_oldest_records_without_a_retention_record_is_detected(
        store_url: str, make_trail: MakeTrail) -> None:
    """Removing a prefix by hand (not by prune) is reported."""
    reader = _filled(store_url, make_trail)
    entries = tamper.read_all(store_url)
    tamper.write_all(store_url, entries[3:])
    report = reader.verify()
    assert not report.ok
    assert "no signed retention record" in report.problems[0].message


def test_unkeyed_trail_keeps_a_private_key_beside_it(url_for: Callable[[str], str],
                                                     make_trail: MakeTrail) -> None:
    """Without a key, a 0600 key file is created beside the trail and verify says so."""
    url = url_for("sqlite")
    trail = make_trail(url, key=None)
    trail.record("x")
    key_file = Path(url[len("sqlite:///"):] + ".key")
    assert key_file.stat().st_mode & 0o777 == 0o600
    report = make_trail(url, key=None).verify()
    assert report.ok and any("no audit key configured" in n for n in report.notes)
