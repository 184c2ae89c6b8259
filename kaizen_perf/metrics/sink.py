"""The metrics sink: turns hook events into the Prometheus families of the table.

Runs on the dispatcher thread (or a scrape's thread, under the pipeline lock), so
the hot path only ever appends an event. One handler per event type, chosen by
a dict lookup on the event's class. Every family a handler updates is bound to an
attribute once, at construction (as prometheus-client binds its metric objects): a
misspelled name fails when the sink is made, not on some event hours into a run.
Rendering the families is :mod:`kaizen_perf.metrics.exposition`'s job alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from kaizen_perf import events as ev
from kaizen_perf.cost.attribution import split
from kaizen_perf.cost.spend import SpendLedger
from kaizen_perf.loops import DEFAULT_REPEATS, LoopDetector
from kaizen_perf.metrics import Family, new_families
from kaizen_perf.pipeline import SinkBase
from kaizen_perf.redact import redact_text

if TYPE_CHECKING:
    from kaizen_perf.pipeline import Pipeline


def _status(error: str | None) -> str:
    return "ok" if error is None else "error"


class MetricsSink(SinkBase):
    """Aggregates events into the families of :data:`kaizen_perf.metrics.METRICS`."""

    def __init__(self, *, series_cap: int = 10_000,
                 to_wall_s: Callable[[int], float] | None = None,
                 loop_repeats: int = DEFAULT_REPEATS) -> None:
        self.series_cap = series_cap
        self._f: dict[str, Family] = new_families(series_cap)
        self._bind(self._f)
        self._to_wall_s = to_wall_s or (lambda ns: ns / 1e9)
        # each handler takes its own event type: Any keeps one dict without a cast per call
        self._handlers: dict[type, Callable[[Any], None]] = {
            ev.LoopEvent: self._loop, ev.ToolEvent: self._tool, ev.ApiCallEvent: self._api,
            ev.PermissionEvent: self._permission, ev.CheckpointEvent: self._checkpoint,
            ev.HookEvent: self._hook, ev.InterruptEvent: self._interrupt,
            ev.ControlEvent: self._control, ev.TaskEvent: self._task,
            ev.InvalidInput: self._invalid, ev.ProcessSample: self._process,
            ev.KernelCounter: self._kernel_counter, ev.KernelHistogram: self._kernel_histogram,
            ev.BudgetSample: self._budget_sample}
        self._spend = SpendLedger()  # cost per task: API spend between a task's start and end
        self._loops = LoopDetector(loop_repeats)  # same tool, same arguments, N times in a row
        self.failed_events = 0  #: events a handler raised on (each counted, none of a batch lost)

    def _bind(self, f: dict[str, Family]) -> None:
        """Bind each family the handlers update (a KeyError here names a missing metric)."""
        self._loop_total = f["kaizen_agent_loop_iterations_total"]
        self._loop_seconds = f["kaizen_agent_loop_duration_seconds"]
        self._progress = f["kaizen_agent_last_progress_timestamp_seconds"]
        self._tool_total = f["kaizen_tool_calls_total"]
        self._tool_seconds = f["kaizen_tool_duration_seconds"]
        self._tool_cost = f["kaizen_tool_cost_usd_total"]
        self._loops_detected = f["kaizen_agent_loops_detected_total"]
        self._loop_cost = f["kaizen_agent_loop_cost_usd_total"]
        self._api_total = f["kaizen_api_requests_total"]
        self._api_seconds = f["kaizen_api_request_duration_seconds"]
        self._api_tokens = f["kaizen_api_tokens_total"]
        self._api_errors = f["kaizen_api_errors_total"]
        self._api_ttft = f["kaizen_api_time_to_first_token_seconds"]
        self._api_cost = f["kaizen_api_cost_usd_total"]
        self._api_unpriced = f["kaizen_api_unpriced_requests_total"]
        self._perm_total = f["kaizen_permission_checks_total"]
        self._perm_denials = f["kaizen_permission_denials_total"]
        self._perm_seconds = f["kaizen_permission_check_duration_seconds"]
        self._ckpt_total = f["kaizen_checkpoint_operations_total"]
        self._ckpt_seconds = f["kaizen_checkpoint_duration_seconds"]
        self._ckpt_bytes = f["kaizen_checkpoint_size_bytes"]
        self._hook_total = f["kaizen_hook_executions_total"]
        self._hook_seconds = f["kaizen_hook_duration_seconds"]
        self._interrupts = f["kaizen_interrupts_total"]
        self._control_total = f["kaizen_control_requests_total"]
        self._control_seconds = f["kaizen_control_request_duration_seconds"]
        self._task_total = f["kaizen_tasks_total"]
        self._task_seconds = f["kaizen_task_duration_seconds"]
        self._task_cost = f["kaizen_task_cost_usd_total"]
        self._task_unpriced = f["kaizen_task_unpriced_requests_total"]
        self._cpu = f["kaizen_process_cpu_seconds_total"]
        self._rss = f["kaizen_process_resident_memory_bytes"]
        self._peak_rss = f["kaizen_process_peak_resident_memory_bytes"]
        self._io = f["kaizen_process_io_bytes_total"]
        self._fds = f["kaizen_process_open_fds"]
        self._threads = f["kaizen_process_threads"]
        self._switches = f["kaizen_process_context_switches_total"]
        self._processes = f["kaizen_process_processes"]
        self._offcpu = f["kaizen_offcpu_seconds_total"]
        self._budget = f["kaizen_budget_usd"]
        self._budget_spent = f["kaizen_budget_spent_usd"]
        self._invalid_total = f["kaizen_perf_invalid_events_total"]
        self._dropped = f["kaizen_perf_events_dropped_total"]
        self._export_errors = f["kaizen_perf_export_errors_total"]
        self._overhead = f["kaizen_perf_overhead_ratio"]
        self._overflow = f["kaizen_perf_series_overflow_total"]
        #: ``kaizen_alerts_firing``: set by the alert engine's publisher, under the pipeline lock
        self.alerts_firing = f["kaizen_alerts_firing"]

    @property
    def families(self) -> dict[str, Family]:
        """The aggregated families by metric name (read under the pipeline lock)."""
        return self._f

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
                    self._invalid_total.inc(("unprocessable",))

    def after_fork(self) -> None:
        """A forked child starts with empty aggregates (the parent reports its own)."""
        self._f = new_families(self.series_cap)
        self._bind(self._f)
        self._spend = SpendLedger()
        self._loops.clear()

    # -- handlers -----------------------------------------------------------------------
    def _loop(self, e: ev.LoopEvent) -> None:
        self._loop_total.inc((e.agent, _status(e.error)))
        self._loop_seconds.observe((e.agent,), (e.end_ns - e.start_ns) / 1e9)
        self._progress.set((e.agent,), self._to_wall_s(e.end_ns))

    def _tool(self, e: ev.ToolEvent) -> None:
        self._tool_total.inc((e.agent, e.tool, _status(e.error)))
        self._tool_seconds.observe((e.agent, e.tool), (e.end_ns - e.start_ns) / 1e9)
        loop = self._loops.tool(e)
        if loop is not None:
            if loop.detected:
                self._loops_detected.inc((e.agent, e.tool))
            if loop.cost_pico:
                self._loop_cost.inc((e.agent, e.tool), loop.cost_pico)

    def _api(self, e: ev.ApiCallEvent) -> None:
        key = (e.agent, e.provider, e.model)
        self._api_total.inc((*key, _status(e.error)))
        self._api_seconds.observe(key, e.duration_s)
        tokens = self._api_tokens
        tokens.inc((*key, "input"), e.input_tokens)
        tokens.inc((*key, "output"), e.output_tokens)
        tokens.inc((*key, "cache_read"), e.cache_read_tokens)
        tokens.inc((*key, "cache_write"), e.cache_write_tokens)
        if e.error is not None:
            self._api_errors.inc((*key, "none" if e.status_code is None else str(e.status_code)))
        if e.ttft_s is not None:
            self._api_ttft.observe(key, e.ttft_s)
        if e.cost_pico >= 0:
            self._api_cost.inc(key, e.cost_pico)
            self._loops.api(e)
            tool_cost = self._tool_cost  # every dollar to one tool or reasoning
            for tool, pico in split(e.cost_pico, e.tool, e.tool_calls):
                tool_cost.inc((e.agent, tool), pico)
            if e.cost_pico:
                self._spend.add(e.agent, e.end_ns, e.cost_pico)
        else:
            self._api_unpriced.inc(key)
            self._spend.add(e.agent, e.end_ns, -1)  # a task containing it has an unknown cost

    def _permission(self, e: ev.PermissionEvent) -> None:
        self._perm_total.inc((e.agent, e.tool, e.decision))
        if e.decision == "denied":  # a reason is free text: redacted like every output
            reason = redact_text(e.reason) if e.reason else "unspecified"
            self._perm_denials.inc((e.agent, e.tool, reason))
        self._perm_seconds.observe((e.agent,), e.duration_s)

    def _checkpoint(self, e: ev.CheckpointEvent) -> None:
        self._ckpt_total.inc((e.agent, e.op, _status(e.error)))
        self._ckpt_seconds.observe((e.agent, e.op), e.duration_s)
        self._ckpt_bytes.observe((e.agent, e.op), e.size_bytes)

    def _hook(self, e: ev.HookEvent) -> None:
        self._hook_total.inc((e.agent, e.hook, _status(e.error)))
        self._hook_seconds.observe((e.agent, e.hook), e.duration_s)

    def _interrupt(self, e: ev.InterruptEvent) -> None:
        self._interrupts.inc((e.agent, e.kind))

    def _control(self, e: ev.ControlEvent) -> None:
        self._control_total.inc((e.agent, e.kind, e.outcome))
        self._control_seconds.observe((e.agent, e.kind), e.duration_s)

    def _task(self, e: ev.TaskEvent) -> None:
        key = (e.agent, e.task_type, e.complexity, _status(e.error))
        self._task_total.inc(key)
        self._task_seconds.observe(key, e.duration_s)
        spend = self._spend.between(e.agent, e.end_ns - round(e.duration_s * 1e9), e.end_ns)
        task = (e.agent, e.task_type, e.complexity)
        self._task_cost.inc(task, spend.pico)
        if spend.unpriced:
            self._task_unpriced.inc(task, spend.unpriced)

    def _process(self, e: ev.ProcessSample) -> None:
        a = (e.agent,)
        self._cpu.set((e.agent, "user"), e.cpu_user_s)
        self._cpu.set((e.agent, "system"), e.cpu_system_s)
        self._rss.set(a, e.rss_bytes)
        self._peak_rss.set(a, e.peak_rss_bytes)
        self._io.set((e.agent, "read"), e.io_read_bytes)
        self._io.set((e.agent, "write"), e.io_write_bytes)
        self._fds.set(a, e.open_fds)
        self._threads.set(a, e.threads)
        self._switches.set((e.agent, "voluntary"), e.ctx_voluntary)
        self._switches.set((e.agent, "involuntary"), e.ctx_involuntary)
        self._processes.set(a, e.processes)
        if e.run_queue_wait_s >= 0:
            self._offcpu.set((e.agent, "runqueue"), e.run_queue_wait_s)

    def _kernel_counter(self, e: ev.KernelCounter) -> None:
        fam = self._f.get(e.metric)  # the event names its family (the eBPF programs' table)
        if fam is not None:  # labels: (agent,) or (agent, kind)
            fam.inc((e.agent, e.label)[:len(fam.spec.labels)], e.value)

    def _kernel_histogram(self, e: ev.KernelHistogram) -> None:
        fam = self._f.get(e.metric)
        if fam is not None:
            fam.add_buckets((e.agent, e.label)[:len(fam.spec.labels)], e.counts, e.sum_s)

    def _budget_sample(self, e: ev.BudgetSample) -> None:
        if e.budget_usd is not None:
            self._budget.set((e.agent,), e.budget_usd)
        self._budget_spent.set((e.agent,), e.spent_usd)

    def _invalid(self, e: ev.InvalidInput) -> None:
        self._invalid_total.inc((e.reason,))

    # -- self-metrics -------------------------------------------------------------------
    def refresh_self_metrics(self, pipe: Pipeline) -> None:
        """Copy the pipeline's and every sink's own counters (drops, export errors, dispatcher
        CPU, series folds) into their families; called with the pipeline lock held."""
        for name, count in pipe.export_errors().items():
            self._export_errors.set((name,), count)
        for name, count in pipe.dropped_events().items():
            self._dropped.set((name,), count)
        cpu = time.process_time()
        self._overhead.set((), pipe.dispatcher_cpu_s / cpu if cpu else 0.0)
        for name, fam in self._f.items():
            if fam.overflowed:
                self._overflow.set((name,), fam.overflowed)
