"""Sampling, OTLP metrics, and what happens when the backend refuses or never answers."""

from __future__ import annotations

import time
from typing import Any

import pytest

from kaizen_perf import Monitor
from kaizen_perf.exporters.batch import BatchExporter
from kaizen_perf.exporters.otlp_metrics import OtlpMetricsSink
from kaizen_perf.testing import FakeClock
from kaizen_perf.tracing import Sampler, TraceSink
from tests.helpers import free_port
from tests.tracing.receiver import attrs, otlp_receiver


def _memory_spans(mon: Monitor) -> list[Any]:
    [sink] = [s for s in mon.pipeline._sinks if isinstance(s, TraceSink)]
    return list(sink.exporters["memory"].get_finished_spans())  # type: ignore[attr-defined]


def test_ratio_zero_keeps_only_errors_slow_spans_and_their_ancestors() -> None:
    """At sample ratio 0, a clean fast trace is dropped but an error's trace is kept upward."""
    clock = FakeClock()
    mon = Monitor("r", traces="memory", trace_sample_ratio=0.0, slow_threshold_s=5.0,
                  clock=clock)
    with mon.agent_loop(), mon.tool("fast"):
        clock.advance(0.01)
    with mon.agent_loop():
        with mon.tool("fast"):
            clock.advance(0.01)
        with pytest.raises(OSError), mon.tool("broken"):
            raise OSError("disk")
    with mon.agent_loop(), mon.tool("slow"):
        clock.advance(6.0)
    mon.shutdown(2.0)
    names = sorted(s.name for s in _memory_spans(mon))
    assert names == ["execute_tool broken", "execute_tool slow", "invoke_agent r",
                     "invoke_agent r"]


def test_ratio_keeps_whole_traces_in_proportion() -> None:
    """A 0.25 ratio keeps about a quarter of the traces, each one complete."""
    sampler = Sampler(0.25, 10.0)
    kept = sum(sampler.keep(t * 0x9E3779B97F4A7C15 % (1 << 128), 0, None) for t in range(4000))
    assert 800 < kept < 1200
    assert sampler.keep(12345, 0, None) == sampler.keep(12345, 0, None)


def test_otlp_metrics_carry_genai_histograms_with_standard_buckets() -> None:
    """gen_ai.client.token.usage and gen_ai.client.operation.duration arrive with their buckets."""
    with otlp_receiver() as rec:
        mon = Monitor("r", otlp_metrics=True, otlp_endpoint=rec.url)
        mon.record_api_call("anthropic", "claude-sonnet-4-5", input_tokens=100,
                            cache_read_tokens=900, output_tokens=50, duration_s=1.5)
        assert mon.shutdown(5.0)
    metrics = {m.name: m for req in rec.metrics for rm in req.resource_metrics
               for sm in rm.scope_metrics for m in sm.metrics}
    tokens = metrics["gen_ai.client.token.usage"]
    duration = metrics["gen_ai.client.operation.duration"]
    assert tokens.unit == "{token}" and duration.unit == "s"
    points = {attrs(p.attributes)["gen_ai.token.type"]: p for p in tokens.histogram.data_points}
    assert points["input"].sum == 1000 and points["output"].sum == 50
    assert list(points["input"].explicit_bounds) == [float(4**i) for i in range(14)]
    [dp] = duration.histogram.data_points
    assert list(dp.explicit_bounds)[-1] == 81.92 and dp.sum == 1.5
    assert attrs(dp.attributes)["gen_ai.provider.name"] == "anthropic"


def test_refused_endpoint_counts_export_errors_and_shutdown_is_prompt() -> None:
    """With nothing listening, failed exports are counted per exporter and exit is not delayed."""
    url = f"http://127.0.0.1:{free_port()}"
    mon = Monitor("r", traces="otlp", otlp_endpoint=url, export_timeout_s=0.5)
    [sink] = [s for s in mon.pipeline._sinks if isinstance(s, TraceSink)]
    with mon.agent_loop(), mon.tool("t"):
        pass
    start = time.monotonic()
    mon.shutdown(3.0)
    assert time.monotonic() - start < 3.5
    assert sink.export_errors == {"traces-otlp": 1}
    assert sink.dropped_events == {"traces-otlp": 2}
    assert mon.pipeline.export_errors()["traces-otlp"] == 1
    assert mon.pipeline.dropped_events()["traces-otlp"] == 2


def test_black_holed_endpoint_cannot_hold_close_past_its_deadline() -> None:
    """An endpoint that accepts and never answers: shutdown returns within its deadline."""
    with otlp_receiver(hang=True) as rec:
        mon = Monitor("r", traces="otlp", otlp_endpoint=rec.url, export_timeout_s=3.0)
        with mon.agent_loop(), mon.tool("t"):
            pass
        start = time.monotonic()
        ok = mon.shutdown(1.0)
        elapsed = time.monotonic() - start
    assert ok and elapsed < 1.0  # the stuck request is abandoned, not waited for


def test_full_queue_drops_the_oldest_and_counts_them() -> None:
    """Past max_queue the oldest items go, and every one is counted."""
    sent: list[list[int]] = []

    def export(batch: Any) -> bool:
        sent.append(list(batch))
        return True

    queue = BatchExporter[int]("t", export, max_queue=10, max_batch=100, interval_s=60)
    queue.offer(range(25))
    assert queue.dropped == 15 and queue.backlog == 10
    assert queue.close(2.0)
    assert sent == [list(range(15, 25))]


def test_a_raising_exporter_is_counted_and_the_thread_survives() -> None:
    """An exporter bug becomes a counted failure; later batches still go out."""
    calls: list[int] = []

    def export(batch: Any) -> bool:
        calls.append(len(batch))
        if len(calls) == 1:
            raise RuntimeError("bug")
        return True

    queue = BatchExporter[int]("t", export, interval_s=0.01)
    queue.offer([1, 2])
    deadline = time.monotonic() + 5
    while not calls and time.monotonic() < deadline:
        time.sleep(0.01)
    queue.offer([3])
    assert queue.close(2.0)
    assert queue.export_errors == 1 and queue.exported == 1 and queue.dropped == 2


def test_metrics_sink_snapshots_only_after_the_interval() -> None:
    """The dispatcher takes a metrics snapshot at most once per interval."""
    now = [0.0]

    class Exp:
        exports = 0

        def export(self, data: Any, timeout_millis: float = 0) -> Any:
            Exp.exports += 1
            from opentelemetry.sdk.metrics.export import MetricExportResult
            return MetricExportResult.SUCCESS

        def shutdown(self) -> None:
            return None

    sink = OtlpMetricsSink(Exp(), interval_s=10, clock=lambda: now[0])  # type: ignore[arg-type]
    mon = Monitor("r", sinks=[sink])
    mon.record_api_call("openai", "gpt-4o", input_tokens=1, duration_s=0.1)
    mon.flush()
    now[0] = 11
    mon.record_api_call("openai", "gpt-4o", input_tokens=1, duration_s=0.1)
    mon.flush()
    mon.shutdown(2.0)
    assert Exp.exports == 1 and sink.export_errors == {"metrics-otlp": 0}
