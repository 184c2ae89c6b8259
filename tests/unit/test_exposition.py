"""Our renderer's output is what prometheus-client's own parsers read back, in both formats."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_parse
from prometheus_client.parser import text_string_to_metric_families as text_parse

from kaizen_perf import Monitor
from kaizen_perf.testing import FakeClock
from tests.unit.prometheus_oracle import reference_text

WEIRD = 'we"ird\\tool\nname'


@pytest.fixture
def mon() -> Iterator[Monitor]:
    clock = FakeClock()
    m = Monitor("agent", environ={}, clock=clock)
    with m.tool(WEIRD):
        clock.advance(0.002)
    m.record_api_call("anthropic", "claude-haiku-4-5", 100, 10, 5, 1, 0.5)
    m.interrupt("graceful")
    yield m
    m.shutdown(2.0)


def test_text_format_round_trips_through_the_reference_parser(mon: Monitor) -> None:
    """Escaped label values, histograms, counters and unlabelled gauges parse back exactly."""
    fams = {f.name: f for f in text_parse(mon.export_metrics())}
    tool = fams["kaizen_tool_calls"]
    assert tool.type == "counter"
    (sample,) = [s for s in tool.samples if s.name == "kaizen_tool_calls_total"]
    assert sample.labels == {"agent": "agent", "tool": WEIRD, "status": "ok"} and sample.value == 1
    hist = fams["kaizen_tool_duration_seconds"]
    buckets = {s.labels["le"]: s.value for s in hist.samples if s.name.endswith("_bucket")}
    assert buckets["0.001"] == 0 and buckets["0.0025"] == 1 and buckets["+Inf"] == 1
    assert "kaizen_perf_overhead_ratio" in fams


def test_openmetrics_round_trips_through_the_reference_parser(mon: Monitor) -> None:
    """The OpenMetrics rendering is valid for the strict OpenMetrics parser."""
    fams = {f.name: f for f in om_parse(mon.export_metrics(openmetrics=True))}
    cost = fams["kaizen_api_cost_usd"]
    assert cost.type == "counter"
    expected = (100 * 1 + 10 * 5 + 5 * 0.1 + 1 * 1.25) / 1e6
    assert cost.samples[0].value == pytest.approx(expected)
    assert fams["kaizen_api_request_duration_seconds"].type == "histogram"


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for f in text_parse(text) for s in f.samples if s.name != "kaizen_perf_overhead_ratio"}


def test_render_matches_prometheus_client_rendering(mon: Monitor) -> None:
    """Our one renderer and prometheus-client's renderer (the test oracle) give the same
    samples: cumulative buckets, le values, dollars."""
    ours = _samples(mon.export_metrics())
    ref = _samples(reference_text(mon.metrics.families.values()))
    assert ours == ref and ("kaizen_api_cost_usd_total", frozenset(
        {("agent", "agent"), ("provider", "anthropic"), ("model", "claude-haiku-4-5")})) in ours


def test_the_registry_collector_shows_what_metrics_shows(mon: Monitor) -> None:
    """mon.registry (to combine with a user's own collectors) serves the same samples as
    /metrics, drained first: an event recorded just before is in it."""
    from prometheus_client import generate_latest

    mon.interrupt("immediate")
    via_registry = _samples(generate_latest(mon.registry).decode())
    assert via_registry == _samples(mon.export_metrics())
    assert via_registry[("kaizen_interrupts_total", frozenset(
        {("agent", "agent"), ("kind", "immediate")}))] == 1
