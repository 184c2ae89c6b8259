"""Optional OTLP metrics: the GenAI client metrics of API calls.

By default the two histograms of ``opentelemetry-semantic-conventions`` 0.66b2
(``gen_ai.client.token.usage``, ``gen_ai.client.operation.duration``); under
``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`` the pinned commit's
(:mod:`kaizen_perf.tracing.genai`): ``gen_ai.client.inference.duration``, the token counters
``gen_ai.client.inference.usage.*`` (by ``gen_ai.token.modality``, ``unknown``: providers
do not split usage by modality), the per-call token histograms
``gen_ai.client.inference.operation.*`` and the cost histogram
``gen_ai.client.operation.cost``; both sets with ``/dup``. They are fed from API-call
events on the dispatcher thread. The SDK's periodic reader
would add a thread that blocks exit on a dead backend, so a pull reader is used
instead: every ``interval_s`` the dispatcher takes a (cumulative) snapshot and
offers it to a :class:`~kaizen_perf.exporters.batch.BatchExporter`, whose thread
sends only the newest snapshot (cumulative data makes older ones redundant).

Switched on by ``KAIZEN_PERF_OTLP_METRICS=1`` or ``OTEL_METRICS_EXPORTER=otlp``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence

from opentelemetry.metrics import Meter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExporter, MetricsData
from opentelemetry.sdk.resources import Resource

from kaizen_perf.config import Settings
from kaizen_perf.cost import usd
from kaizen_perf.events import ApiCallEvent, Event
from kaizen_perf.exporters.batch import BatchExporter
from kaizen_perf.pipeline import SinkBase
from kaizen_perf.tracing import genai as g


class _LegacyInstruments:
    """``gen_ai.client.token.usage`` (input/output, successful calls) and
    ``gen_ai.client.operation.duration`` (0.66b2)."""

    def __init__(self, meter: Meter) -> None:
        self.tokens = meter.create_histogram(
            g.METRIC_TOKEN_USAGE, unit="{token}", description="Tokens used per operation.",
            explicit_bucket_boundaries_advisory=list(g.TOKEN_USAGE_BUCKETS))
        self.duration = meter.create_histogram(
            g.METRIC_OPERATION_DURATION, unit="s", description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=list(g.OPERATION_DURATION_BUCKETS))

    def record(self, e: ApiCallEvent, attrs: dict[str, str]) -> None:
        if e.error is not None:
            attrs = {**attrs, g.ERROR_TYPE: e.error}
        self.duration.record(e.duration_s, attrs)
        # tokens a failed call reported are billed too, and Prometheus and spans count them:
        # one truth across outputs, so they are recorded here as well (with error.type)
        total_in = g.input_tokens(e.input_tokens, e.cache_read_tokens, e.cache_write_tokens)
        if e.error is None or total_in or e.output_tokens:
            self.tokens.record(total_in, {**attrs, g.TOKEN_TYPE: g.TOKEN_TYPE_INPUT})
            self.tokens.record(e.output_tokens, {**attrs, g.TOKEN_TYPE: g.TOKEN_TYPE_OUTPUT})


class _LatestInstruments:
    """The pinned commit's inference metrics, and the proposed cost histogram."""

    def __init__(self, meter: Meter) -> None:
        self.duration = meter.create_histogram(
            g.METRIC_INFERENCE_DURATION, unit="s",
            description="GenAI client inference operation duration.",
            explicit_bucket_boundaries_advisory=list(g.OPERATION_DURATION_BUCKETS))
        tokens = "{token}"
        self.usage_in = meter.create_counter(g.METRIC_USAGE_INPUT, unit=tokens)
        self.usage_out = meter.create_counter(g.METRIC_USAGE_OUTPUT, unit=tokens)
        self.usage_read = meter.create_counter(g.METRIC_USAGE_CACHE_READ, unit=tokens)
        self.usage_write = meter.create_counter(g.METRIC_USAGE_CACHE_WRITE, unit=tokens)
        buckets = list(g.TOKEN_USAGE_BUCKETS)
        self.op_in = meter.create_histogram(g.METRIC_OPERATION_INPUT, unit=tokens,
                                            explicit_bucket_boundaries_advisory=buckets)
        self.op_out = meter.create_histogram(g.METRIC_OPERATION_OUTPUT, unit=tokens,
                                             explicit_bucket_boundaries_advisory=buckets)
        # the proposal names the currency in an attribute, so the unit is currency-neutral
        self.cost = meter.create_histogram(g.METRIC_OPERATION_COST, unit="{currency}",
                                           description="Cost of one GenAI operation.")

    def record(self, e: ApiCallEvent, attrs: dict[str, str]) -> None:
        with_error = attrs if e.error is None else {**attrs, g.ERROR_TYPE: e.error}
        self.duration.record(e.duration_s, with_error)
        # recorded for failed calls too (0 when no usage came back), as the conventions ask
        total_in = g.input_tokens(e.input_tokens, e.cache_read_tokens, e.cache_write_tokens)
        self.op_in.record(total_in, with_error)
        self.op_out.record(e.output_tokens, with_error)
        usage = {**attrs, g.TOKEN_MODALITY: g.TOKEN_MODALITY_UNKNOWN}
        self.usage_in.add(total_in, usage)
        self.usage_out.add(e.output_tokens, usage)
        self.usage_read.add(e.cache_read_tokens, usage)
        self.usage_write.add(e.cache_write_tokens, usage)
        if e.cost_pico >= 0:
            cost = {**attrs, g.USAGE_COST_CURRENCY: g.COST_CURRENCY_USD}
            if e.cost_source is not None:
                cost[g.USAGE_COST_SOURCE] = e.cost_source
            self.cost.record(usd(e.cost_pico), cost)


class OtlpMetricsSink(SinkBase):
    """Pipeline sink: API calls → GenAI client histograms → periodic OTLP export."""

    def __init__(self, exporter: MetricExporter, *, resource: Resource | None = None,
                 interval_s: float = 10.0, timeout_s: float = 3.0,
                 clock: Callable[[], float] = time.monotonic,
                 conventions: g.Conventions = g.DEFAULT) -> None:
        self._reader = InMemoryMetricReader()
        self._provider = MeterProvider(metric_readers=[self._reader],
                                       resource=resource or Resource.create({}),
                                       shutdown_on_exit=False)
        meter = self._provider.get_meter("kaizen_perf")
        self._legacy = _LegacyInstruments(meter) if conventions.legacy else None
        self._latest = _LatestInstruments(meter) if conventions.latest else None
        timeout_ms = timeout_s * 1000

        def export(snapshots: Sequence[MetricsData]) -> bool:
            result = exporter.export(snapshots[-1], timeout_millis=timeout_ms)
            return result.name == "SUCCESS"

        self._queue = BatchExporter[MetricsData]("metrics-otlp", export,
                                                 shutdown=exporter.shutdown, max_queue=4,
                                                 max_batch=4, interval_s=1.0)
        self._interval, self._clock = interval_s, clock
        self._last = clock()
        self._dirty = False

    def handle(self, batch: Sequence[Event]) -> None:
        """Record the API calls of a batch; snapshot for export every ``interval_s``."""
        for e in batch:
            if type(e) is ApiCallEvent:
                self._record(e)
        if self._dirty and self._clock() - self._last >= self._interval:
            self._snapshot()

    def _record(self, e: ApiCallEvent) -> None:
        attrs: dict[str, str] = {g.OPERATION_NAME: g.OP_CHAT, g.PROVIDER_NAME: e.provider,
                                 g.REQUEST_MODEL: e.model}
        if self._legacy is not None:
            self._legacy.record(e, attrs)
        if self._latest is not None:
            self._latest.record(e, attrs)
        self._dirty = True

    def _snapshot(self) -> None:
        self._last, self._dirty = self._clock(), False
        data = self._reader.get_metrics_data()
        if data is not None:
            self._queue.offer([data])

    @property
    def export_errors(self) -> dict[str, int]:
        """Failed exports, for ``kaizen_perf_export_errors_total{exporter="metrics-otlp"}``."""
        return {self._queue.name: self._queue.export_errors}

    @property
    def exported(self) -> int:
        """Snapshots the backend accepted."""
        return self._queue.exported

    def close(self, timeout_s: float) -> None:
        """Send a last snapshot within the deadline."""
        if self._dirty:
            self._snapshot()
        self._queue.close(timeout_s - min(0.25, timeout_s * 0.2))  # leave time to later sinks
        # an in-memory reader: nothing to wait for, but the SDK may still complain
        with contextlib.suppress(Exception):
            self._provider.shutdown(timeout_millis=100)

    def after_fork(self) -> None:
        """A forked child exports nothing of the parent's queue."""
        self._queue.after_fork()


def otlp_metrics_sink(settings: Settings, *,
                      environ: Mapping[str, str]) -> OtlpMetricsSink | None:
    """The sink when OTLP metrics are asked for, else None."""
    wanted = settings.otlp_metrics
    if wanted is None:
        wanted = environ.get("OTEL_METRICS_EXPORTER", "").strip().lower() == "otlp"
    if not wanted:
        return None
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    from kaizen_perf.exporters.quiet import quiet_otel_exporter_logs
    from kaizen_perf.tracing import resource_for
    quiet_otel_exporter_logs()
    endpoint = None
    if settings.otlp_endpoint is not None:
        endpoint = settings.otlp_endpoint.rstrip("/") + "/v1/metrics"
    exporter = OTLPMetricExporter(endpoint=endpoint, timeout=settings.export_timeout_s)
    return OtlpMetricsSink(exporter, resource=resource_for(settings, environ),
                           timeout_s=settings.export_timeout_s,
                           conventions=g.Conventions.from_env(environ))
