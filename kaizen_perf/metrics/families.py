"""Prometheus families: the one table of metric names, and the cardinality guard.

Every metric kaizen-perf emits is declared once in :data:`METRICS`. Dashboards,
alert rules and docs are checked against this table, so a rename cannot silently
break a panel. Families keep aggregates only (counts, sums, bucket counts), never
observations, so memory stays bounded over a 30-hour run. Each family caps its
label series (default 10,000): past the cap, new values of free-form labels
(agent, tool, model…) fold into ``__overflow__`` and the fold is counted.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from typing import Literal

from kaizen_perf.cost import PICO as _PICO

OVERFLOW = "__overflow__"

#: OpenTelemetry GenAI ``gen_ai.client.operation.duration`` boundaries, seconds.
GENAI_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48,
                 40.96, 81.92)
#: Tools and hooks are often sub-millisecond: finer buckets below 10 ms.
FAST_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, *GENAI_BUCKETS)
#: Tasks last minutes: the GenAI boundaries continued up to ~1.5 hours.
TASK_BUCKETS = (*GENAI_BUCKETS, 163.84, 327.68, 655.36, 1310.72, 2621.44, 5242.88)
#: Kernel latencies (eBPF): 1 µs … 1 s.
KERNEL_BUCKETS = (1e-6, 4e-6, 16e-6, 64e-6, 256e-6, 0.001, 0.004, 0.016, 0.064, 0.256, 1.024)
#: Checkpoint sizes: 1 KiB … 1 GiB by powers of 4.
SIZE_BUCKETS = tuple(float(1024 * 4**i) for i in range(11))

Kind = Literal["counter", "gauge", "histogram"]


@dataclass(frozen=True)
class MetricSpec:
    """One metric family: its name, type, labels and help text."""

    name: str
    kind: Kind
    labels: tuple[str, ...]
    help: str
    buckets: tuple[float, ...] = ()
    #: labels whose values come from a closed set; the others fold into __overflow__.
    bounded: frozenset[str] = frozenset({"status", "decision", "kind", "op", "outcome", "type",
                                         "mode", "direction", "reason", "sink", "exporter",
                                         "metric", "profiler", "status_code"})
    #: divide stored values by this on export: costs are kept in integer pico-dollars, and
    #: ``int / int`` is correctly rounded, so every output prints the same dollars
    #: (``kaizen_perf.cost.usd``); multiplying by 1e-12 differs in the last digit.
    divisor: int = 1


def _m(name: str, kind: Kind, labels: str, help_: str, buckets: tuple[float, ...] = (),
       divisor: int = 1) -> MetricSpec:
    return MetricSpec(name, kind, tuple(labels.split()), help_, buckets, divisor=divisor)


METRICS: dict[str, MetricSpec] = {s.name: s for s in (
    _m("kaizen_agent_loop_iterations_total", "counter", "agent status",
       "Agent loop iterations by outcome."),
    _m("kaizen_agent_loop_duration_seconds", "histogram", "agent",
       "Duration of one agent loop iteration.", GENAI_BUCKETS),
    _m("kaizen_tool_calls_total", "counter", "agent tool status", "Tool calls by outcome."),
    _m("kaizen_tool_duration_seconds", "histogram", "agent tool", "Tool call duration.",
       FAST_BUCKETS),
    _m("kaizen_api_requests_total", "counter", "agent provider model status",
       "LLM API requests by outcome."),
    _m("kaizen_api_request_duration_seconds", "histogram", "agent provider model",
       "LLM API request duration.", GENAI_BUCKETS),
    _m("kaizen_api_time_to_first_token_seconds", "histogram", "agent provider model",
       "Time from request to the first streamed token.", GENAI_BUCKETS),
    _m("kaizen_api_errors_total", "counter", "agent provider model status_code",
       "Failed LLM API attempts by HTTP status (retried attempts included; 'none' = no response)."),
    _m("kaizen_api_tokens_total", "counter", "agent provider model type",
       "Tokens by type: input (uncached), output, cache_read, cache_write."),
    _m("kaizen_api_cost_usd_total", "counter", "agent provider model",
       "LLM API cost in US dollars from the pricing table.", divisor=_PICO),
    _m("kaizen_api_unpriced_requests_total", "counter", "agent provider model",
       "LLM API requests for models missing from the pricing table (cost unknown, not $0)."),
    _m("kaizen_permission_checks_total", "counter", "agent tool decision",
       "Permission decisions."),
    _m("kaizen_permission_denials_total", "counter", "agent tool reason",
       "Denied permission checks by reason (\"unspecified\" when none was given)."),
    _m("kaizen_permission_check_duration_seconds", "histogram", "agent",
       "Permission check duration.", FAST_BUCKETS),
    _m("kaizen_checkpoint_operations_total", "counter", "agent op status",
       "Checkpoint saves and loads by outcome."),
    _m("kaizen_checkpoint_duration_seconds", "histogram", "agent op", "Checkpoint duration.",
       FAST_BUCKETS),
    _m("kaizen_checkpoint_size_bytes", "histogram", "agent op", "Checkpoint size.",
       SIZE_BUCKETS),
    _m("kaizen_hook_executions_total", "counter", "agent hook status",
       "Hook executions by outcome."),
    _m("kaizen_hook_duration_seconds", "histogram", "agent hook", "Hook duration.",
       FAST_BUCKETS),
    _m("kaizen_interrupts_total", "counter", "agent kind", "Interrupts: graceful or immediate."),
    _m("kaizen_control_requests_total", "counter", "agent kind outcome",
       "Control-protocol requests by outcome: ok, timeout or error."),
    _m("kaizen_control_request_duration_seconds", "histogram", "agent kind",
       "Control-protocol request duration.", GENAI_BUCKETS),
    _m("kaizen_tasks_total", "counter", "agent task_type complexity status",
       "Tasks by type, complexity and outcome."),
    _m("kaizen_task_duration_seconds", "histogram", "agent task_type complexity status",
       "Task duration.", TASK_BUCKETS),
    _m("kaizen_task_cost_usd_total", "counter", "agent task_type complexity",
       "LLM cost attributed to tasks (API calls made while the task ran).", divisor=_PICO),
    _m("kaizen_task_unpriced_requests_total", "counter", "agent task_type complexity",
       "API calls without a price made while a task ran (that task's cost is unknown)."),
    _m("kaizen_tool_cost_usd_total", "counter", "agent tool",
       "LLM cost by tool: calls made inside the tool, and responses that asked for it (split "
       "across the tools asked for); tool=\"reasoning\" is the rest.", divisor=_PICO),
    _m("kaizen_agent_loops_detected_total", "counter", "agent tool",
       "Runs of one tool called with the same arguments N times in a row (an agent in a loop)."),
    _m("kaizen_agent_loop_cost_usd_total", "counter", "agent tool",
       "LLM cost spent inside detected tool loops, in US dollars.", divisor=_PICO),
    _m("kaizen_budget_usd", "gauge", "agent", "Configured budget in US dollars."),
    _m("kaizen_budget_spent_usd", "gauge", "agent", "Spend counted against the budget."),
    _m("kaizen_agent_last_progress_timestamp_seconds", "gauge", "agent",
       "Unix time of the last finished loop iteration."),
    _m("kaizen_alerts_firing", "gauge", "agent alertname",
       "1 while an in-process alert fires for the agent (the series goes away when it "
       "resolves)."),
    _m("kaizen_process_cpu_seconds_total", "counter", "agent mode",
       "CPU time of the agent's processes: user or system."),
    _m("kaizen_process_resident_memory_bytes", "gauge", "agent",
       "Resident memory of the agent's processes."),
    _m("kaizen_process_peak_resident_memory_bytes", "gauge", "agent",
       "Peak resident memory seen for the agent's processes."),
    _m("kaizen_process_io_bytes_total", "counter", "agent direction",
       "Bytes read and written by the agent's processes."),
    _m("kaizen_process_open_fds", "gauge", "agent", "Open file descriptors."),
    _m("kaizen_process_processes", "gauge", "agent",
       "Live processes of the agent (not _count: that suffix belongs to histograms)."),
    _m("kaizen_process_threads", "gauge", "agent", "OS threads."),
    _m("kaizen_process_context_switches_total", "counter", "agent kind",
       "Context switches: voluntary or involuntary."),
    _m("kaizen_offcpu_seconds_total", "counter", "agent kind",
       "Time off CPU: blocked, or runnable but waiting for a CPU (eBPF or /proc)."),
    _m("kaizen_syscall_duration_seconds", "histogram", "agent syscall", "Syscall latency (eBPF).",
       KERNEL_BUCKETS),
    _m("kaizen_block_io_duration_seconds", "histogram", "agent op", "Block I/O latency (eBPF).",
       KERNEL_BUCKETS),
    _m("kaizen_tcp_connect_duration_seconds", "histogram", "agent",
       "TCP connect latency (eBPF).", KERNEL_BUCKETS),
    _m("kaizen_tcp_retransmits_total", "counter", "agent", "TCP retransmits (eBPF)."),
    _m("kaizen_page_faults_total", "counter", "agent kind",
       "Page faults (eBPF): major exact, minor sampled 1 in 100 and scaled."),
    _m("kaizen_perf_profiler_cpu_seconds_total", "counter", "profiler",
       "CPU used by kaizen-perf's out-of-process profilers (py-spy, bpftrace)."),
    _m("kaizen_perf_events_dropped_total", "counter", "sink",
       "Events dropped because a buffer was full."),
    _m("kaizen_perf_export_errors_total", "counter", "exporter",
       "Failed deliveries to a sink or exporter."),
    _m("kaizen_perf_invalid_events_total", "counter", "reason",
       "Hook calls with values that could not be used (counted, not raised)."),
    _m("kaizen_perf_series_overflow_total", "counter", "metric",
       "Observations folded into __overflow__ because a metric reached its series cap."),
    _m("kaizen_perf_overhead_ratio", "gauge", "",
       "CPU used by kaizen-perf's dispatcher as a fraction of the process's CPU."),
)}


class Family:
    """Aggregated series of one metric, keyed by label values, with a series cap."""

    __slots__ = ("_agent", "_free", "_les", "buckets", "cap", "overflowed", "rendered", "series",
                 "spec")

    def __init__(self, spec: MetricSpec, cap: int) -> None:
        self.spec, self.cap, self.buckets = spec, cap, spec.buckets
        self.series: dict[tuple[str, ...], list[float]] = {}
        self.rendered: dict[tuple[str, ...], str] = {}  # label strings, cached by exposition
        self.overflowed = 0
        self._les: tuple[str, ...] | None = None
        self._free = tuple(i for i, name in enumerate(spec.labels) if name not in spec.bounded)
        self._agent = spec.labels.index("agent") if "agent" in spec.labels else -1

    def _slot(self, key: tuple[str, ...]) -> list[float]:
        slot = self.series.get(key)
        if slot is not None:
            return slot
        if len(self.series) >= self.cap:
            key = self._fold(key)
            slot = self.series.get(key)
            if slot is not None:
                return slot
        # histograms: one count per bucket plus +Inf, then the sum. Counters start at int 0 so
        # integer amounts (tokens, pico-dollars) stay exact integers over a 30-hour run.
        slot = [0] * (len(self.buckets) + 1) + [0.0] if self.buckets else [0]
        self.series[key] = slot
        return slot

    def _fold(self, key: tuple[str, ...]) -> tuple[str, ...]:
        """The overflow series for a key: keep the agent while there is headroom, then fold all."""
        self.overflowed += 1
        keep_agent = tuple(OVERFLOW if i in self._free and i != self._agent else v
                           for i, v in enumerate(key))
        if keep_agent in self.series or len(self.series) < self.cap + self.cap // 10 + 1:
            return keep_agent
        return tuple(OVERFLOW if i in self._free else v for i, v in enumerate(key))

    def inc(self, key: tuple[str, ...], amount: float = 1.0) -> None:
        """Add to a counter series."""
        self._slot(key)[0] += amount

    def set(self, key: tuple[str, ...], value: float) -> None:
        """Set a gauge (or a counter whose total comes from the OS)."""
        self._slot(key)[0] = value

    def observe(self, key: tuple[str, ...], value: float) -> None:
        """Add one observation to a histogram series."""
        slot = self._slot(key)
        slot[bisect_left(self.buckets, value)] += 1
        slot[-1] += value

    def add_buckets(self, key: tuple[str, ...], counts: tuple[int, ...], total: float) -> None:
        """Add observations already counted per bucket (+Inf last) to a histogram series."""
        slot = self._slot(key)
        for i, count in enumerate(counts[:len(slot) - 1]):
            slot[i] += count
        slot[-1] += total

    def remove(self, key: tuple[str, ...]) -> None:
        """Forget a series (a gauge of a process that exited)."""
        self.series.pop(key, None)
        self.rendered.pop(key, None)

    def le_strings(self) -> tuple[str, ...]:
        """The ``le`` label values of the buckets, ``+Inf`` last."""
        if self._les is None:
            self._les = (*(repr(float(b)) for b in self.buckets), "+Inf")
        return self._les


def new_families(cap: int) -> dict[str, Family]:
    """One empty family per metric of the table."""
    return {name: Family(spec, cap) for name, spec in METRICS.items()}
