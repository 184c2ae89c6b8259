"""The timed scopes behind ``agent_loop()`` and ``tool()``: context managers and decorators.

This is the hot path. ``__enter__`` reads the clock and sets the scope
``ContextVar``; ``__exit__`` resets it and enqueues one event. Nothing here may
raise into agent code: a context reset across tasks is tolerated.
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
    from kaizen_perf.monitor import Monitor

F = TypeVar("F", bound=Callable[..., Any])

# bound once: attribute lookups are a measurable share of a ~1 µs hook
_get, _set, _reset_fast = CURRENT.get, CURRENT.set, CURRENT.reset
_new = tuple.__new__


class _Timed:
    """Base of the timed scopes: trace context and decorator support.

    ``__enter__``/``__exit__`` are written out in each subclass rather than shared
    through helper methods: every Python call costs ~50 ns here.
    """

    __slots__ = ("_mon", "_name", "_parent", "_span", "_start", "_token", "_trace")

    def __init__(self, mon: Monitor, name: str) -> None:
        self._mon, self._name = mon, name

    def __call__(self, fn: F) -> F:
        """Use the scope as a decorator: a fresh scope per call, sync or async."""
        factory, name = type(self), self._name
        mon = self._mon
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with factory(mon, name):
                    return await fn(*args, **kwargs)
            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with factory(mon, name):
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
            root = self._mon._root
            self._trace, self._parent = root if root is not None else (_rand(128), 0)
        else:
            self._trace, self._parent = cur[0], cur[1]
        self._span = span = _rand(64)
        self._token = _set((self._trace, span, self._name))
        self._start = self._mon._clock()
        return self

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        mon = self._mon
        end = mon._clock()
        try:
            _reset_fast(self._token)
        except ValueError:
            _reset(self._token)
        buf = mon._buf
        n = len(buf)
        if n < mon._cap:  # Pipeline.put, inlined
            buf.append(_new(ToolEvent, (mon.agent_id, self._name, self._start, end,
                                        None if et is None else et.__name__,
                                        self._trace, self._span, self._parent, None)))
            if n == mon._high_water:
                mon.pipeline.wake.set()
        else:
            mon.pipeline.count_drop()


class HashedToolScope(ToolScope):
    """``mon.tool(name, arguments=...)``: a tool scope carrying its arguments' digest (loop
    detection). Only this class pays for the digest; plain tool scopes are unchanged."""

    __slots__ = ("_args", "_tag")

    def __init__(self, mon: Monitor, name: str, digest: int | None = None) -> None:
        self._mon, self._name, self._args = mon, name, digest

    def __enter__(self) -> HashedToolScope:
        mon = self._mon
        self._tag = (mon._tagger.enter_tool(self._name)
                     if mon._tool_scope is TaggedToolScope else None)
        ToolScope.__enter__(self)
        return self

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        mon = self._mon
        end = mon._clock()
        try:
            _reset_fast(self._token)
        except ValueError:
            _reset(self._token)
        buf = mon._buf
        n = len(buf)
        if n < mon._cap:  # Pipeline.put, inlined
            buf.append(_new(ToolEvent, (mon.agent_id, self._name, self._start, end,
                                        None if et is None else et.__name__,
                                        self._trace, self._span, self._parent, self._args)))
            if n == mon._high_water:
                mon.pipeline.wake.set()
        else:
            mon.pipeline.count_drop()
        if self._tag is not None:
            mon._tagger.exit_tool(self._tag)


class TaggedToolScope(ToolScope):
    """A tool scope that also tags profiler samples with the tool (Pyroscope on)."""

    __slots__ = ("_tag",)

    def __enter__(self) -> TaggedToolScope:
        self._tag = self._mon._tagger.enter_tool(self._name)
        ToolScope.__enter__(self)
        return self

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        ToolScope.__exit__(self, et, exc, tb)
        self._mon._tagger.exit_tool(self._tag)


class LoopScope(_Timed):
    """``with mon.agent_loop():`` — one iteration of the agent loop."""

    __slots__ = ()

    def __enter__(self) -> LoopScope:
        cur = _get()
        if cur is None:
            root = self._mon._root
            self._trace, self._parent = root if root is not None else (_rand(128), 0)
            tool = None
        else:
            self._trace, self._parent, tool = cur
        self._span = span = _rand(64)
        self._token = _set((self._trace, span, tool))
        self._start = self._mon._clock()
        return self

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        mon = self._mon
        end = mon._clock()
        try:
            _reset_fast(self._token)
        except ValueError:
            _reset(self._token)
        buf = mon._buf
        n = len(buf)
        if n < mon._cap:  # Pipeline.put, inlined
            buf.append(_new(LoopEvent, (mon.agent_id, self._start, end,
                                        None if et is None else et.__name__,
                                        self._trace, self._span, self._parent)))
            if n == mon._high_water:
                mon.pipeline.wake.set()
        else:
            mon.pipeline.count_drop()


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
