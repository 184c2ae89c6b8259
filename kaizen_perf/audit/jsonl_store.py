"""JSON-lines store: one record per line in size/day-rotated segments, fsync per batch.

Writers in several processes take an exclusive ``flock`` on ``<dir>/.lock``,
read whatever other writers appended since they last looked, write the batch
and fsync it before letting go. A torn tail (a writer died mid-batch) is cut off
by the next writer, and the cut is itself recorded (``audit.tail_truncated``).
A failed write or fsync fails the batch; the segment is cut back to its last
durable size and writing continues in a new segment that starts with an
``audit.write_failed`` record, so nothing written during the failure is ever
acknowledged. The signed head anchor lives in ``<dir>/head.json``.

Between batches the store keeps the lock file and the current segment open.
Under the lock it trusts what it knows about the end of the trail only when
the segment on disk is still the very file it appends to (same inode), exactly
as long as it left it, and no segment starting after its last record exists:
anything another writer did changes one of those. Otherwise it reads the
directory again as on open.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from kaizen_perf.audit import segments as seg
from kaizen_perf.audit.chain import Builder, ChainState, HeadAnchor, Incident, unproven
from kaizen_perf.audit.jsonl_read import JsonlReader
from kaizen_perf.audit.model import TAIL_TRUNCATED, WRITE_FAILED, AuditEntry, canonical
from kaizen_perf.audit.store import PruneBuild
from kaizen_perf.errors import AuditStoreError

HEAD_BYTES = 512  #: the head anchor is rewritten in place, padded to this size


@dataclass(frozen=True, slots=True)
class _Tail:
    """Where this process last saw the end of the trail."""

    segment: str | None
    offset: int
    state: ChainState
    day: str | None


@dataclass(frozen=True, slots=True)
class _Failure:
    segment: str
    valid_bytes: int
    error: str


class JsonlStore(JsonlReader):
    """Audit records as JSON lines in a directory of segments."""

    def __init__(self, directory: str | Path, *, max_segment_bytes: int = 16 << 20,
                 write: Callable[[int, bytes], int] = os.write,
                 fsync: Callable[[int], None] = os.fsync,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(Path(directory))
        self._max, self._write_fn, self._fsync, self._clock = max_segment_bytes, write, fsync, clock
        self._tail: _Tail | None = None
        self._failure: _Failure | None = None
        self._mutex = threading.Lock()
        self._pid = os.getpid()
        self._head_fd: int | None = None
        self._lock_fd: int | None = None
        self._seg: tuple[str, int, int, int] | None = None  # open segment: name, fd, dev, inode
        self._reread = False  # this batch re-read the directory: reopen the lock file next time
        self._where = f"{self.dir}{os.sep}"
        self._today = (-1, "")  # (day number, its date) for the rotation check

    # -- the write path ---------------------------------------------------------------
    def append(self, build: Builder,
               before_sync: Callable[[], None] | None = None) -> Sequence[AuditEntry]:
        """Write one batch and fsync it, under the directory lock."""
        with self._locked():
            return self._append_locked(build, before_sync)

    def _append_locked(self, build: Builder,
                       before_sync: Callable[[], None] | None = None) -> Sequence[AuditEntry]:
        incidents: list[Incident] = []
        tail = self._sync(incidents)
        tail = self._maybe_rotate(tail, incidents)
        batch = build(tail.state, incidents)
        if not batch.records:
            return ()
        self._write(tail, b"".join([s.line() for s in batch.sealed]), before_sync)
        assert self._tail is not None
        self._tail = _Tail(self._tail.segment, self._tail.offset, batch.state, tail.day)
        self._write_head(batch.head)
        return batch.records

    def _write(self, tail: _Tail, data: bytes,
               before_sync: Callable[[], None] | None = None) -> None:
        """One write (looped only if short) and one fsync for the whole batch."""
        assert tail.segment is not None
        fd = self._segment_fd(tail.segment)
        try:
            view = memoryview(data)
            while view:
                view = view[self._write_fn(fd, bytes(view)):]
            if before_sync is not None:
                before_sync()
            self._fsync(fd)
        except OSError as exc:
            self._fail(fd, tail, exc)
        if tail.offset == 0:
            self._sync_dir()
        self._tail = _Tail(tail.segment, tail.offset + len(data), tail.state, tail.day)

    def _segment_fd(self, name: str) -> int:
        if self._seg is not None and self._seg[0] == name:
            return self._seg[1]
        self._close_segment()
        fd = os.open(self.dir / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        st = os.fstat(fd)
        self._seg = (name, fd, st.st_dev, st.st_ino)
        return fd

    def _close_segment(self) -> None:
        seg_, self._seg = self._seg, None
        if seg_ is not None and self._pid == os.getpid():
            with contextlib.suppress(OSError):
                os.close(seg_[1])

    def _fail(self, fd: int, tail: _Tail, exc: OSError) -> None:
        """Never retry an fsync: cut back what this batch wrote and move to a new segment."""
        assert tail.segment is not None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, tail.offset)
        self._close_segment()
        self._failure = _Failure(tail.segment, tail.offset, f"{type(exc).__name__}: {exc}")
        self._tail = None  # re-read the trail from disk before the next batch
        msg = (f"Writing the audit segment {self.dir / tail.segment} failed ({exc}); "
               "the batch was not recorded. Check free space and the disk.")
        raise AuditStoreError(msg) from exc

    def _sync_dir(self) -> None:
        fd = os.open(self.dir, os.O_RDONLY)
        try:
            self._fsync(fd)
        finally:
            os.close(fd)

    def _write_head(self, head: HeadAnchor) -> None:
        # After the batch is durable and never fsynced: a stale head only ever lags behind.
        # One fixed-size pwrite into a file kept open (a rename per batch costs as much as
        # the fsync itself). The JSON of head.to_dict() (hex strings and an int).
        data = (f'{{"seq": {int(head.seq)}, "hash": "{head.hash}", "key_id": "{head.key_id}", '
                f'"mac": "{head.mac}"}}').encode().ljust(HEAD_BYTES - 1) + b"\n"
        try:
            if self._head_fd is None:
                self._head_fd = os.open(self.dir / "head.json", os.O_RDWR | os.O_CREAT, 0o640)
            os.pwrite(self._head_fd, data, 0)
        except OSError:
            self._head_fd = None  # the anchor lags; verify reports it if it stays behind

    # -- finding the end of the trail ------------------------------------------------
    def _sync(self, incidents: list[Incident]) -> _Tail:
        """Catch up with other writers; cut a torn tail (recorded as an incident); record
        an incident when the end found is not the one the signed head anchor names."""
        tail = self._tail
        if tail is not None and self._unchanged(tail):
            return tail
        tail = self._reread_tail(incidents)
        try:
            head = self.head()
        except AuditStoreError:
            head = None  # unreadable (a crash mid-pwrite, or damage): nothing it proves
        cut = any(i.action == TAIL_TRUNCATED for i in incidents)
        found = unproven(tail.state, head)
        if found is not None and not (cut and head is not None and head.seq > tail.state.seq):
            incidents.append(found)  # (acknowledged records cut off are recorded already)
        return tail

    def _reread_tail(self, incidents: list[Incident]) -> _Tail:
        tail = self._tail
        self._reread = True  # reopen every file by name: any of them may have been replaced
        self._close_segment()
        if self._head_fd is not None:
            os.close(self._head_fd)
            self._head_fd = None
        names = seg.segments(self.dir)
        if tail is None or tail.segment not in names:
            tail = _Tail(names[-1] if names else None, 0, seg.state_at_end(self.dir, names), None)
            fresh = True
        else:
            fresh = False
        if tail.segment is None:
            return self._remember(tail)
        later = names[names.index(tail.segment) + 1:]
        state = tail.state
        offset = tail.offset
        for name in [tail.segment, *later]:
            lines = seg.read_lines(self.dir / name, offset if name == tail.segment else 0)
            if name == names[-1]:
                lines, offset = self._cut_torn(name, lines, incidents, state, offset)
            elif lines:
                offset = lines[-1].end
            if not fresh:
                state = seg.advance_over(state, lines)
        day = tail.day if tail.segment == names[-1] and tail.day else self._day_of(names[-1])
        return self._remember(_Tail(names[-1], offset, state, day))

    def _unchanged(self, tail: _Tail) -> bool:
        """True when nobody else wrote since this process did (see the module docstring)."""
        if self._seg is None or tail.segment != self._seg[0]:
            return False
        where = self._where
        try:
            st = os.stat(f"{where}{tail.segment}")
        except OSError:
            return False
        if (st.st_dev, st.st_ino, st.st_size) != (self._seg[2], self._seg[3], tail.offset):
            return False
        return not os.path.exists(f"{where}{seg.segment_name(tail.state.seq + 1)}")

    def _cut_torn(self, name: str, lines: list[seg.Line], incidents: list[Incident],
                  state: ChainState, offset: int) -> tuple[list[seg.Line], int]:
        cut = seg.torn_from(lines)
        if cut is None:
            return lines, lines[-1].end if lines else offset
        at = lines[cut].offset
        path = self.dir / name
        with path.open("rb") as f:
            f.seek(at)
            removed = f.read()
        with path.open("r+b") as f:
            f.truncate(at)
            self._fsync(f.fileno())
        good = lines[:cut]
        last = seg.advance_over(state, good)
        head = self.head()
        incidents.append(Incident(TAIL_TRUNCATED, {
            "segment": name, "offset": at, "bytes": len(removed),
            "sha256": hashlib.sha256(removed).hexdigest(), "last_seq": last.seq,
            "head_seq": head.seq if head else 0}))
        return good, at

    def _maybe_rotate(self, tail: _Tail, incidents: list[Incident]) -> _Tail:
        failure, self._failure = self._failure, None
        if failure is not None:
            incidents.insert(0, Incident(WRITE_FAILED, {
                "segment": failure.segment, "valid_bytes": failure.valid_bytes,
                "error": failure.error}))
        today = self._date()
        rotate = (tail.segment is None or failure is not None or tail.offset >= self._max
                  or (tail.offset > 0 and tail.day is not None and tail.day != today))
        if not rotate:
            return tail
        self.dir.mkdir(parents=True, exist_ok=True)
        name = self._new_name(tail.state.seq + 1)
        return self._remember(_Tail(name, 0, tail.state, today))

    def _date(self) -> str:
        """Today's UTC date (formatted once a day)."""
        now = self._clock()
        day = int(now // 86400)
        if self._today[0] != day:
            self._today = (day, time.strftime("%Y-%m-%d", time.gmtime(now)))
        return self._today[1]

    def _new_name(self, first_seq: int) -> str:
        attempt = 0
        while (self.dir / seg.segment_name(first_seq, attempt)).exists():
            if (self.dir / seg.segment_name(first_seq, attempt)).stat().st_size == 0:
                return seg.segment_name(first_seq, attempt)
            attempt += 1
        return seg.segment_name(first_seq, attempt)

    def _day_of(self, name: str) -> str | None:
        first = seg.first_record(self.dir / name)
        return first.ts[:10] if first else None

    def _remember(self, tail: _Tail) -> _Tail:
        self._tail = tail
        return tail

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if self._pid != os.getpid():
            # forked: the parent's writer may have held the mutex, and the inherited lock
            # file shares the parent's flock: never use (or unlock) the parent's descriptors
            self._pid, self._mutex, self._tail = os.getpid(), threading.Lock(), None
            self._head_fd = self._lock_fd = self._seg = None
        with self._mutex:
            fd = self._lock_fd
            if fd is None:
                self.dir.mkdir(parents=True, exist_ok=True)
                fd = self._lock_fd = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT, 0o640)
            self._reread = False
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                if self._reread:  # the directory may have been replaced: open it anew next time
                    self._lock_fd = None
                    os.close(fd)  # releases the flock
                else:
                    fcntl.flock(fd, fcntl.LOCK_UN)

    # -- retention --------------------------------------------------------------------
    def prune(self, cutoff: str, build: PruneBuild) -> int:
        """Delete whole segments whose every record is older than ``cutoff``."""
        with self._locked():
            names = seg.segments(self.dir)
            old = self.old_segments(names, cutoff)
            boundary = self.boundary(names, old, cutoff)
            if boundary is None:
                return 0
            self._append_locked(build(boundary))
            for name in old:
                (self.dir / name).unlink(missing_ok=True)
            self._sync_dir()
        return boundary.count

    def close(self) -> None:
        """Close the head anchor file."""
        with self._mutex:
            if self._pid == os.getpid():
                for fd in (self._head_fd, self._lock_fd):
                    if fd is not None:
                        os.close(fd)
                self._close_segment()
            self._head_fd = self._lock_fd = self._seg = self._tail = None


def canonical_lines(records: Sequence[AuditEntry]) -> bytes:
    """The bytes of a batch: one canonical JSON object per line."""
    return b"".join(canonical(e.to_dict()) + b"\n" for e in records)
