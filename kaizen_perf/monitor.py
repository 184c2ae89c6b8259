"""Monitor: the hooks agent code calls, and the process-wide ``configure()``/``get_monitor()``.

Every hook validates its arguments cheaply, builds one event and enqueues it;
aggregation and export happen on the dispatcher thread. Hooks never raise into
agent code: unusable values are counted in ``kaizen_perf_invalid_events_total``
and logged once per reason, unless ``strict`` is set (our tests), in which case
they raise ``ValueError``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry

from kaizen_perf import _validate as v
from kaizen_perf._context import CURRENT, new_span_id, parse_traceparent
from kaizen_perf._point_hooks import PointHooks
from kaizen_perf._scopes import (
    NOOP,
    HashedToolScope,
    LoopScope,
    NoopScope,
    Recorder,
    TaggedToolScope,
    ToolScope,
)
from kaizen_perf._setup import register_exit_hook, resolve_settings, warn_process_once
from kaizen_perf._validate import MAX_TEXT
from kaizen_perf.alerts.wiring import attach
from kaizen_perf.config import Settings
from kaizen_perf.cost import (
    COST_LOCAL,
    COST_PROVIDER,
    PriceTable,
    pico_of_usd,
    usd,
    usd_problem,
)
from kaizen_perf.cost.attribution import tool_names
from kaizen_perf.events import (
    ApiCallEvent,
    Event,
)
from kaizen_perf.health import HealthReport, pipeline_check
from kaizen_perf.loops import args_digest
from kaizen_perf.metrics.extra import ExtraMetrics, MonitorCollector, exposition
from kaizen_perf.metrics.sink import MetricsSink
from kaizen_perf.outputs import CoreSinks, build_sinks
from kaizen_perf.pipeline import BatchHandler, Pipeline

if TYPE_CHECKING:
    from kaizen_perf.audit.trail import AuditTrail
    from kaizen_perf.server import MetricsServer

logger = logging.getLogger("kaizen_perf")


class Monitor(PointHooks):
    """The hooks for one agent; owns a pipeline, its metrics and (optionally) an HTTP server."""

    def __init__(self, agent_id: str | None = None, *, settings: Settings | None = None,
                 sinks: Sequence[BatchHandler] = (),
                 clock: Callable[[], int] = time.perf_counter_ns,
                 wall_clock: Callable[[], int] = time.time_ns,
                 environ: Mapping[str, str] | None = None, pricing: PriceTable | None = None,
                 **overrides: Any) -> None:
        settings, env = resolve_settings(settings, agent_id, environ, overrides)
        self.settings = settings
        self.agent_id = settings.agent_id
        self._clock, self._wall_clock = clock, wall_clock
        self._strict, self._enabled = settings.strict, settings.enabled
        self.pricing = pricing or PriceTable.load(settings.pricing_file)
        self._root = parse_traceparent(env.get("TRACEPARENT"))
        self._audit: AuditTrail | None = None
        self._audit_lock = threading.Lock()
        # hard budget stop / per-user charging: None unless needed (one check on the hot path);
        # the budget tracker sets them through set_budget_stop() / set_budget_charge()
        self._budget_stop: Callable[[], None] | None = None
        self._budget_charge: Callable[[ApiCallEvent], None] | None = None
        self.metrics = MetricsSink(series_cap=settings.series_cap, to_wall_s=self._to_wall_s,
                                   loop_repeats=settings.loop_repeats)
        wired = attach(self)
        self.budget, self.alerts = wired.budget, wired.alerts
        self.pipeline = Pipeline(
            build_sinks(settings, sinks, core=CoreSinks(self.metrics, wired.budget, wired.alerts),
                        to_wall_ns=self._to_wall_ns, audit=lambda: self.audit, environ=env),
            capacity=settings.buffer_size, flush_interval_s=settings.flush_interval_s)
        if wired.initial is not None:
            self.budget.add(wired.initial)
        self._put: Callable[[Event], None] = self.pipeline.put
        # what the timed scopes read, bound once (they never reach into the monitor)
        self._rec = Recorder(self.agent_id, clock, self.pipeline, self._root)
        self._warned: set[str] = set()
        # families other components serve here (kaizen_perf.compat's bound MetricsCollector)
        self.extra_metrics = ExtraMetrics()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(MonitorCollector(self))
        self.health_checks = [pipeline_check(self.pipeline, settings.ready_backlog),
                              *wired.checks]
        self.server: MetricsServer | None = None
        self._closed = False
        self.profiler: Any = None
        self._tool_scope: type[ToolScope] = ToolScope
        if self._enabled:
            self._start()
        register_exit_hook(self)

    def set_budget_stop(self, check: Callable[[], None] | None) -> None:
        """Install (or, with None, remove) the hard budget stop the hooks call first."""
        self._budget_stop = check

    def set_budget_charge(self, charge: Callable[[ApiCallEvent], None] | None) -> None:
        """Install (or remove) what counts a priced call on the calling thread."""
        self._budget_charge = charge

    def _start(self) -> None:
        """Start the profiler, the dispatcher, alerting and the HTTP server, in that order."""
        if self.settings.pyroscope_url:
            self._start_pyroscope(self.settings.pyroscope_url)
        self.pipeline.start()
        if self.alerts is not None:
            self.alerts.start()
        if self.settings.metrics_addr:
            try:
                self.serve(self.settings.metrics_addr)
            except BaseException:
                self.shutdown(0.5)  # a failed construction must not leak a thread
                raise

    # -- scopes -------------------------------------------------------------------------
    def agent_loop(self) -> LoopScope | NoopScope:
        """Time one iteration of the agent loop (context manager or decorator)."""
        if self._budget_stop is not None:
            self._budget_stop()  # raises BudgetExceeded only under an opted-in hard stop
        return LoopScope(self._rec, "") if self._enabled else NOOP

    def tool(self, name: str, *, arguments: object = None) -> ToolScope | NoopScope:
        """Time one tool call: ``with mon.tool("search"):`` or ``@mon.tool("search")``.

        ``arguments`` (the call's input, e.g. a ``tool_use`` block's ``input``) enables loop
        detection: they are reduced here, on the caller's thread, to a 64-bit digest
        (:func:`kaizen_perf.loops.args_digest`) and not kept; only the digest is compared.
        """
        if not self._enabled:
            return NOOP
        if self._budget_stop is not None:
            self._budget_stop()  # raises BudgetExceeded only under an opted-in hard stop
        if type(name) is not str or not name:
            self._invalid(v.label(name, "tool name") or "invalid_label")
            return NOOP
        if len(name) > MAX_TEXT or not name.isascii():  # before any work (labels, spans)
            name = v.cut(name)
        if arguments is not None:
            return HashedToolScope(self._rec, name, args_digest(arguments))
        return self._tool_scope(self._rec, name)

    @property
    def audit(self) -> AuditTrail:
        """The audit trail (``KAIZEN_PERF_AUDIT_URL``, default ``.kaizen/audit.db``), opened on
        first use; ``mon.audit.record(...)`` returns once the entry is durable."""
        if self._audit is None:
            with self._audit_lock:
                if self._audit is None:
                    from kaizen_perf.audit import open_trail

                    s = self.settings
                    self._audit = open_trail(s.audit_url, agent_id=self.agent_id, key=s.audit_key,
                                             policy=s.audit_policy)
        return self._audit

    def _start_pyroscope(self, url: str) -> None:
        """Continuous profiling pushed to Pyroscope; tool scopes then tag samples (decided once)."""
        from kaizen_perf.collectors.pyroscope import PyroscopeOptions, PyroscopeProfiler
        from kaizen_perf.errors import CollectorUnavailable, ConfigError

        try:
            self.profiler = PyroscopeProfiler(PyroscopeOptions(
                url, service_name=self.agent_id, agent_id=self.agent_id)).start()
        except (CollectorUnavailable, ConfigError) as exc:
            logger.warning("kaizen-perf: Pyroscope profiling is off: %s", exc)
            return
        self._rec.tagger = self.profiler.tagger()
        self._tool_scope = TaggedToolScope

    # -- point hooks ------------------------------------------------------------------
    def record_api_call(self, provider: str, model: str, input_tokens: int = 0,
                        output_tokens: int = 0, cache_read_tokens: int = 0,
                        cache_write_tokens: int = 0, duration_s: float = 0.0,
                        error: object = None, *, cache_write_1h_tokens: int = 0,
                        ttft_s: float | None = None, stop_reason: str | None = None,
                        status_code: int | None = None,
                        request_id: str | None = None,
                        provider_cost_usd: float | None = None,
                        tool_calls: Sequence[str] = ()) -> float | None:
        """Record one LLM API call; returns its cost in USD, or None if the cost is unknown.

        ``input_tokens`` are the provider's uncached input tokens; cache reads and
        writes are counted separately (as Anthropic reports them). The keyword-only
        details (time to first token, stop reason, HTTP status, request id) come from
        the client integrations and reach metrics and the ``chat`` span.
        ``provider_cost_usd`` is the cost the provider reported (the Claude Agent SDK's
        ``total_cost_usd``): used only when no price source knows the model, and then
        marked ``gen_ai.usage.cost.source=provider`` (priced calls are ``local``).
        ``tool_calls`` names the tools the response asked for, in order: its cost is
        split across them in ``kaizen_tool_cost_usd_total`` (:mod:`kaizen_perf.cost.attribution`).
        """
        if not self._enabled:
            return None
        if self._budget_stop is not None:
            self._budget_stop()  # raises BudgetExceeded only under an opted-in hard stop
        problem = v.first(v.label(provider, "provider"), v.label(model, "model"),
                          v.count(input_tokens, "input_tokens"),
                          v.count(output_tokens, "output_tokens"),
                          v.count(cache_read_tokens, "cache_read_tokens"),
                          v.count(cache_write_tokens, "cache_write_tokens"),
                          v.count(cache_write_1h_tokens, "cache_write_1h_tokens"),
                          v.duration(duration_s),
                          None if provider_cost_usd is None else usd_problem(provider_cost_usd),
                          v.api_details(ttft_s, stop_reason, status_code, request_id))
        calls: tuple[str, ...] | None = ()
        if tool_calls:
            calls = tool_names(tool_calls, v.cut)
            if calls is None:
                problem = ("invalid_label: tool_calls must be a sequence of tool names, got "
                           f"{type(tool_calls).__name__}")
        if problem or calls is None:
            self._invalid(problem or "invalid_label")
            return None
        try:
            # cut before the price lookup; inline: most names are short and ASCII
            if len(model) > MAX_TEXT or not model.isascii():
                model = v.cut(model)
            if len(provider) > MAX_TEXT or not provider.isascii():
                provider = v.cut(provider)
            if stop_reason is not None or request_id is not None:
                stop_reason, request_id = v.cut_opt(stop_reason), v.cut_opt(request_id)
            price = self.pricing.lookup(model, provider)
            if price is not None:
                cost, source = price.cost_pico(
                    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
                    cache_write_1h_tokens), COST_LOCAL
            elif provider_cost_usd is not None:
                cost, source = pico_of_usd(provider_cost_usd), COST_PROVIDER
            else:
                cost, source = -1, None
            if price is None and source is None:
                self._warn_once(f"model:{model}", f"kaizen-perf has no price for model {model!r}"
                                f" ({provider}); its requests are counted in "
                                "kaizen_api_unpriced_requests_total, not as $0. Add it with "
                                "KAIZEN_PERF_PRICING_FILE.")
            cur = CURRENT.get()
            trace, parent, tool = (0, 0, None) if cur is None else cur
            event = ApiCallEvent(
                self.agent_id, provider, model, input_tokens, output_tokens, cache_read_tokens,
                cache_write_tokens + cache_write_1h_tokens, float(duration_s),
                v.error_name(error), cost, tool, self._clock(), trace, new_span_id(), parent,
                ttft_s, stop_reason, status_code, request_id, source, calls)
            if self._budget_charge is not None and cost > 0:
                # budgets count it now, on this thread (exact for reservations and users;
                # only this thread knows the user), before the dispatcher can see it
                self._budget_charge(event)
            self._put(event)
            return None if cost < 0 else usd(cost)
        except Exception as exc:  # never into agent code
            self._internal_error(exc)
            return None

    # -- outputs --------------------------------------------------------------------------
    def _to_wall_ns(self, perf_ns: int) -> int:
        """Unix time in ns of a monitor-clock reading (offset re-read each call: clocks drift)."""
        return perf_ns + self._wall_clock() - self._clock()

    def _to_wall_s(self, perf_ns: int) -> float:
        return self._to_wall_ns(perf_ns) / 1e9

    def flush(self) -> None:
        """Hand everything recorded so far to the sinks now."""
        self.pipeline.drain()

    def export_metrics(self, *, openmetrics: bool = False) -> str:
        """Every metric in the Prometheus text format, or OpenMetrics (drains the buffer
        first), with those of :attr:`extra_metrics` (:mod:`kaizen_perf.metrics.extra`)."""
        return exposition(self, openmetrics=openmetrics)

    def _refresh_self_metrics(self) -> None:
        """Drain, then bring kaizen-perf's own metrics up to date (pipeline lock held)."""
        self.pipeline.drain()
        self.metrics.refresh_self_metrics(self.pipeline)

    def health(self) -> HealthReport:
        """Liveness and readiness with a status per component."""
        return HealthReport.of([check() for check in self.health_checks])

    def serve(self, addr: str = "127.0.0.1:9464") -> MetricsServer:
        """Serve /metrics, /healthz and /readyz on ``addr``; returns the server."""
        from kaizen_perf.server import MetricsServer  # http.server only for monitors that serve
        self.server = MetricsServer.start(self, addr, certfile=self.settings.tls_cert,
                                          keyfile=self.settings.tls_key,
                                          client_cafile=self.settings.tls_client_ca)
        return self.server

    def shutdown(self, timeout_s: float | None = None) -> bool:
        """Stop within ``timeout_s`` (default from settings); False if the deadline was hit."""
        if self._closed:
            return True
        self._closed = True
        timeout = self.settings.shutdown_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout
        ok = self.pipeline.shutdown(timeout)
        if self.profiler is not None:
            ok = self.profiler.shutdown_with_deadline(max(0.0, deadline - time.monotonic())) and ok
        if self._audit is not None:
            self._audit.close(max(0.0, deadline - time.monotonic()))
        if self.server is not None:
            self.server.stop(max(0.0, deadline - time.monotonic()))
        return ok


# -- the process-wide monitor ---------------------------------------------------------
_global: Monitor | None = None
_global_lock = threading.Lock()


def configure(agent_id: str | None = None, **kwargs: Any) -> Monitor:
    """Create the process-wide monitor (replacing and shutting down a previous one)."""
    global _global
    mon = Monitor(agent_id, **kwargs)
    with _global_lock:
        old, _global = _global, mon
    if old is not None:
        old.shutdown(1.0)
    return mon


def get_monitor() -> Monitor:
    """The process-wide monitor; configured from ``KAIZEN_PERF_*`` variables on first use."""
    global _global
    with _global_lock:
        if _global is None:
            try:
                _global = Monitor()
            except Exception as exc:  # the port is taken, a store cannot open...: the agent
                warn_process_once(   # still runs, without monitoring
                    f"kaizen-perf: monitoring is OFF in this process: {exc} The agent runs "
                    "normally and every kaizen-perf hook does nothing.")
                _global = Monitor(environ={}, enabled=False)
        return _global
