"""kill -9 at random points, simulated power loss, and many processes on one store."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from kaizen_perf.audit import AuditTrail
from tests.audit import tamper

ROOT = Path(__file__).resolve().parents[2]
MakeTrail = Callable[..., AuditTrail]


def _child(url: str, threads: int, count: int, mode: str, synclog: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.audit.child_writer", url, str(threads), str(count), mode,
         str(synclog)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _acks(output: str) -> set[str]:
    return {line.split()[0] for line in output.splitlines() if line.count(" ") == 1}


def _kill_at_random(url: str, mode: str, synclog: Path, rng: random.Random) -> set[str]:
    """Start a writer, kill -9 it after a random number of acknowledgements, return them all."""
    child = _child(url, 4, 0, mode, synclog)
    assert child.stdout is not None and child.stderr is not None
    # the readiness signal is the writer's own acknowledgements, not a sleep: a busy machine
    # can take seconds to import before the first one
    target = rng.randint(20, 400)
    watchdog = threading.Timer(120, child.kill)  # a writer that hangs fails, never blocks
    watchdog.start()
    seen: list[str] = []
    try:
        for line in child.stdout:
            seen.append(line)
            if len(seen) >= target:
                break
        child.send_signal(signal.SIGKILL)
        # the acknowledgements printed between the last line read and the kill count too
        seen.append(child.stdout.read())
        err = child.stderr.read()
        child.wait(30)
    finally:
        watchdog.cancel()
    assert len(seen) > target, f"the writer stopped after {len(seen)} lines: {err}"
    assert child.returncode == -signal.SIGKILL, err
    return _acks("".join(seen))


def _power_loss(url: str, synclog: Path, rng: random.Random) -> None:
    """Drop what was never fsynced (keeping a random part of it, as a real disk may)."""
    synced: dict[str, int] = {}
    if synclog.exists():
        for line in synclog.read_text().splitlines():
            path, size = line.split("\t")
            synced[path] = max(synced.get(path, 0), int(size))
    for segment in tamper.jsonl_segment(url).parent.glob("audit-*.jsonl"):
        durable = synced.get(str(segment.resolve()), 0)
        size = segment.stat().st_size
        keep = durable + int(rng.random() * (size - durable) * 0.5)
        os.truncate(segment, min(size, keep))
    synclog.unlink(missing_ok=True)


def _crash_rounds(url: str, mode: str, power_loss: bool, make_trail: MakeTrail,
                  tmp_path: Path, rounds: int = 3) -> tuple[set[str], list[str]]:
    """Kill a writer several times; return acknowledged ids missing after recovery, and problems."""
    rng = random.Random(1234)
    synclog = tmp_path / "synced.log"
    missing: set[str] = set()
    problems: list[str] = []
    for _ in range(rounds):
        acked = _kill_at_random(url, mode, synclog, rng)
        assert acked, "the writer acknowledged nothing before the kill"
        if power_loss:
            _power_loss(url, synclog, rng)
        trail = make_trail(url)
        trail.record("after_crash")  # appends continue (and a torn tail gets cut)
        missing |= acked - {e.id for e in trail.query()}
        report = trail.verify()
        problems += [str(p) for p in report.problems]
        # records a crash left past the signed head can be reported unverified, but never
        # an acknowledged one: acknowledgement comes after the head that signs it
        by_seq = {e.seq: e.id for e in trail.query(include_checkpoints=True)}
        problems += [f"acknowledged record {by_seq[seq]} reported unverified ({u})"
                     for u in report.unverified for seq in range(u.first_seq, u.last_seq + 1)
                     if by_seq.get(seq) in acked]
        trail.close()
    return missing, problems


@pytest.mark.parametrize("kind", ["sqlite", "jsonl", "postgres"])
def test_kill_9_loses_no_acknowledged_entry(kind: str, url_for: Callable[[str], str],
                                            make_trail: MakeTrail, tmp_path: Path) -> None:
    """After kill -9 during appends by 4 threads, every acknowledged entry is there and verifies."""
    missing, problems = _crash_rounds(url_for(kind), "real", False, make_trail, tmp_path)
    assert not missing
    assert not problems


def test_power_loss_after_kill_loses_no_acknowledged_entry(
        url_for: Callable[[str], str], make_trail: MakeTrail, tmp_path: Path) -> None:
    """Dropping every byte that was not fsynced still keeps every acknowledged entry."""
    missing, problems = _crash_rounds(url_for("jsonl"), "real", True, make_trail, tmp_path)
    assert not missing
    assert not problems


def test_negative_control_a_writer_that_acks_without_fsync_is_caught(
        url_for: Callable[[str], str], make_trail: MakeTrail, tmp_path: Path) -> None:
    """The same harness against a writer that never fsyncs reports lost acknowledged entries."""
    missing, problems = _crash_rounds(url_for("jsonl"), "none", True, make_trail, tmp_path,
                                      rounds=1)
    assert missing or problems, "the crash harness cannot detect a broken writer"


@pytest.mark.parametrize("kind", ["sqlite", "jsonl", "postgres"])
def test_four_processes_append_to_one_trail(kind: str, url_for: Callable[[str], str],
                                            make_trail: MakeTrail, tmp_path: Path) -> None:
    """4 processes x 4 threads on one store: one gap-free chain holding every entry."""
    url = url_for(kind)
    make_trail(url).record("init")  # create the store (and its key) before the race
    children = [_child(url, 4, 25, "real", tmp_path / f"sync{n}.log") for n in range(4)]
    acked: set[str] = set()
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        acked |= _acks(out)
    assert len(acked) == 400
    trail = make_trail(url)
    entries = trail.query(action="step")
    assert {e.id for e in entries} == acked
    assert len({e.agent_id for e in entries}) == 4
    report = trail.verify()
    assert report.ok, report.problems
