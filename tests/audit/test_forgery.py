"""Forgeries a SHA-256 chain alone cannot catch: appended records, signed-over tampering,
crash gaps, and stretches without a checkpoint."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from kaizen_perf.audit import AuditTrail
from kaizen_perf.audit.chain import Chainer, ChainState
from kaizen_perf.audit.model import UNPROVEN
from kaizen_perf.cli.main import main
from tests.audit import tamper
from tests.audit.conftest import KEY

MakeTrail = Callable[..., AuditTrail]


def _written(url: str, make_trail: MakeTrail, n: int, **options: object) -> AuditTrail:
    trail = make_trail(url, **options)
    for i in range(n):
        trail.record("step", {"i": i}, user_id="alice")
    return trail


@pytest.mark.parametrize("count", [5, 200])
def test_an_appended_forgery_is_unverified_and_the_cli_exits_1_naming_its_range(
        count: int, store_url: str, make_trail: MakeTrail,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Records appended with a correct SHA-256 chain but no key fail verify with their range."""
    _written(store_url, make_trail, 10).close()
    entries = tamper.read_all(store_url)
    last = entries[-1].seq
    tamper.write_all(store_url, tamper.append_forged(entries, count))
    report = make_trail(store_url).verify()
    assert not report.ok
    assert [(u.first_seq, u.last_seq) for u in report.unverified] == [(last + 1, last + count)]
    monkeypatch.setenv("KAIZEN_PERF_AUDIT_KEY", KEY.decode())
    assert main(["audit", "verify", "--url", store_url]) == 1
    out = capsys.readouterr().out
    assert "NOT VERIFIED" in out and f"seq {last + 1}..{last + count}" in out
    assert main(["audit", "verify", "--url", store_url, "--format", "json"]) == 1
    found = json.loads(capsys.readouterr().out)["unverified"]
    assert [(u["first_seq"], u["last_seq"]) for u in found] == [(last + 1, last + count)]


def test_a_writer_never_signs_over_a_forged_suffix(store_url: str,
                                                   make_trail: MakeTrail) -> None:
    """A writer that finds unsigned records records the fact, so verify keeps reporting them
    after later signed records and checkpoints."""
    _written(store_url, make_trail, 6, checkpoint_interval=4).close()
    entries = tamper.read_all(store_url)
    last = entries[-1].seq
    tamper.write_all(store_url, tamper.append_forged(entries, 5))
    writer = _written(store_url, make_trail, 9, checkpoint_interval=4)
    notices = writer.query(action=UNPROVEN)
    assert len(notices) == 1 and notices[0].details["last_seq"] == last + 5
    report = writer.verify()
    assert not report.problems, report.problems
    assert [(u.first_seq, u.last_seq) for u in report.unverified] == [(last + 1, last + 5)]


def test_records_cut_off_before_a_writer_reopens_stay_a_problem(
        store_url: str, make_trail: MakeTrail) -> None:
    """Truncation followed by new signed appends is still reported with the range removed."""
    _written(store_url, make_trail, 8).close()
    entries = tamper.read_all(store_url)
    tamper.write_all(store_url, entries[:-3])
    cut_from, cut_to = entries[-3].seq, entries[-1].seq
    writer = _written(store_url, make_trail, 2)
    report = writer.verify()
    assert not report.ok
    assert any(f"records {cut_from}..{cut_to} were removed" in p.message
               for p in report.problems), report.problems


def test_a_rewritten_last_record_is_not_signed_over_by_the_next_writer(
        store_url: str, make_trail: MakeTrail) -> None:
    """Editing the newest record (hash recomputed) and letting a writer append is detected."""
    _written(store_url, make_trail, 5, checkpoint_interval=100)
    entries = tamper.read_all(store_url)
    tamper.write_all(store_url, tamper.rewrite(entries, entries[-1].seq))
    writer = _written(store_url, make_trail, 2, checkpoint_interval=100)
    report = writer.verify()
    assert any(f"record seq {entries[-1].seq} differs" in p.message for p in report.problems)


def test_crash_recovery_proves_what_a_checkpoint_covers_and_reports_the_rest(
        store_url: str, make_trail: MakeTrail) -> None:
    """Records past a stale head are proven up to the last checkpoint among them; only the
    records after it are reported unverified, and later appends verify."""
    trail = _written(store_url, make_trail, 3, checkpoint_interval=4)
    stale = trail.store.head()
    assert stale is not None and stale.seq == 3
    for i in range(4):  # seq 4, checkpoint 5, seq 6..8
        trail.record("more", {"i": i})
    assert tamper.read_all(store_url)[4].action == "audit.checkpoint"
    tamper.set_head(store_url, stale)  # the head a crash before its update leaves
    writer = _written(store_url, make_trail, 2, checkpoint_interval=4)
    report = writer.verify()
    assert not report.problems, report.problems
    assert [(u.first_seq, u.last_seq) for u in report.unverified] == [(6, 8)]
    assert "found unsigned when the trail was reopened" in report.unverified[0].reason


def test_a_stretch_longer_than_the_declared_interval_is_a_problem(
        url_for: Callable[[str], str], make_trail: MakeTrail,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer that stops checkpointing (a removed or skipped checkpoint) fails verify."""
    url = url_for("sqlite")
    trail = _written(url, make_trail, 4, checkpoint_interval=4)  # checkpoint at seq 5
    monkeypatch.setattr(Chainer, "_due", lambda self, state: 10**9)  # a broken writer
    for i in range(9):
        trail.record("more", {"i": i})
    report = trail.verify()
    assert any("records 6..14: 9 records after the last signed checkpoint" in p.message
               for p in report.problems), report.problems


@pytest.mark.parametrize("kind", ["sqlite", "jsonl"])
def test_writers_with_different_intervals_keep_every_stretch_within_the_declared_one(
        kind: str, url_for: Callable[[str], str], make_trail: MakeTrail) -> None:
    """Two writers with intervals 3 and 50 interleave; the trail verifies (each stretch keeps
    the interval the checkpoint before it declared)."""
    url = url_for(kind)
    small = make_trail(url, checkpoint_interval=3)
    large = make_trail(url, checkpoint_interval=50)
    for i in range(40):
        (small if i % 7 == 0 else large).record("step", {"i": i})
    report = large.verify()
    assert report.ok, (report.problems, report.unverified)
    assert report.checkpoints >= 10


def test_chain_state_carries_the_declared_interval() -> None:
    """A checkpoint's declared interval bounds the next stretch, whichever writer adds it."""
    chainer = Chainer.__new__(Chainer)
    chainer.interval = 50
    assert chainer._due(ChainState(10, "h", 10, "m", 3)) == 3
    assert chainer._due(ChainState(10, "h", 10, "m", 0)) == 50


@pytest.mark.parametrize("kind", ["sqlite", "jsonl"])
def test_verify_during_live_writes_reports_nothing_unverified(
        kind: str, url_for: Callable[[str], str], make_trail: MakeTrail) -> None:
    """A trail being written while it is verified is never reported as forged or broken."""
    import threading

    url = url_for(kind)
    writer = make_trail(url, checkpoint_interval=16)
    writer.record("start")
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():
            writer.record("step", {"n": 1})

    thread = threading.Thread(target=write)
    thread.start()
    try:
        reader = make_trail(url)
        reports = [reader.verify() for _ in range(5)]
    finally:
        stop.set()
        thread.join(30)
    assert [(r.problems, r.unverified) for r in reports if not r.ok] == []
