"""Where JSON log lines go: a stream (stderr) or a file rotated at midnight UTC with retention.

One writer is shared by ``get_logger`` loggers, routed stdlib records and the
hook-event log, so lines never interleave mid-line (one lock, whole lines per
write). A rotated file is named ``<file>.YYYY-MM-DD``; rotated files older than
``retention_days`` are deleted at start-up and at each rotation.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from kaizen_perf.errors import ConfigError

_DAY = 86_400


class LineWriter:
    """Thread-safe writer of whole lines to a stream or a daily-rotated file."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *,
                 stream: IO[str] | None = None, retention_days: int = 30,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = None if path is None else Path(path)
        self._stream_arg = stream
        self._retention = retention_days
        self._now = clock
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        self._rollover_at = 0.0
        self.write_errors = 0
        if self.path is not None:
            self._open()
            self.prune()
        os.register_at_fork(after_in_child=self._reinit_lock)

    def _reinit_lock(self) -> None:
        self._lock = threading.Lock()

    def _open(self) -> None:
        assert self.path is not None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (held open)
        except OSError as exc:
            msg = (f"Cannot open the log file {str(self.path)!r}: {exc.strerror}. Set "
                   "KAIZEN_PERF_LOG_FILE to a writable path, or unset it to log to stderr.")
            raise ConfigError(msg) from None
        now = self._now()
        self._rollover_at = (now // _DAY + 1) * _DAY

    @property
    def stream(self) -> IO[str]:
        """The stream written to now (the open file, or the given stream, or stderr)."""
        if self._file is not None:
            return self._file
        return self._stream_arg if self._stream_arg is not None else sys.stderr

    def write(self, text: str) -> None:
        """Write one or more complete lines (each ending in a newline) and flush."""
        with self._lock:
            try:
                if self.path is not None and self._file is None:
                    self._open()  # written to after close(): reopen rather than lose lines
                if self._file is not None and self._now() >= self._rollover_at:
                    self._rotate()
                stream = self.stream
                stream.write(text)
                stream.flush()
            except (OSError, ValueError, ConfigError):  # disk full, closed: count, never raise
                self.write_errors += 1

    def _rotate(self) -> None:
        assert self._file is not None and self.path is not None
        self._file.close()
        day = datetime.fromtimestamp(self._rollover_at - _DAY, UTC).strftime("%Y-%m-%d")
        target = self.path.with_name(f"{self.path.name}.{day}")
        if not target.exists():
            os.replace(self.path, target)
        self._open()
        self.prune()

    def prune(self) -> list[Path]:
        """Delete rotated files older than the retention; returns what was deleted."""
        if self.path is None:
            return []
        cutoff = datetime.fromtimestamp(self._now(), UTC).date() - timedelta(days=self._retention)
        deleted = []
        for old in self.path.parent.glob(f"{self.path.name}.????-??-??"):
            try:
                day = datetime.strptime(old.name.rsplit(".", 1)[1], "%Y-%m-%d").date()
            except ValueError:
                continue
            if day < cutoff:
                try:
                    old.unlink()
                    deleted.append(old)
                except OSError:
                    self.write_errors += 1
        return deleted

    def close(self) -> None:
        """Close the file (a stream is only flushed)."""
        with self._lock:
            try:
                if self._file is not None:
                    self._file.close()
                    self._file = None
                else:
                    self.stream.flush()
            except (OSError, ValueError):
                self.write_errors += 1
