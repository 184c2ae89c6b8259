"""The metrics sink: turns hook events into the Prometheus families of the table.

Runs on the dispatcher thread (or a scrape's thread, under the pipeline lock), so
the hot path only ever appends an event. One handler per event type, chosen by
a dict lookup on the event's class.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from kaizen_perf import events as ev
from kaizen_perf.attribution import split
from kaizen_perf.loops import DEFAULT_REPEATS, LoopDetector
from kaizen_perf.metrics import Family, new_families
from kaizen_perf.redact import redact_text
from kaizen_perf.spend import SpendLedger

if TYPE_CHECKING:
    from kaizen_perf.extra_metrics import ExtraMetrics
    from kaizen_perf.pipeline import Pipeline


def _status(error: str | None) -> str:
    return "ok" if error is None else "error"


class MetricsSink:
    """Aggregates events into families; exposes them as a prometheus-client collector."""

    def __init__(self, *, series_cap: int = 10_000,
                 to_wall_s: Callable[[int], float] | None = None,
                 loop_repeats: int = DEFAULT_REPEATS) -> None:
        self.series_cap = series_cap
        self._f: dict[str, Family] = new_families(series_cap)
        self._to_wall_s = to_wall_s or (lambda ns: ns / 1e9)
        self._handlers: dict[type, Callable[[object], None]] = {}
        self._register()
        self._spend = SpendLedger()  # cost per task: API spend between a task's start and end
        self._loops = LoopDetector(loop_repeats)  # same tool, same arguments, N times in a row
        self.failed_events = 0  #: events a handler raised on (each counted, none of a batch lost)

    @property
    def families(self) -> dict[str, Family]:
        """The aggregated families by metric name (read under the pipeline lock)."""
        return self._f

    def _register(self) -> None:
        h = self._handlers
        h[ev.LoopEvent] = self._loop  # type: ignore[assignment]
        h[ev.ToolEvent] = self._tool  # type: ignore[assignment]
        h[ev.ApiCallEvent] = self._api  # type: ignore[assignment]
        h[ev.PermissionEvent] = self._permission  # type: ignore[assignment]
        h[ev.CheckpointEvent] = self._checkpoint  # type: ignore[assignment]
        h[ev.HookEvent] = self._hook  # type: ignore[assignment]
        h[ev.InterruptEvent] = self._interrupt  # type: ignore[assignment]
        h[ev.ControlEvent] = self._control  # type: ignore[assignment]
        h[ev.TaskEvent] = self._task  # type: ignore[assignment]
        h[ev.InvalidInput] = self._invalid  # type: ignore[assignment]
        h[ev.ProcessSample] = self._process  # type: ignore[assignment]
        h[ev.KernelCounter] = self._kernel_counter  # type: ignore[assignment]
        h[ev.KernelHistogram] = self._kernel_histogram  # type: ignore[assignment]
        h[ev.BudgetSample] = self._budget_sample  # type: ignore[assignment]

    def handle(self, batch: Sequence[ev.Event]) -> None:
        """Aggregate a batch (events of unknown types are ignored). An event a handler
        cannot aggregate costs itself, counted as an invalid event, never its neighbours
        (a try block costs nothing in CPython 3.11 until something raises)."""
        handlers = self._handlers
        for event in batch:
            handler = handlers.get(type(event))
            if handler is not None:
                try:
                    handler(event)
                except Exception:
                    self.failed_events += 1
                    self._f["kaizen_perf_invalid_events_total"].inc(("unprocessable",))

    def after_fork(self) -> None:
        """A forked child starts with empty aggregates (the parent reports its own)."""
        self._f = new_families(self.series_cap)
        self._spend = SpendLedger()
        self._loops.clear()

    # -- handlers -----------------------------------------------------------------------
    def _loop(self, e: ev.LoopEvent) -> None:
        f = self._f
        f["kaizen_agent_loop_iterations_total"].inc((e.agent, _status(e.error)))
        f["kaizen_agent_loop_duration_seconds"].observe((e.agent,), (e.end_ns - e.start_ns) / 1e9)
        f["kaizen_agent_last_progress_timestamp_seconds"].set((e.agent,), self._to_wall_s(e.end_ns))

    def _tool(self, e: ev.ToolEvent) -> None:
        f = self._f
        f["kaizen_tool_calls_total"].inc((e.agent, e.tool, _status(e.error)))
        f["kaizen_tool_duration_seconds"].observe((e.agent, e.tool), (e.end_ns - e.start_ns) / 1e9)
        loop = self._loops.tool(e)
        if loop is not None:
            if loop.detected:
                f["kaizen_agent_loops_detected_total"].inc((e.agent, e.tool))
            if loop.cost_pico:
                f["kaizen_agent_loop_cost_usd_total"].inc((e.agent, e.tool), loop.cost_pico)

    def _api(self, e: ev.ApiCallEvent) -> None:
        f = self._f
        key = (e.agent, e.provider, e.model)
        f["kaizen_api_requests_total"].inc((*key, _status(e.error)))
        f["kaizen_api_request_duration_seconds"].observe(key, e.duration_s)
        tokens = f["kaizen_api_tokens_total"]
        tokens.inc((*key, "input"), e.input_tokens)
        tokens.inc((*key, "output"), e.output_tokens)
        tokens.inc((*key, "cache_read"), e.cache_read_tokens)
        tokens.inc((*key, "cache_write"), e.cache_write_tokens)
        if e.error is not None:
            f["kaizen_api_errors_total"].inc(
                (*key, "none" if e.status_code is None else str(e.status_code)))
        if e.ttft_s is not None:
            f["kaizen_api_time_to_first_token_seconds"].observe(key, e.ttft_s)
        if e.cost_pico >= 0:
            f["kaizen_api_cost_usd_total"].inc(key, e.cost_pico)
            self._loops.api(e)
            tool_cost = f["kaizen_tool_cost_usd_total"]  # every dollar to one tool or reasoning
            for tool, pico in split(e.cost_pico, e.tool, e.tool_calls):
                tool_cost.inc((e.agent, tool), pico)
            if e.cost_pico:
                self._spend.add(e.agent, e.end_ns, e.cost_pico)
        else:
            f["kaizen_api_unpriced_requests_total"].inc(key)
            self._spend.add(e.agent, e.end_ns, -1)  # a task containing it has an unknown cost

    def _permission(self, e: ev.PermissionEvent) -> None:
        f = self._f
        f["kaizen_permission_checks_total"].inc((e.agent, e.tool, e.decision))
        if e.decision == "denied":  # a reason is free text: redacted like every output
            reason = redact_text(e.reason) if e.reason else "unspecified"
            f["kaizen_permission_denials_total"].inc((e.agent, e.tool, reason))
        f["kaizen_permission_check_duration_seconds"].observe((e.agent,), e.duration_s)

    def _checkpoint(self, e: ev.CheckpointEvent) -> None:
        f = self._f
        f["kaizen_checkpoint_operations_total"].inc((e.agent, e.op, _status(e.error)))
        f["kaizen_checkpoint_duration_seconds"].observe((e.agent, e.op), e.duration_s)
        f["kaizen_checkpoint_size_bytes"].observe((e.agent, e.op), e.size_bytes)

    def _hook(self, e: ev.HookEvent) -> None:
        f = self._f
        f["kaizen_hook_executions_total"].inc((e.agent, e.hook, _status(e.error)))
        f["kaizen_hook_duration_seconds"].observe((e.agent, e.hook), e.duration_s)

    def _interrupt(self, e: ev.InterruptEvent) -> None:
        self._f["kaizen_interrupts_total"].inc((e.agent, e.kind))

    def _control(self, e: ev.ControlEvent) -> None:
        f = self._f
        f["kaizen_control_requests_total"].inc((e.agent, e.kind, e.outcome))
        f["kaizen_control_request_duration_seconds"].observe((e.agent, e.kind), e.duration_s)

    def _task(self, e: ev.TaskEvent) -> None:
        key = (e.agent, e.task_type, e.complexity, _status(e.error))
        self._f["kaizen_tasks_total"].inc(key)
        self._f["kaizen_task_duration_seconds"].observe(key, e.duration_s)
        spend = self._spend.between(e.agent, e.end_ns - round(e.duration_s * 1e9), e.end_ns)
        task = (e.agent, e.task_type, e.complexity)
        self._f["kaizen_task_cost_usd_total"].inc(task, spend.pico)
        if spend.unpriced:
            self._f["kaizen_task_unpriced_requests_total"].inc(task, spend.unpriced)

    def _process(self, e: ev.ProcessSample) -> None:
        f, a = self._f, (e.agent,)
        cpu = f["kaizen_process_cpu_seconds_total"]
        cpu.set((e.agent, "user"), e.cpu_user_s)
        cpu.set((e.agent, "system"), e.cpu_system_s)
        f["kaizen_process_resident_memory_bytes"].set(a, e.rss_bytes)
        f["kaizen_process_peak_resident_memory_bytes"].set(a, e.peak_rss_bytes)
        io = f["kaizen_process_io_bytes_total"]
        io.set((e.agent, "read"), e.io_read_bytes)
        io.set((e.agent, "write"), e.io_write_bytes)
        f["kaizen_process_open_fds"].set(a, e.open_fds)
        f["kaizen_process_threads"].set(a, e.threads)
        cs = f["kaizen_process_context_switches_total"]
        cs.set((e.agent, "voluntary"), e.ctx_voluntary)
        cs.set((e.agent, "involuntary"), e.ctx_involuntary)
        f["kaizen_process_processes"].set(a, e.processes)
        if e.run_queue_wait_s >= 0:
            f["kaizen_offcpu_seconds_total"].set((e.agent, "runqueue"), e.run_queue_wait_s)

    def _kernel_counter(self, e: ev.KernelCounter) -> None:
        fam = self._f.get(e.metric)
        if fam is not None:  # labels: (agent,) or (agent, kind)
            fam.inc((e.agent, e.label)[:len(fam.spec.labels)], e.value)

    def _kernel_histogram(self, e: ev.KernelHistogram) -> None:
        fam = self._f.get(e.metric)
        if fam is not None:
            fam.add_buckets((e.agent, e.label)[:len(fam.spec.labels)], e.counts, e.sum_s)

    def _budget_sample(self, e: ev.BudgetSample) -> None:
        if e.budget_usd is not None:
            self._f["kaizen_budget_usd"].set((e.agent,), e.budget_usd)
        self._f["kaizen_budget_spent_usd"].set((e.agent,), e.spent_usd)

    def _invalid(self, e: ev.InvalidInput) -> None:
        self._f["kaizen_perf_invalid_events_total"].inc((e.reason,))

    # -- exposition ---------------------------------------------------------------------
    def refresh_self_metrics(self, pipe: Pipeline) -> None:
        """Copy the pipeline's and every sink's own counters (drops, export errors, dispatcher
        CPU, series folds) into their families; called with the pipeline lock held."""
        from kaizen_perf.outputs import dropped_events, export_errors

        f = self._f
        f["kaizen_perf_events_dropped_total"].set(("buffer",), pipe.dropped)
        for name, count in {**pipe.sink_errors, **export_errors(pipe.sinks)}.items():
            f["kaizen_perf_export_errors_total"].set((name,), count)
        for name, count in dropped_events(pipe.sinks).items():
            f["kaizen_perf_events_dropped_total"].set((name,), count)
        cpu = time.process_time()
        f["kaizen_perf_overhead_ratio"].set((), pipe.dispatcher_cpu_s / cpu if cpu else 0.0)
        overflow = self._f["kaizen_perf_series_overflow_total"]
        for name, fam in self._f.items():
            if fam.overflowed:
                overflow.set((name,), fam.overflowed)

    def collect_families(self) -> Iterator[Metric]:
        """prometheus-client metric families for every series recorded so far."""
        for fam in self._f.values():
            if fam.series:
                yield to_prometheus(fam)


def to_prometheus(fam: Family) -> Metric:
    """Convert one aggregated family to a prometheus-client family."""
    spec, divisor = fam.spec, fam.spec.divisor
    labels = list(spec.labels)
    if spec.kind == "histogram":
        hist = HistogramMetricFamily(spec.name, spec.help, labels=labels)
        les = [_fmt_le(b) for b in spec.buckets] + ["+Inf"]
        for key, slot in fam.series.items():
            cumulative, running = [], 0.0
            for le, count in zip(les, slot[:-1], strict=True):
                running += count
                cumulative.append((le, running))
            hist.add_metric(list(key), cumulative, slot[-1] / divisor)
        return hist
    cls = CounterMetricFamily if spec.kind == "counter" else GaugeMetricFamily
    family = cls(spec.name, spec.help, labels=labels)
    for key, slot in fam.series.items():
        family.add_metric(list(key), slot[0] / divisor)
    return family


def _fmt_le(bound: float) -> str:
    return repr(float(bound))


class _Refreshable(Protocol):
    """What MonitorCollector needs of a monitor."""

    pipeline: Pipeline
    metrics: MetricsSink
    extra_metrics: ExtraMetrics

    def _refresh_self_metrics(self) -> None: ...


class MonitorCollector:
    """prometheus-client collector over a monitor's families (to combine with other
    collectors in a user's registry; kaizen-perf's own endpoint renders them directly)."""

    def __init__(self, mon: _Refreshable) -> None:
        self._mon = weakref.ref(mon)  # the monitor owns the registry that holds us

    def collect(self) -> Iterator[Metric]:
        """Drain, refresh the self-metrics, and yield every family."""
        mon = self._mon()
        if mon is None:
            return iter(())
        with mon.pipeline.lock:
            mon._refresh_self_metrics()
            extra = mon.extra_metrics.families(mon.metrics.families)
            return iter([*mon.metrics.collect_families(), *map(to_prometheus, extra)])
