"""Bounded event buffer, dispatcher thread and sinks.

The hot path calls :meth:`Pipeline.put`, which appends to a ``deque`` (atomic
under the GIL) unless the buffer is full, in which case the event is dropped and
counted. A dispatcher thread (``kaizen-perf-dispatch``) wakes every
``flush_interval_s``, drains the buffer and hands each batch to every sink.
``drain()`` can also be called from any thread (a scrape does it first so
/metrics is never stale); one lock serialises drains so sinks see events in
order and never concurrently.

A sink failure is counted per sink and logged rate-limited; it never reaches the
agent. ``shutdown()`` stops the thread, drains what is left and closes sinks,
all within one deadline. After ``fork()`` the child gets a fresh buffer, fresh
locks and its own dispatcher; aggregates inherited from the parent are reset.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from kaizen_perf._ratelimit import RateLimitedLog
from kaizen_perf.events import Event

_MAX_BATCH = 8192


class BatchHandler(Protocol):
    """Receives batches of events on the dispatcher thread; must not block for long.
    What a user's sink needs at least; the pipeline adapts it into a :class:`Sink`."""

    def handle(self, batch: Sequence[Event]) -> None: ...


@runtime_checkable
class Sink(Protocol):
    """A pipeline output, and everything it reports (the pipeline merges the reports into
    ``kaizen_perf_events_dropped_total{sink}`` and ``kaizen_perf_export_errors_total``).
    :class:`SinkBase` gives the defaults of a sink that never sheds and loses nothing."""

    #: True when the pipeline may skip this sink's batches while the dispatcher is behind
    #: (spans, log lines); then :meth:`shed` counts the skipped events
    sheddable: bool

    def handle(self, batch: Sequence[Event]) -> None:
        """Take one batch (dispatcher thread, pipeline lock held)."""

    def shed(self, batch: Sequence[Event]) -> None:
        """Count a batch skipped under overload (only called when ``sheddable``)."""

    @property
    def dropped_events(self) -> Mapping[str, int]:
        """Events (or spans) lost inside the sink, by name (``traces-otlp``, ``logs-shed``)."""

    @property
    def export_errors(self) -> Mapping[str, int]:
        """Failed exports by exporter name (``traces-otlp``, ``statsd``, ``forward``)."""


_NOTHING: Mapping[str, int] = MappingProxyType({})


class SinkBase:
    """Defaults for :class:`Sink`: never sheds, loses nothing, no export fails."""

    sheddable: bool = False

    def shed(self, batch: Sequence[Event]) -> None:
        """Never called: this sink is not sheddable."""

    @property
    def dropped_events(self) -> Mapping[str, int]:
        """Nothing dropped."""
        return _NOTHING

    @property
    def export_errors(self) -> Mapping[str, int]:
        """No failed export."""
        return _NOTHING


@runtime_checkable
class Closeable(Protocol):
    """A sink with resources to release within a deadline."""

    def close(self, timeout_s: float) -> None: ...


@runtime_checkable
class ForkAware(Protocol):
    """A sink that must reset state in a forked child."""

    def after_fork(self) -> None: ...


class _Adapted(SinkBase):
    """A :class:`BatchHandler` that is not a full :class:`Sink` (a user's object with only
    ``handle``), with the defaults of :class:`SinkBase`; ``close``/``after_fork`` are
    forwarded when it has them (decided once, here)."""

    def __init__(self, inner: BatchHandler) -> None:
        self.inner = inner
        self._fork = inner.after_fork if isinstance(inner, ForkAware) else None

    def handle(self, batch: Sequence[Event]) -> None:
        """Hand the batch to the wrapped sink."""
        self.inner.handle(batch)

    def after_fork(self) -> None:
        """Forward to the wrapped sink, when it resets state in a child."""
        if self._fork is not None:
            self._fork()


class _AdaptedCloseable(_Adapted):
    def __init__(self, inner: BatchHandler, close: Callable[[float], None]) -> None:
        super().__init__(inner)
        self._close = close

    def close(self, timeout_s: float) -> None:
        """Forward to the wrapped sink."""
        self._close(timeout_s)


def _name(sink: Sink) -> str:
    """The class name a failing sink is counted under (the user's class, not an adapter)."""
    return type(sink.inner if isinstance(sink, _Adapted) else sink).__name__


def as_sink(handler: BatchHandler) -> Sink:
    """``handler`` itself when it is a full :class:`Sink`, else adapted into one."""
    if isinstance(handler, Sink):
        return handler
    if isinstance(handler, Closeable):
        return _AdaptedCloseable(handler, handler.close)
    return _Adapted(handler)


class Pipeline:
    """Bounded buffer + dispatcher thread + sinks."""

    def __init__(self, sinks: Sequence[BatchHandler] = (), *, capacity: int = 65_536,
                 flush_interval_s: float = 0.1, log: RateLimitedLog | None = None) -> None:
        self.capacity = capacity
        #: at this fill level the hot path wakes the dispatcher early (one int compare)
        self.high_water = max(1, capacity // 4)
        #: backlog above which sinks that may shed (spans, the event log) skip batches so
        #: the dispatcher catches up and the metrics stay exact (see drain)
        self.shed_at = max(1, capacity // 8)
        self._interval = flush_interval_s
        self._sinks: list[Sink] = [as_sink(s) for s in sinks]
        self._log = log or RateLimitedLog()
        self._init_state()
        pipeline_ref = weakref.ref(self)

        def _reinit_child() -> None:
            pipeline = pipeline_ref()
            if pipeline is not None:
                pipeline._after_fork_in_child()

        os.register_at_fork(after_in_child=_reinit_child)

    def _init_state(self) -> None:
        if not hasattr(self, "buffer"):
            self.buffer: deque[Event] = deque()
        self.buffer.clear()  # the same object for life: the monitor's hot path holds it
        self.lock = threading.RLock()  # held by drains and by readers of sink state
        self._drop_lock = threading.Lock()
        self._stop = threading.Event()
        self.wake = threading.Event()  # set by the hot path at the high-water mark
        self._thread: threading.Thread | None = None
        self.dropped = 0
        self.sink_errors: dict[str, int] = {}
        self.dispatcher_cpu_s = 0.0
        self.closed = False
        self._started = False

    # -- hot path ---------------------------------------------------------------
    def put(self, event: Event) -> None:
        """Enqueue an event; never blocks. Drops (and counts) when the buffer is full."""
        buf = self.buffer
        n = len(buf)
        if n < self.capacity:
            buf.append(event)
            if n == self.high_water:
                self.wake.set()
        else:
            self.count_drop()

    def count_drop(self) -> None:
        """Count one event dropped because the buffer was full (rare path: a lock is fine)."""
        with self._drop_lock:
            self.dropped += 1

    def count_error(self, name: str) -> None:
        """Count one failed delivery of a component that is not a sink (an alert webhook)
        in ``kaizen_perf_export_errors_total{exporter=name}``."""
        with self._drop_lock:
            self.sink_errors[name] = self.sink_errors.get(name, 0) + 1

    # -- control ------------------------------------------------------------------
    def add_sink(self, sink: BatchHandler) -> None:
        """Attach a sink; it sees events enqueued after the next drain."""
        with self.lock:
            self._sinks = [*self._sinks, as_sink(sink)]

    def remove_sink(self, sink: BatchHandler) -> None:
        """Detach a sink (the one given, or the adapter made for it)."""
        with self.lock:
            self._sinks = [s for s in self._sinks if s is not sink
                           and not (isinstance(s, _Adapted) and s.inner is sink)]

    @property
    def sinks(self) -> tuple[Sink, ...]:
        """The attached sinks."""
        return tuple(self._sinks)

    def dropped_events(self) -> dict[str, int]:
        """Events lost, by where: ``buffer`` (the buffer was full) and each sink's own
        (for ``kaizen_perf_events_dropped_total{sink}``; read under the lock)."""
        merged = {"buffer": self.dropped}
        for sink in self._sinks:
            for name, count in sink.dropped_events.items():
                merged[name] = merged.get(name, 0) + count
        return merged

    def export_errors(self) -> dict[str, int]:
        """Failed deliveries: sinks that raised (by class name), components counted with
        :meth:`count_error`, and each sink's failed exports by exporter name."""
        reported: dict[str, int] = {}
        for sink in self._sinks:
            for name, count in sink.export_errors.items():
                reported[name] = reported.get(name, 0) + count
        return {**self.sink_errors, **reported}

    @property
    def backlog(self) -> int:
        """Events waiting for the dispatcher."""
        return len(self.buffer)

    @property
    def alive(self) -> bool:
        """True while the dispatcher thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the dispatcher thread (idempotent)."""
        if self.alive or self.closed:
            return
        self._stop.clear()
        self._started = True
        self._thread = threading.Thread(target=self._run, name="kaizen-perf-dispatch",
                                        daemon=True)
        self._thread.start()

    def drain(self) -> int:
        """Hand everything buffered to the sinks now; returns how many events were handled."""
        total = 0
        with self.lock:
            buf, popleft = self.buffer, self.buffer.popleft
            while buf:
                behind = len(buf) > self.shed_at
                batch = [popleft() for _ in range(min(len(buf), _MAX_BATCH))]
                total += len(batch)
                for sink in self._sinks:
                    if behind and sink.sheddable:
                        # overload: a sink that may shed skips this batch (and counts it)
                        # so the buffer never fills and every sink that may not (metrics,
                        # audit, forwarding) still gets every event
                        self._deliver_shed(sink, batch)
                    else:
                        self._deliver(sink, batch)
        return total

    def _deliver_shed(self, sink: Sink, batch: Sequence[Event]) -> None:
        try:
            sink.shed(batch)
        except Exception as exc:  # a sink bug must never reach the agent
            name = _name(sink)
            self.sink_errors[name] = self.sink_errors.get(name, 0) + 1
            self._log(f"sink:{name}", f"kaizen-perf sink {name} failed to shed: {exc!r}")

    def _deliver(self, sink: Sink, batch: Sequence[Event]) -> None:
        try:
            sink.handle(batch)
        except Exception as exc:  # a sink bug must never reach the agent
            name = _name(sink)
            self.sink_errors[name] = self.sink_errors.get(name, 0) + 1
            self._log(f"sink:{name}", f"kaizen-perf sink {name} failed on a batch of "
                      f"{len(batch)} events: {exc!r}")

    def _run(self) -> None:
        cpu0 = time.thread_time()
        while not self._stop.is_set():
            self.wake.wait(self._interval)
            self.wake.clear()
            self.drain()
            self.dispatcher_cpu_s = time.thread_time() - cpu0
        self.dispatcher_cpu_s = time.thread_time() - cpu0

    def shutdown(self, timeout_s: float = 5.0) -> bool:
        """Stop the dispatcher, drain, close sinks; returns False if the deadline was hit."""
        deadline = time.monotonic() + timeout_s
        self.closed = True
        self._stop.set()
        self.wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
        if self.lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            self.lock.release()
            self.drain()
        ok = thread is None or not thread.is_alive()
        for sink in self._sinks:
            if isinstance(sink, Closeable):
                ok = _close_with_deadline(sink, deadline) and ok
        return ok

    def _after_fork_in_child(self) -> None:
        # Only the forking thread survives in the child, so the parent's dispatcher is gone
        # (and its Thread object reports not alive): remember whether it ran, then rebuild.
        was_running, closed = self._started, self.closed
        self._init_state()
        self.closed = closed
        for sink in self._sinks:
            if isinstance(sink, ForkAware):
                sink.after_fork()
        if was_running and not closed:
            self.start()


def _close_with_deadline(sink: Closeable, deadline: float) -> bool:
    """Close a sink in a helper thread so a dead backend cannot hold us past the deadline."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return False
    closer = threading.Thread(target=sink.close, args=(remaining,),
                              name="kaizen-perf-close", daemon=True)
    closer.start()
    closer.join(remaining)
    return not closer.is_alive()
