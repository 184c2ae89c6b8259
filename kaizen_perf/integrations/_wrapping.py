"""Wrappers around SDK methods and the streams they return (shared by anthropic and openai).

A stream is observed by replacing its ``_iterator`` (the generator every SDK
``Stream``/``AsyncStream`` iterates through, and that the ``MessageStream``-style
helpers iterate through too) with one that reads each event on its way to the
caller. The stream object keeps its type, so ``isinstance`` checks in agent code
still hold. The call is recorded when the stream ends, fails or is closed.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Protocol

from kaizen_perf.cost.reserve import reserve_call
from kaizen_perf.errors import BudgetExceeded
from kaizen_perf.integrations._calls import CURRENT_CALL, CallTracker, Recorder, _log


class Reader(Protocol):
    """What a provider adapter knows: how to read its responses and stream events."""

    provider: str

    def response(self, obj: Any, tracker: CallTracker) -> None:
        """Copy usage, model, ids and stop reason from a complete response."""

    def event(self, obj: Any, tracker: CallTracker) -> None:
        """Update the tracker from one stream event."""

    def is_stream(self, obj: Any) -> bool:
        """Whether ``obj`` is one of the SDK's stream classes."""

    def worst_case(self, kwargs: dict[str, Any]) -> tuple[int, int]:
        """Estimated input tokens and the output limit of a request (its keyword arguments)."""


def _tracker(recorder: Recorder, reader: Reader, operation: str,
             kwargs: dict[str, Any]) -> CallTracker:
    """A tracker for a call about to be sent, holding its worst case against hard budgets:
    raises ``BudgetExceeded`` (nothing is sent) when that could pass one."""
    model = kwargs.get("model")
    tracker = CallTracker(recorder, reader.provider, operation,
                          model if isinstance(model, str) and model else "unknown",
                          streamed=kwargs.get("stream") is True)
    try:
        mon = recorder.target()
        if mon.budget.gating:
            tracker.reservation = reserve_call(mon, reader.provider, tracker.model,
                                               *reader.worst_case(kwargs))
    except BudgetExceeded:
        raise  # the opted-in hard stop: the request is not sent
    except Exception as exc:  # never into agent code
        _log("reserve", f"kaizen-perf could not reserve a {reader.provider} call: {exc!r}")
    return tracker


def _settle(result: Any, tracker: CallTracker, reader: Reader, *, is_async: bool) -> Any:
    """Hand back ``result`` after arranging for the call to be recorded."""
    try:
        if reader.is_stream(result):
            tracker.streamed = True
            (observe_async_stream if is_async else observe_stream)(result, tracker, reader)
            return result
        reader.response(result, tracker)
    except Exception as exc:  # never into agent code
        _log("read", f"kaizen-perf could not read a {reader.provider} response: {exc!r}")
    tracker.finish()
    return result


def sync_call(recorder: Recorder, reader: Reader, operation: str) -> Callable[[Any], Any]:
    """Make a wrapper for a synchronous SDK method such as ``Messages.create``."""
    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            tracker = _tracker(recorder, reader, operation, kwargs)
            token = CURRENT_CALL.set(tracker)
            try:
                result = original(self, *args, **kwargs)
            except BaseException as exc:
                tracker.finish(exc)
                raise
            finally:
                CURRENT_CALL.reset(token)
            return _settle(result, tracker, reader, is_async=False)
        return wrapper
    return make


def async_call(recorder: Recorder, reader: Reader, operation: str) -> Callable[[Any], Any]:
    """Make a wrapper for an SDK coroutine method such as ``AsyncMessages.create``."""
    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            tracker = _tracker(recorder, reader, operation, kwargs)
            token = CURRENT_CALL.set(tracker)
            try:
                result = await original(self, *args, **kwargs)
            except BaseException as exc:
                tracker.finish(exc)
                raise
            finally:
                CURRENT_CALL.reset(token)
            return _settle(result, tracker, reader, is_async=True)
        return wrapper
    return make


def _read(reader: Reader, item: Any, tracker: CallTracker) -> None:
    try:
        reader.event(item, tracker)
    except Exception as exc:  # never into agent code
        _log("event", f"kaizen-perf could not read a {reader.provider} stream event: {exc!r}")


def observe_stream(stream: Any, tracker: CallTracker, reader: Reader) -> None:
    """Route a sync SDK stream's events through ``reader`` (recorded when it ends)."""
    inner: Iterator[Any] = stream._iterator

    def observed() -> Iterator[Any]:
        error: BaseException | None = None
        try:
            for item in inner:
                _read(reader, item, tracker)
                yield item
        except GeneratorExit:  # the caller stopped reading: not an API error
            raise
        except BaseException as exc:
            error = exc
            raise
        finally:
            close = getattr(inner, "close", None)
            if close is not None:
                close()
            tracker.finish(error)

    stream._iterator = observed()


def observe_async_stream(stream: Any, tracker: CallTracker, reader: Reader) -> None:
    """Route an async SDK stream's events through ``reader`` (recorded when it ends)."""
    inner: AsyncIterator[Any] = stream._iterator

    async def observed() -> AsyncIterator[Any]:
        error: BaseException | None = None
        try:
            async for item in inner:
                _read(reader, item, tracker)
                yield item
        except GeneratorExit:
            raise
        except BaseException as exc:
            error = exc
            raise
        finally:
            aclose = getattr(inner, "aclose", None)
            if aclose is not None:
                await aclose()
            tracker.finish(error)

    stream._iterator = observed()


class StreamManager:
    """Stands in for a ``…StreamManager`` whose ``__enter__`` sends the request.

    The request is timed from ``__enter__``; the helper stream it returns reads a raw
    SDK stream (``_raw_stream``), which is the one observed.
    """

    def __init__(self, inner: Any, recorder: Recorder, reader: Reader, operation: str,
                 kwargs: dict[str, Any]) -> None:
        self._inner, self._recorder, self._reader = inner, recorder, reader
        self._operation, self._kwargs = operation, kwargs

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _begin(self) -> CallTracker:
        tracker = _tracker(self._recorder, self._reader, self._operation, self._kwargs)
        tracker.streamed = True
        return tracker

    def _observe(self, helper: Any, tracker: CallTracker, *, is_async: bool) -> None:
        raw = getattr(helper, "_raw_stream", None)
        if raw is None or not self._reader.is_stream(raw):
            _log("helper", "kaizen-perf cannot observe this SDK version's stream helper; "
                 "its calls are not recorded (use create(stream=True) instead).")
            tracker.reservation.release()
            return
        (observe_async_stream if is_async else observe_stream)(raw, tracker, self._reader)

    def __enter__(self) -> Any:
        tracker = self._begin()
        token = CURRENT_CALL.set(tracker)
        try:
            helper = self._inner.__enter__()
        except BaseException as exc:
            tracker.finish(exc)
            raise
        finally:
            CURRENT_CALL.reset(token)
        self._observe(helper, tracker, is_async=False)
        return helper

    def __exit__(self, *exc_info: Any) -> Any:
        return self._inner.__exit__(*exc_info)

    async def __aenter__(self) -> Any:
        tracker = self._begin()
        token = CURRENT_CALL.set(tracker)
        try:
            helper = await self._inner.__aenter__()
        except BaseException as exc:
            tracker.finish(exc)
            raise
        finally:
            CURRENT_CALL.reset(token)
        self._observe(helper, tracker, is_async=True)
        return helper

    async def __aexit__(self, *exc_info: Any) -> Any:
        return await self._inner.__aexit__(*exc_info)


def stream_helper(recorder: Recorder, reader: Reader, operation: str) -> Callable[[Any], Any]:
    """Make a wrapper for a ``stream()`` helper that returns a stream manager."""
    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            return StreamManager(original(self, *args, **kwargs), recorder, reader, operation,
                                 kwargs)
        return wrapper
    return make
