"""What the client integrations share: one tracker per API call, its record, and retry hooks.

A *call* is one SDK method invocation (``messages.create``, ``chat.completions.create``…)
with every HTTP *attempt* the client's own retry loop makes. Each attempt is one
``record_api_call`` (so a 429 storm shows in ``kaizen_api_requests_total{status="error"}``
and as errored ``chat`` spans); the successful or final attempt carries the tokens.
The whole call, retries and time to first token included, is an :class:`ApiCallRecord`
handed to the ``on_call`` callback given to ``instrument()``.

Retries happen inside the client, so we observe them through three methods every
Stainless-generated client (anthropic, openai) has had for years on its
``BaseClient``: ``_build_request`` (an attempt starts), ``_should_retry`` (an error
status came back) and ``_calculate_retry_timeout`` (a retry will follow). They are
private: when one is missing, retries are simply not broken out.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from kaizen_perf._ratelimit import RateLimitedLog
from kaizen_perf.cost.reserve import NOTHING, Reservation
from kaizen_perf.monitor import Monitor, get_monitor

logger = logging.getLogger("kaizen_perf.integrations")
_log = RateLimitedLog(log=logger)
WRAPPED = "__kaizen_perf_wrapped__"


@dataclass(frozen=True)
class Usage:
    """Token counts in kaizen-perf's accounting: ``input_tokens`` excludes every cached token."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0  #: 5-minute cache writes (or writes of unknown duration)
    cache_write_1h_tokens: int = 0


@dataclass(frozen=True)
class Attempt:
    """One failed HTTP attempt the client retried: its status (None: no response) and duration."""

    status_code: int | None
    duration_s: float


@dataclass(frozen=True)
class ApiCallRecord:
    """One SDK call as the agent saw it: every attempt, the tokens and what it cost."""

    provider: str
    operation: str
    model: str
    usage: Usage
    duration_s: float  #: from the call to its end (stream consumed), retries included
    streamed: bool
    time_to_first_token_s: float | None
    stop_reason: str | None
    error: str | None
    status_code: int | None  #: of the final attempt, when an HTTP status error ended the call
    retried: tuple[Attempt, ...]
    request_id: str | None
    response_id: str | None
    cost_usd: float | None

    @property
    def retries(self) -> int:
        """How many times the client retried."""
        return len(self.retried)


OnCall = Callable[[ApiCallRecord], None]


@dataclass
class Recorder:
    """Where finished calls go: a monitor (or the process-wide one, looked up per call)."""

    monitor: Monitor | None = None
    on_call: OnCall | None = None
    clock: Callable[[], float] = time.perf_counter

    def target(self) -> Monitor:
        """The monitor to record into."""
        return self.monitor if self.monitor is not None else get_monitor()


@dataclass
class CallTracker:
    """Mutable state of one call in flight (owned by one thread or task)."""

    recorder: Recorder
    provider: str
    operation: str
    model: str
    streamed: bool = False
    start: float = 0.0
    attempt_start: float = 0.0
    first_token: float | None = None
    retried: list[Attempt] = field(default_factory=list)
    pending_status: int | None = None
    usage: dict[str, int] = field(default_factory=dict)
    stop_reason: str | None = None
    response_model: str | None = None
    request_id: str | None = None
    response_id: str | None = None
    done: bool = False
    #: the worst case held against hard budgets until the call is recorded
    reservation: Reservation = NOTHING
    #: names of the tools the response asked for, in order (its cost is split across them)
    tool_calls: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.start = self.attempt_start = self.recorder.clock()

    def begin_attempt(self) -> None:
        self.attempt_start = self.recorder.clock()
        self.pending_status = None

    def retrying(self) -> None:
        """The client decided to retry the attempt that just failed: record it."""
        now = self.recorder.clock()
        status = self.pending_status
        self.retried.append(Attempt(status, now - self.attempt_start))
        error = "connection_error" if status is None else f"http_{status}"
        self.recorder.target().record_api_call(self.provider, self.model,
                                               duration_s=now - self.attempt_start, error=error,
                                               status_code=status)

    def token_seen(self) -> None:
        if self.first_token is None:
            self.first_token = self.recorder.clock()

    def finish(self, error: BaseException | None = None) -> None:
        """Record the final attempt and the call (once; later calls are ignored)."""
        if self.done:
            return
        self.done = True
        try:
            self._record(error)
        except Exception as exc:  # never into agent code
            _log("record", f"kaizen-perf could not record an API call: {exc!r}")
        finally:  # after the real cost was counted: the budget never forgets the call
            self.reservation.release()

    def _record(self, error: BaseException | None) -> None:
        now, u = self.recorder.clock(), Usage(**self.usage)
        model = self.response_model or self.model
        err = None if error is None else type(error).__name__
        ttft = None if self.first_token is None else self.first_token - self.start
        status = getattr(error, "status_code", None)
        status = status if isinstance(status, int) else None
        cost = self.recorder.target().record_api_call(
            self.provider, model, u.input_tokens, u.output_tokens, u.cache_read_tokens,
            u.cache_write_tokens, max(0.0, now - self.attempt_start), err,
            cache_write_1h_tokens=u.cache_write_1h_tokens, ttft_s=ttft,
            stop_reason=self.stop_reason, status_code=status, request_id=self.request_id,
            tool_calls=tuple(self.tool_calls))
        if self.streamed and not self.usage and error is None:
            _log(f"no-usage:{self.provider}", f"kaizen-perf saw no token usage in a streamed "
                 f"{self.provider} call ({model}): its tokens and cost are not counted. For "
                 "OpenAI chat completions pass stream_options={'include_usage': True}.")
        if self.recorder.on_call is None:
            return
        self.recorder.on_call(ApiCallRecord(
            self.provider, self.operation, model, u, now - self.start, self.streamed, ttft,
            self.stop_reason, err, status,
            tuple(self.retried), self.request_id, self.response_id, cost))


CURRENT_CALL: ContextVar[CallTracker | None] = ContextVar("kaizen_perf_api_call", default=None)


class Patches:
    """Attributes replaced on classes, restored in reverse order."""

    def __init__(self) -> None:
        self._saved: list[tuple[type, str, Any]] = []

    def wrap(self, owner: type, name: str, make: Callable[[Any], Any]) -> None:
        """Replace ``owner.name`` by ``make(original)``; skip if absent or already ours."""
        original = owner.__dict__.get(name)
        if original is None or hasattr(original, WRAPPED):
            return
        wrapper = make(original)
        setattr(wrapper, WRAPPED, original)
        self._saved.append((owner, name, original))
        setattr(owner, name, wrapper)

    def restore(self) -> None:
        while self._saved:
            owner, name, original = self._saved.pop()
            setattr(owner, name, original)


class Instrumentation:
    """One client library's instrumentation: the recorder and the patches in effect.

    ``install`` applies the patches once (later calls only replace the monitor,
    callback and clock); ``uninstall`` restores the library as it was.
    """

    def __init__(self) -> None:
        self.recorder = Recorder()
        self._lock = threading.Lock()
        self._patches: Patches | None = None

    def install(self, monitor: Monitor | None, on_call: OnCall | None,
                clock: Callable[[], float], apply: Callable[[Patches], None]) -> None:
        """Point the recorder at ``monitor``; patch with ``apply`` unless already patched."""
        with self._lock:
            rec = self.recorder
            rec.monitor, rec.on_call, rec.clock = monitor, on_call, clock
            if self._patches is None:
                patches = Patches()
                apply(patches)
                self._patches = patches

    def uninstall(self) -> None:
        """Restore every patched attribute (no-op when not installed)."""
        with self._lock:
            if self._patches is not None:
                self._patches.restore()
                self._patches = None

    @property
    def installed(self) -> bool:
        """Whether the patches are in effect."""
        return self._patches is not None


def patch_retry_hooks(patches: Patches, base_client: type) -> None:
    """Observe the attempts of the client's retry loop (see the module docstring)."""
    patches.wrap(base_client, "_build_request", _around(CallTracker.begin_attempt))
    patches.wrap(base_client, "_calculate_retry_timeout", _around(CallTracker.retrying))

    def should_retry(original: Callable[..., bool]) -> Callable[..., bool]:
        @functools.wraps(original)
        def wrapper(self: Any, response: Any, *args: Any, **kwargs: Any) -> bool:
            tracker = CURRENT_CALL.get()
            if tracker is not None:
                status = getattr(response, "status_code", None)
                tracker.pending_status = status if isinstance(status, int) else None
            return original(self, response, *args, **kwargs)
        return wrapper

    patches.wrap(base_client, "_should_retry", should_retry)


def _around(step: Callable[[CallTracker], None]) -> Callable[[Any], Any]:
    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            tracker = CURRENT_CALL.get()
            if tracker is not None:
                try:
                    step(tracker)
                except Exception as exc:  # never into agent code
                    _log("retry-hook", f"kaizen-perf retry tracking failed: {exc!r}")
            return original(*args, **kwargs)
        return wrapper
    return make


def tool_call_name(call: object) -> str | None:
    """The tool name of one OpenAI-style tool call (``{"function": {"name": …}}``, an SDK
    object with ``.function.name``, or anything with a ``name``), or None."""
    function = call.get("function") if isinstance(call, dict) else getattr(call, "function", None)
    name = function.get("name") if isinstance(function, dict) else getattr(function, "name", None)
    if name is None:
        name = call.get("name") if isinstance(call, dict) else getattr(call, "name", None)
    return name if isinstance(name, str) and name else None


def as_int(value: object) -> int:
    """A token count from a provider's usage object (missing or null counts as 0)."""
    return value if type(value) is int and value >= 0 else 0
