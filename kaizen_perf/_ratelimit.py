"""Rate-limited logging for background failures (never more than one line per key per period)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger("kaizen_perf")


class RateLimitedLog:
    """Log a message at most once per ``period_s`` per key; count what was suppressed."""

    def __init__(self, period_s: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 log: logging.Logger = logger) -> None:
        self._period, self._clock, self._log = period_s, clock, log
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, key: str, message: str, *, level: int = logging.WARNING) -> None:
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._period:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return
            self._last[key] = now
            skipped = self._suppressed.pop(key, 0)
        suffix = f" ({skipped} similar messages suppressed)" if skipped else ""
        self._log.log(level, "%s%s", message, suffix)
