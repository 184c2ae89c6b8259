"""Hook events → span records → OpenTelemetry spans, all off the hot path.

The hot path already chose every id (``trace_id``, ``span_id``, ``parent_id``)
and read the clock. The dispatcher only turns each span event into a
:data:`SpanRecord` (ids resolved, sampled); the OTLP exporter encodes records
straight to protobuf, and SDK exporters (console, in-memory) get finished
``ReadableSpan`` objects with exactly those ids and times from :meth:`SpanBuilder.to_sdk`,
built only when such an exporter is used. Going through a ``Tracer`` would
mean new random ids, a ``SpanProcessor`` on the agent's thread, and the SDK's
exit hooks that block on a dead backend.

Span per event:

=====================  =========================  ========
event                  span name                  kind
=====================  =========================  ========
LoopEvent              ``invoke_agent {agent}``   INTERNAL
ToolEvent              ``execute_tool {tool}``    INTERNAL
ApiCallEvent           ``chat {model}``           CLIENT
PermissionEvent        ``permission_check {tool}``  INTERNAL
CheckpointEvent        ``checkpoint {op}``        INTERNAL
HookEvent              ``hook {hook}``            INTERNAL
ControlEvent           ``control_request {kind}``  INTERNAL
InterruptEvent         ``interrupt {kind}`` (0 s)  INTERNAL
TaskEvent              ``task {task_type}``       INTERNAL
=====================  =========================  ========
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from kaizen_perf._context import new_trace_id
from kaizen_perf._version import __version__
from kaizen_perf.cost import usd
from kaizen_perf.events import (
    ApiCallEvent,
    CheckpointEvent,
    ControlEvent,
    Event,
    HookEvent,
    InterruptEvent,
    LoopEvent,
    PermissionEvent,
    TaskEvent,
    ToolEvent,
)
from kaizen_perf.redact import Redactor
from kaizen_perf.tracing import genai as g

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_OK = Status(StatusCode.UNSET)
SCOPE = InstrumentationScope("kaizen_perf", __version__)


@dataclass(frozen=True)
class SpanData:
    """What a span needs besides its ids: the sampler looks at it before a span is built."""

    name: str
    kind: SpanKind
    start_ns: int  # wall clock
    end_ns: int
    error: str | None
    attributes: dict[str, Any]


Keep = Callable[[int, int, str | None], bool]
"""``keep(trace_id, duration_ns, error)``: the sampler's decision."""

SPAN_EVENTS: tuple[type, ...] = (LoopEvent, ToolEvent, ApiCallEvent, PermissionEvent,
                                  CheckpointEvent, HookEvent, ControlEvent, InterruptEvent,
                                  TaskEvent)
"""The event types that become spans; a record's first item is an index in this tuple."""
LOOP, TOOL = SPAN_EVENTS.index(LoopEvent), SPAN_EVENTS.index(ToolEvent)
API = SPAN_EVENTS.index(ApiCallEvent)
_WIDTHS = tuple(len(kind._fields) for kind in SPAN_EVENTS)  # type: ignore[attr-defined]

SpanRecord = tuple[Any, ...]
"""A span waiting for export: ``(type, trace_id, parent_id, remote_parent, offset_ns,
*event[, link_trace_id, link_span_id])``, the event's own fields following the five
resolved ones; a tool span that a model response asked for ends with the ``chat``
span it links to (:class:`ToolRequests`).

``type`` indexes :data:`SPAN_EVENTS`; ``trace_id``/``parent_id`` are resolved
(0: a root); ``remote_parent`` says the parent is the caller's (``TRACEPARENT``);
``offset_ns`` turns perf-counter readings into Unix ns. A flat, exact tuple of
numbers and strings: cheap to build (~50 ns) and, unlike the event (a
``NamedTuple``, which the garbage collector always tracks), untracked by the
collector, so a queue of thousands of records costs collections nothing.
Exporters encode records straight to OTLP (:mod:`kaizen_perf.exporters.otlp_records`)
or turn them into SDK spans (:meth:`SpanBuilder.to_sdk`) only when an SDK exporter
needs them.
"""


class ToolRequests:
    """Which ``chat`` span asked for each tool: the span link of an ``execute_tool`` span.

    Dispatcher thread only. A response that asks for tools (``ApiCallEvent.tool_calls``)
    leaves one pending request per tool call, keyed by (agent, scope trace, tool name);
    the next tool span with that key takes the oldest one (first in, first out). Events
    reach the dispatcher in the order they were recorded, and a tool runs after the
    response that asked for it, so parallel calls of one response each find their own
    request. A tool no response asked for finds none and gets no link. Bounded: past
    :data:`MAX_KEYS` keys the oldest key is forgotten, and one key keeps the newest
    :data:`MAX_PER_KEY` requests (requests for tools the agent never ran age out so).
    """

    MAX_KEYS = 10_000
    MAX_PER_KEY = 256

    def __init__(self) -> None:
        #: (agent, scope trace, tool name) → the asking chat spans, oldest first
        # lists, not deques: a queue is nearly always one or two long and short-lived, and a
        # list is made in a third of a deque's time
        self.pending: dict[tuple[str, int, str], list[tuple[int, int]]] = {}

    def asked(self, event: ApiCallEvent, trace_id: int) -> None:
        """A response asked for ``event.tool_calls``: its span is ``(trace_id, span_id)``."""
        pending = self.pending
        target = (trace_id, event.span_id)
        agent, trace = event.agent, event.trace_id
        for name in event.tool_calls:
            key = (agent, trace, name)
            queue = pending.get(key)
            if queue is None:
                if len(pending) >= self.MAX_KEYS:
                    del pending[next(iter(pending))]
                pending[key] = [target]
            else:
                queue.append(target)
                if len(queue) > self.MAX_PER_KEY:
                    del queue[0]

    def take(self, event: ToolEvent) -> tuple[int, int] | None:
        """The ``(trace_id, span_id)`` of the chat span that asked for this tool, if any."""
        key = (event.agent, event.trace_id, event.tool)
        queue = self.pending.get(key)
        if queue is None:
            return None
        if len(queue) == 1:
            del self.pending[key]
            return queue[0]
        return queue.pop(0)

    def clear(self) -> None:
        """Forget every pending request (a forked child starts afresh)."""
        self.pending.clear()


class SpanBuilder:
    """Turns hook events into span records, and records into finished SDK spans with the
    events' own ids and times."""

    def __init__(self, *, resource: Resource, redactor: Redactor,
                 root: tuple[int, int] | None = None,
                 conventions: g.Conventions = g.DEFAULT) -> None:
        self._resource, self._redact = resource, redactor.redact_text
        self._root = root
        # decided once (OTEL_SEMCONV_STABILITY_OPT_IN): which names a chat span carries
        self.conventions = conventions
        self._cache_write_keys = conventions.cache_write_keys
        self._cost_amount = conventions.latest
        self._describe: dict[type, Callable[[Any, int], SpanData]] = {
            LoopEvent: self._loop, ToolEvent: self._tool, ApiCallEvent: self._chat,
            PermissionEvent: self._permission, CheckpointEvent: self._checkpoint,
            HookEvent: self._hook, ControlEvent: self._control,
            InterruptEvent: self._interrupt, TaskEvent: self._task,
        }
        self._codes = {kind: i for i, kind in enumerate(SPAN_EVENTS)}
        self.tool_requests = ToolRequests()

    @property
    def resource(self) -> Resource:
        """The resource (``service.name``…) of every span."""
        return self._resource

    def records(self, batch: Sequence[Event], offset_ns: int,
                keep: Keep | None) -> list[SpanRecord]:
        """The span records of a batch: events that are spans and that the sampler keeps.

        This is all the dispatcher does per span: ids are resolved (an event recorded
        outside any scope joins the caller's trace, or starts its own) and the sampler
        consulted; names, attributes and bytes are made later, in an export thread.
        ``offset_ns`` turns the monitor's perf-counter readings into Unix ns.
        """
        codes, root = self._codes, self._root
        requests = self.tool_requests
        pending = requests.pending  # empty unless a response asked for tools: one test
        out: list[SpanRecord] = []
        append = out.append
        for event in batch:
            code = codes.get(type(event))
            if code is None:
                continue
            trace_id, parent_id = event.trace_id, event.parent_id  # type: ignore[union-attr]
            if trace_id == 0:  # recorded outside any scope: the caller's trace, or its own
                trace_id, parent_id = root if root is not None else (new_trace_id(), 0)
            remote = root is not None and parent_id == root[1]
            # matched before sampling, so a sampled-out span still consumes its request
            link = None
            if code == TOOL:
                if pending:
                    link = requests.take(event)  # type: ignore[arg-type]
            elif code == API and event.tool_calls:  # type: ignore[union-attr]
                requests.asked(event, trace_id)  # type: ignore[arg-type]
            if keep is not None:
                data = self._describe[type(event)](event, offset_ns)
                if not keep(trace_id, data.end_ns - data.start_ns, data.error):
                    continue
            record = (code, trace_id, parent_id, remote, offset_ns) + event  # noqa: RUF005 (30 ns; unpacking: 100)
            append(record if link is None else record + link)
        return out

    @staticmethod
    def event_of(record: SpanRecord) -> Any:
        """The hook event a record was made from."""
        code = record[0]
        return SPAN_EVENTS[code](*record[5:5 + _WIDTHS[code]])

    @staticmethod
    def link_of(record: SpanRecord) -> tuple[int, int] | None:
        """``(trace_id, span_id)`` of the span a record links to (the requesting chat), if any."""
        end = 5 + _WIDTHS[record[0]]
        return (record[end], record[end + 1]) if len(record) > end else None

    def describe(self, event: Event, offset_ns: int) -> SpanData:
        """Name, kind, wall-clock times, error and attributes of a span event."""
        return self._describe[type(event)](event, offset_ns)

    def to_sdk(self, record: SpanRecord) -> ReadableSpan:
        """The finished OpenTelemetry ``ReadableSpan`` of a record (for SDK exporters)."""
        _, trace_id, parent_id, remote, offset_ns = record[:5]
        event = self.event_of(record)
        data = self._describe[type(event)](event, offset_ns)
        attrs = data.attributes
        status = _OK
        if data.error is not None:
            attrs[g.ERROR_TYPE] = data.error
            status = Status(StatusCode.ERROR, data.error)
        parent = (SpanContext(trace_id, parent_id, remote, _SAMPLED) if parent_id else None)
        target = self.link_of(record)
        links = () if target is None else (
            Link(SpanContext(target[0], target[1], False, _SAMPLED)),)
        return ReadableSpan(
            data.name, SpanContext(trace_id, event.span_id, False, _SAMPLED),
            parent, self._resource, attrs, links=links, kind=data.kind, status=status,
            start_time=data.start_ns, end_time=data.end_ns, instrumentation_scope=SCOPE)

    # -- one describer per event type ---------------------------------------------------------
    def _loop(self, e: LoopEvent, off: int) -> SpanData:
        agent = self._redact(e.agent)
        return SpanData(f"{g.OP_INVOKE_AGENT} {agent}", SpanKind.INTERNAL, e.start_ns + off,
                        e.end_ns + off, self._error(e.error),
                        {g.OPERATION_NAME: g.OP_INVOKE_AGENT, g.AGENT_NAME: agent})

    def _tool(self, e: ToolEvent, off: int) -> SpanData:
        tool = self._redact(e.tool)
        return SpanData(f"{g.OP_EXECUTE_TOOL} {tool}", SpanKind.INTERNAL, e.start_ns + off,
                        e.end_ns + off, self._error(e.error),
                        {g.OPERATION_NAME: g.OP_EXECUTE_TOOL, g.TOOL_NAME: tool,
                         g.AGENT_NAME: self._redact(e.agent)})

    def _chat(self, e: ApiCallEvent, off: int) -> SpanData:
        model = self._redact(e.model)
        attrs: dict[str, Any] = {
            g.OPERATION_NAME: g.OP_CHAT, g.PROVIDER_NAME: self._redact(e.provider),
            g.REQUEST_MODEL: model, g.AGENT_NAME: self._redact(e.agent),
            g.USAGE_INPUT_TOKENS: g.input_tokens(e.input_tokens, e.cache_read_tokens,
                                                 e.cache_write_tokens),
            g.USAGE_OUTPUT_TOKENS: e.output_tokens,
            g.USAGE_CACHE_READ_INPUT_TOKENS: e.cache_read_tokens,
        }
        for key in self._cache_write_keys:  # cache_creation and/or cache_write
            attrs[key] = e.cache_write_tokens
        if e.cost_pico >= 0:
            attrs[g.COST_USD] = dollars = usd(e.cost_pico)
            if self._cost_amount:
                attrs[g.USAGE_COST_AMOUNT] = dollars
                attrs[g.USAGE_COST_CURRENCY] = g.COST_CURRENCY_USD
            if e.cost_source is not None:
                attrs[g.USAGE_COST_SOURCE] = e.cost_source
        else:
            attrs[g.COST_UNPRICED] = True
        if e.ttft_s is not None:
            attrs[g.RESPONSE_TIME_TO_FIRST_CHUNK] = e.ttft_s
        if e.stop_reason is not None:
            attrs[g.RESPONSE_FINISH_REASONS] = (self._redact(e.stop_reason),)
        if e.tool is not None:
            attrs[g.ACTIVE_TOOL] = self._redact(e.tool)
        end = e.end_ns + off
        return SpanData(f"{g.OP_CHAT} {model}", SpanKind.CLIENT, end - _ns(e.duration_s), end,
                        self._error(e.error), attrs)

    def _point(self, name: str, end_ns: int, duration_s: float, error: str | None,
               attrs: dict[str, Any]) -> SpanData:
        return SpanData(name, SpanKind.INTERNAL, end_ns - _ns(duration_s), end_ns,
                        self._error(error), attrs)

    def _error(self, error: str | None) -> str | None:
        """The error as spans carry it (``error.type`` and the status description): a caller's
        ``error="..."`` string is redacted like every other string (an exception type name
        is clean and cached by the redactor)."""
        return None if error is None else self._redact(error)

    def _permission(self, e: PermissionEvent, off: int) -> SpanData:
        tool = self._redact(e.tool)
        attrs: dict[str, Any] = {g.TOOL_NAME: tool, g.PERMISSION_DECISION: e.decision,
                                 g.AGENT_NAME: self._redact(e.agent)}
        if e.reason:
            attrs[g.PERMISSION_REASON] = self._redact(e.reason)
        return self._point(f"permission_check {tool}", e.end_ns + off, e.duration_s, None, attrs)

    def _checkpoint(self, e: CheckpointEvent, off: int) -> SpanData:
        return self._point(f"checkpoint {e.op}", e.end_ns + off, e.duration_s, e.error,
                           {g.CHECKPOINT_OP: e.op, g.CHECKPOINT_SIZE: e.size_bytes,
                            g.AGENT_NAME: self._redact(e.agent)})

    def _hook(self, e: HookEvent, off: int) -> SpanData:
        hook = self._redact(e.hook)
        return self._point(f"hook {hook}", e.end_ns + off, e.duration_s, e.error,
                           {g.HOOK_NAME: hook, g.AGENT_NAME: self._redact(e.agent)})

    def _control(self, e: ControlEvent, off: int) -> SpanData:
        kind = self._redact(e.kind)
        error = None if e.outcome == "ok" else e.outcome
        return self._point(f"control_request {kind}", e.end_ns + off, e.duration_s, error,
                           {g.CONTROL_KIND: kind, g.CONTROL_OUTCOME: e.outcome,
                            g.AGENT_NAME: self._redact(e.agent)})

    def _interrupt(self, e: InterruptEvent, off: int) -> SpanData:
        attrs = {g.INTERRUPT_KIND: e.kind, g.AGENT_NAME: self._redact(e.agent)}
        if e.source is not None:
            attrs[g.INTERRUPT_SOURCE] = self._redact(e.source)
        return self._point(f"interrupt {e.kind}", e.end_ns + off, 0.0, None, attrs)

    def _task(self, e: TaskEvent, off: int) -> SpanData:
        task = self._redact(e.task_type)
        return self._point(f"task {task}", e.end_ns + off, e.duration_s, e.error,
                           {g.TASK_TYPE: task, g.TASK_COMPLEXITY: self._redact(e.complexity),
                            g.AGENT_NAME: self._redact(e.agent)})


def _ns(seconds: float) -> int:
    return round(seconds * 1e9)
