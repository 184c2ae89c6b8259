"""The timed scopes behind ``agent_loop()`` and ``tool()``: context managers and decorators.

This is the hot path. ``__enter__`` reads the clock and sets the scope
``ContextVar``; ``__exit__`` resets it and enqueues one event. Nothing here may
raise into agent code: a context reset across tasks is tolerated.

A scope holds a :class:`Recorder`, not the monitor: what it needs (agent, clock,
buffer, its bound and high-water mark, the caller's trace root) is bound there once
per monitor, so the hot path is plain attribute reads on one slotted object and
this module does not know the monitor at all.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from contextvars import Token
from random import getrandbits as _rand
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from kaizen_perf._context import CURRENT, Scope
from kaizen_perf.events import LoopEvent, ToolEvent

if TYPE_CHECKING:
    from collections import deque

    from kaizen_perf.collectors.pyroscope import ToolTagger
    from kaizen_perf.events import Event
    from kaizen_perf.pipeline import Pipeline

F = TypeVar("F", bound=Callable[..., Any])

# bound once: attribute lookups are a measurable share of a ~1 µs hook
_get, _set, _reset_fast = CURRENT.get, CURRENT.set, CURRENT.reset
_new = tuple.__new__


class Recorder:
    """What the scopes of one monitor need, bound once (decide once, run cheap).

    ``buf`` is the pipeline's buffer, the same ``deque`` for the pipeline's life (fork
    included); the pipeline itself is read only on the rare paths (wake the dispatcher at
    the high-water mark, count a drop), because its wake event is rebuilt after a fork.
    """

    __slots__ = ("agent_id", "buf", "cap", "clock", "high_water", "pipeline", "root", "tagger")

    def __init__(self, agent_id: str, clock: Callable[[], int], pipeline: Pipeline,
                 root: tuple[int, int] | None) -> None:
        self.agent_id, self.clock, self.pipeline, self.root = agent_id, clock, pipeline, root
        self.buf: deque[Event] = pipeline.buffer
        self.cap, self.high_water = pipeline.capacity, pipeline.high_water
        #: tags profiler samples with the tool (set when Pyroscope profiling starts)
        self.tagger: ToolTagger | None = None

    def relabel(self, agent_id: str) -> Recorder:
        """The same buffer and clock, stamping another agent id (an integration's per-agent
        view of one monitor)."""
        other = Recorder(agent_id, self.clock, self.pipeline, self.root)
        other.tagger = self.tagger
        return other


class _Timed:
    """Base of the timed scopes: trace context and decorator support.

    ``__enter__``/``__exit__`` are written out in each subclass rather than shared
    through helper methods: every Python call costs ~50 ns here.
    """

    __slots__ = ("_name", "_parent", "_rec", "_span", "_start", "_token", "_trace")

    def __init__(self, rec: Recorder, name: str) -> None:
        self._rec, self._name = rec, name

    def __call__(self, fn: F) -> F:
        """Use the scope as a decorator: a fresh scope per call, sync or async."""
        factory, name = type(self), self._name
        rec = self._rec
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with factory(rec, name):
                    return await fn(*args, **kwargs)
            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with factory(rec, name):
                return fn(*args, **kwargs)
        return wrapper  # type: ignore[return-value]

    async def __aenter__(self) -> _Timed:
        return self.__enter__()

    async def __aexit__(self, et: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.__exit__(et, exc, tb)

    def __enter__(self) -> _Timed:
        raise NotImplementedError

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        raise NotImplementedError


def _reset(token: Token[Scope | None]) -> None:
    try:
        CURRENT.reset(token)
    except ValueError:  # exited in another context (generator, task hand-off)
        CURRENT.set(None)


class ToolScope(_Timed):
    """``with mon.tool("web_search"):`` — one tool call."""

    __slots__ = ()

    def __enter__(self) -> ToolScope:
        cur = _get()
        if cur is None:
            root = self._rec.root
            self._trace, self._parent = root if root is not None else (_rand(128), 0)
        else:
            self._trace, self._parent = cur[0], cur[1]
        self._span = span = _rand(64)
        self._token = _set((self._trace, span, self._name))
        self._start = self._rec.clock()
        return self

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        rec = self._rec
        end = rec.clock()
        try:
            _reset_fast(self._token)
        except ValueError:
            _reset(self._token)
        buf = rec.buf
        n = len(buf)
        if n < rec.cap:  # Pipeline.put, inlined
            buf.append(_new(ToolEvent, (rec.agent_id, self._name, self._start, end,
                                        None if et is None else et.__name__,
                                        self._trace, self._span, self._parent, None)))
            if n == rec.high_water:
                rec.pipeline.wake.set()
        else:
            rec.pipeline.count_drop()


class HashedToolScope(ToolScope):
    """``mon.tool(name, arguments=...)``: a tool scope carrying its arguments' digest (loop
    detection). Only this class pays for the digest; plain tool scopes are unchanged."""

    __slots__ = ("_args", "_tag")

    def __init__(self, rec: Recorder, name: str, digest: int | None = None) -> None:
        self._rec, self._name, self._args = rec, name, digest

    def __enter__(self) -> HashedToolScope:
        tagger = self._rec.tagger
        self._tag = None if tagger is None else tagger.enter_tool(self._name)
        ToolScope.__enter__(self)
        return self

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        rec = self._rec
        end = rec.clock()
        try:
            _reset_fast(self._token)
        except ValueError:
            _reset(self._token)
        buf = rec.buf
        n = len(buf)
        if n < rec.cap:  # Pipeline.put, inlined
            buf.append(_new(ToolEvent, (rec.agent_id, self._name, self._start, end,
                                        None if et is None else et.__name__,
                                        self._trace, self._span, self._parent, self._args)))
            if n == rec.high_water:
                rec.pipeline.wake.set()
        else:
            rec.pipeline.count_drop()
        if self._tag is not None and rec.tagger is not None:
            rec.tagger.exit_tool(self._tag)


class TaggedToolScope(ToolScope):
    """A tool scope that also tags profiler samples with the tool (Pyroscope on)."""

    __slots__ = ("_tag",)

    def __enter__(self) -> TaggedToolScope:
        tagger = self._rec.tagger
        self._tag = None if tagger is None else tagger.enter_tool(self._name)
        ToolScope.__enter__(self)
        return self

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        ToolScope.__exit__(self, et, exc, tb)
        tagger = self._rec.tagger
        if tagger is not None and self._tag is not None:
            tagger.exit_tool(self._tag)


class LoopScope(_Timed):
    """``with mon.agent_loop():`` — one iteration of the agent loop."""

    __slots__ = ()

    def __enter__(self) -> LoopScope:
        cur = _get()
        if cur is None:
            root = self._rec.root
            self._trace, self._parent = root if root is not None else (_rand(128), 0)
            tool = None
        else:
            self._trace, self._parent, tool = cur
        self._span = span = _rand(64)
        self._token = _set((self._trace, span, tool))
        self._start = self._rec.clock()
        return self

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        rec = self._rec
        end = rec.clock()
        try:
            _reset_fast(self._token)
        except ValueError:
            _reset(self._token)
        buf = rec.buf
        n = len(buf)
        if n < rec.cap:  # Pipeline.put, inlined
            buf.append(_new(LoopEvent, (rec.agent_id, self._start, end,
                                        None if et is None else et.__name__,
                                        self._trace, self._span, self._parent)))
            if n == rec.high_water:
                rec.pipeline.wake.set()
        else:
            rec.pipeline.count_drop()


class NoopScope:
    """What the scopes become when monitoring is disabled."""

    __slots__ = ()

    def __enter__(self) -> NoopScope:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    async def __aenter__(self) -> NoopScope:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def __call__(self, fn: F) -> F:
        return fn


NOOP = NoopScope()
