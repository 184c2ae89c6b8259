"""A bounded queue and one export thread: the only way kaizen-perf talks to a backend.

The dispatcher hands items over with :meth:`BatchExporter.offer`, which never
blocks: past ``max_queue`` the oldest waiting items are dropped and counted
(the newest say most about a live problem). The thread
(``kaizen-perf-export-<name>``) sleeps while the queue is empty; once items
arrive it waits ``interval_s`` for a batch to gather (or less, when ``max_batch``
items are waiting) and sends batches of up to ``max_batch``. A failed export is counted,
logged rate-limited, and its items are dropped: retrying would let a dead
backend grow memory. ``close(timeout_s)`` sends what is left (unless the last
export failed: a dead backend would only eat the deadline) but gives up at the
deadline: the thread is a daemon, so a black-holed backend cannot hold the
process past it (OpenTelemetry's own BatchSpanProcessor blocked exit ~30 s).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Generic, TypeVar

from kaizen_perf._ratelimit import RateLimitedLog

T = TypeVar("T")

ExportFn = Callable[[Sequence[T]], bool]


class BatchExporter(Generic[T]):
    """Bounded queue + export thread around one ``export(batch) -> ok`` function."""

    def __init__(self, name: str, export: ExportFn[T], *,
                 shutdown: Callable[[], None] | None = None, max_queue: int = 8192,
                 max_batch: int = 512, interval_s: float = 1.0,
                 log: RateLimitedLog | None = None) -> None:
        self.name = name
        self._export, self._shutdown = export, shutdown
        self._max_queue, self._max_batch, self._interval = max_queue, max_batch, interval_s
        self._log = log or RateLimitedLog()
        self._init_state()

    def _init_state(self) -> None:
        self._queue: deque[T] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None
        self.exported = 0  # items a backend accepted
        self.dropped = 0  # items lost: queue full or a failed export
        self.export_errors = 0  # failed export calls
        self._healthy = True  # did the last export succeed?

    # -- dispatcher side -------------------------------------------------------------------
    def offer(self, items: Iterable[T]) -> None:
        """Queue items for export; never blocks (drops the oldest past ``max_queue``)."""
        with self._lock:
            queue = self._queue
            was_empty = not queue
            queue.extend(items)
            excess = len(queue) - self._max_queue
            if excess > 0:
                for _ in range(excess):
                    queue.popleft()
                self.dropped += excess
            full = len(queue) >= self._max_batch
        if self._thread is None and not self._stop.is_set():
            self._start()
        if full or was_empty:  # full: send now; was empty: the idle thread starts a batch
            self._wake.set()

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"kaizen-perf-export-{self.name}",
                                        daemon=True)
        self._thread.start()

    @property
    def backlog(self) -> int:
        """Items waiting to be exported."""
        return len(self._queue)

    # -- export thread -----------------------------------------------------------------------
    def _take(self) -> list[T]:
        with self._lock:
            n = min(len(self._queue), self._max_batch)
            return [self._queue.popleft() for _ in range(n)]

    def _run(self) -> None:
        wake, stop = self._wake, self._stop
        while not stop.is_set():
            if not self._queue:  # idle: sleep until items arrive (no periodic wake-ups)
                wake.wait()
                wake.clear()
            if not stop.is_set() and len(self._queue) < self._max_batch:
                wake.wait(self._interval)  # let a batch gather, unless it fills first
                wake.clear()
            self._send_all(deadline=None)

    def _send_all(self, deadline: float | None) -> None:
        self._idle.clear()
        try:
            while (batch := self._take()):
                self._send(batch)
                if deadline is not None and time.monotonic() >= deadline:
                    return
                if self._stop.is_set() and deadline is None:
                    return  # close() takes over the rest with its own deadline
        finally:
            self._idle.set()

    def _send(self, batch: list[T]) -> None:
        try:
            ok = self._export(batch)
        except Exception as exc:  # an exporter bug must not kill the thread
            ok = False
            self._log(f"export:{self.name}:raise", f"kaizen-perf {self.name} exporter raised "
                      f"{exc!r}; {len(batch)} items dropped")
        with self._lock:  # the dispatcher updates ``dropped`` too
            self._healthy = ok
            if ok:
                self.exported += len(batch)
                return
            self.export_errors += 1
            self.dropped += len(batch)
        self._log(f"export:{self.name}", f"kaizen-perf could not export {len(batch)} items to "
                  f"{self.name} ({self.export_errors} failed exports so far); the items are "
                  "dropped and counted in kaizen_perf_export_errors_total")

    # -- lifecycle ------------------------------------------------------------------------------
    def close(self, timeout_s: float) -> bool:
        """Export what is queued within ``timeout_s``, then shut the exporter; False if late."""
        deadline = time.monotonic() + max(0.0, timeout_s)
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():  # stuck in a request to a dead backend: abandon it
                with self._lock:
                    self.dropped += len(self._queue)
                    self._queue.clear()
                return False
        if self._healthy:  # a backend that just failed would only eat the deadline
            self._send_all(deadline=deadline)
        with self._lock:
            self.dropped += len(self._queue)
            self._queue.clear()
        if self._shutdown is not None:
            try:
                self._shutdown()
            except Exception as exc:
                self._log(f"export:{self.name}:shutdown", f"kaizen-perf {self.name} exporter "
                          f"failed to shut down: {exc!r}")
        return time.monotonic() < deadline

    def after_fork(self) -> None:
        """In a forked child: forget the parent's queue and thread (the child exports its own)."""
        self._init_state()
