"""The event vocabulary: small immutable records the hooks put on the buffer.

Events are ``NamedTuple``s: immutable, slotted and the cheapest record Python can
build (a hook must cost about a microsecond). Times are ``time.perf_counter_ns()``
values from the monitor's clock; the dispatcher converts them to wall time.
``error`` is ``None`` for success, else the exception type name (or ``"error"``).
Every event carries the trace context it was recorded in (``trace_id``,
``span_id``, ``parent_id``; 0 when absent) so spans can be built off the hot path.
"""

from __future__ import annotations

from typing import NamedTuple


class LoopEvent(NamedTuple):
    """One iteration of the agent loop finished."""

    agent: str
    start_ns: int
    end_ns: int
    error: str | None
    trace_id: int
    span_id: int
    parent_id: int


class ToolEvent(NamedTuple):
    """One tool call finished.

    ``args_hash`` is the 64-bit digest of the call's arguments when the caller gave them
    (:func:`kaizen_perf.loops.args_digest`), for loop detection; never the arguments.
    """

    agent: str
    tool: str
    start_ns: int
    end_ns: int
    error: str | None
    trace_id: int
    span_id: int
    parent_id: int
    args_hash: int | None = None  # appended: the wire order is positional


class ApiCallEvent(NamedTuple):
    """One LLM API request finished.

    ``cost_pico`` is the cost in pico-dollars (10⁻¹² USD, an exact integer: see
    :mod:`kaizen_perf.cost`), or -1 when no source prices the call; dollars are
    ``cost_pico / 10**12`` (:func:`kaizen_perf.cost.usd`), in every output alike.
    """

    agent: str
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    duration_s: float
    error: str | None
    cost_pico: int
    tool: str | None
    end_ns: int
    trace_id: int
    span_id: int
    parent_id: int
    # optional details from the client integrations (appended: the wire order is positional)
    ttft_s: float | None = None
    stop_reason: str | None = None
    status_code: int | None = None
    request_id: str | None = None
    #: "local" (priced here), "provider" (the provider's reported cost) or None (unpriced)
    cost_source: str | None = None
    #: names of the tools the response asked for, in its order (tool_use / tool_calls):
    #: its cost is split across them (:mod:`kaizen_perf.cost.attribution`)
    tool_calls: tuple[str, ...] = ()


class PermissionEvent(NamedTuple):
    """A permission decision (``approved`` or ``denied``)."""

    agent: str
    tool: str
    decision: str
    reason: str | None
    duration_s: float
    end_ns: int
    trace_id: int
    span_id: int
    parent_id: int


class CheckpointEvent(NamedTuple):
    """A checkpoint ``save`` or ``load``."""

    agent: str
    op: str
    size_bytes: int
    duration_s: float
    error: str | None
    end_ns: int
    trace_id: int
    span_id: int
    parent_id: int


class HookEvent(NamedTuple):
    """A user hook ran (pre_tool, post_tool, …)."""

    agent: str
    hook: str
    duration_s: float
    error: str | None
    end_ns: int
    trace_id: int
    span_id: int
    parent_id: int


class InterruptEvent(NamedTuple):
    """The agent was interrupted (``graceful`` or ``immediate``)."""

    agent: str
    kind: str
    end_ns: int
    trace_id: int
    span_id: int
    parent_id: int
    #: what asked for it (Kaizen's ``signal``, ``timeout``, ``budget``, ``user``,
    #: ``programmatic``), or None: in the event log, the span and the audit entry only
    #: (``kaizen_interrupts_total`` keeps its ``agent, kind`` labels)
    source: str | None = None


class ControlEvent(NamedTuple):
    """A control-protocol request finished (``ok``, ``timeout`` or ``error``)."""

    agent: str
    kind: str
    duration_s: float
    outcome: str
    end_ns: int
    trace_id: int
    span_id: int
    parent_id: int


class TaskEvent(NamedTuple):
    """A whole task (a business unit of work) finished."""

    agent: str
    task_type: str
    complexity: str
    duration_s: float
    error: str | None
    end_ns: int
    trace_id: int
    span_id: int
    parent_id: int


class ProcessSample(NamedTuple):
    """Resource use of one agent's processes, summed (cumulative counters are totals so far)."""

    agent: str
    processes: int
    cpu_user_s: float
    cpu_system_s: float
    rss_bytes: int
    peak_rss_bytes: int
    io_read_bytes: int
    io_write_bytes: int
    open_fds: int
    threads: int
    ctx_voluntary: int
    ctx_involuntary: int
    run_queue_wait_s: float


class InvalidInput(NamedTuple):
    """A hook received a value it could not use; counted, never raised (unless strict)."""

    agent: str
    reason: str
    message: str


class KernelCounter(NamedTuple):
    """A kernel counter's increase over one eBPF window (off-CPU seconds, retransmits, faults).

    ``metric`` names a counter of the metrics table; ``label`` is its second label's value
    (``kind`` for off-CPU and page faults) or ``""`` when it has only ``agent``.
    """

    agent: str
    metric: str
    label: str
    value: float


class KernelHistogram(NamedTuple):
    """Kernel latencies observed in one eBPF window, already counted in the metric's buckets.

    ``counts`` has one entry per bucket of ``metric`` plus ``+Inf``; ``sum_s`` is exact.
    """

    agent: str
    metric: str
    label: str
    counts: tuple[int, ...]
    sum_s: float


class BudgetSample(NamedTuple):
    """An agent framework's own budget and spend (Kaizen's ``ExecutionContext``), as gauges.

    ``budget_usd`` is None for an unlimited budget (only the spend is set).
    """

    agent: str
    budget_usd: float | None
    spent_usd: float


Event = (LoopEvent | ToolEvent | ApiCallEvent | PermissionEvent | CheckpointEvent | HookEvent
         | InterruptEvent | ControlEvent | TaskEvent | ProcessSample | InvalidInput
         | KernelCounter | KernelHistogram | BudgetSample)

EVENT_TYPES: tuple[type, ...] = (
    LoopEvent, ToolEvent, ApiCallEvent, PermissionEvent, CheckpointEvent, HookEvent,
    InterruptEvent, ControlEvent, TaskEvent, ProcessSample, InvalidInput,
    KernelCounter, KernelHistogram, BudgetSample,  # appended: forwarding indexes by position
)
