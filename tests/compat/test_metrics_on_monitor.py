"""Metrics recorded through ``kaizen_perf.compat`` bound to a monitor are on that monitor's
/metrics (one endpoint to scrape), under valid Prometheus names, checked on real scrapes."""

from __future__ import annotations

import asyncio
import gc
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from kaizen_perf import Monitor
from kaizen_perf.compat import MetricsCollector, ObservabilityManager


@pytest.fixture
def served() -> Iterator[Monitor]:
    mon = Monitor("web", environ={}, metrics_addr="127.0.0.1:0")
    yield mon
    mon.shutdown(2.0)


def scrape(mon: Monitor, accept: str | None = None) -> str:
    req = urllib.request.Request(mon.server.url + "/metrics",
                                 headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return str(resp.read().decode())


def samples(text: str, parse: Any = text_string_to_metric_families,
            ) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a parsed exposition, by name and labels; a family twice fails."""
    out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    names: list[str] = []
    for family in parse(text):
        names.append(family.name)
        for s in family.samples:
            key = (s.name, frozenset(s.labels.items()))
            assert key not in out, f"sample {key} twice"
            out[key] = s.value
    assert len(names) == len(set(names)), f"a family twice: {names}"
    return out


def record(obs: ObservabilityManager) -> None:
    asyncio.run(obs.record_metric("api.calls", 1.0, labels={"provider": "openai"}))
    asyncio.run(obs.record_metric("api.calls", 2.0, labels={"provider": "openai"}))
    asyncio.run(obs.record_metric("queue-depth", 7.0, type="gauge"))
    asyncio.run(obs.record_metric("tool.ms", 30.0, type="histogram",
                                  labels={"tool": "search", "1st": "a"}))


def test_a_bound_managers_metrics_are_on_the_monitors_scrape(served: Monitor) -> None:
    """Counters, gauges and histograms recorded through a bound manager appear in the
    monitor's /metrics (text and OpenMetrics) beside its own, with valid names and labels."""
    obs = ObservabilityManager("svc", enable_tracing=False, enable_audit=False,
                               enable_logging=False, monitor=served)
    record(obs)
    with served.tool("search"):
        pass
    for accept, parse in ((None, text_string_to_metric_families),
                          ("application/openmetrics-text", openmetrics_families)):
        got = samples(scrape(served, accept), parse)
        assert got[("api_calls_total", frozenset({("provider", "openai")}))] == 3.0
        assert got[("queue_depth", frozenset())] == 7.0
        hist = frozenset({("tool", "search"), ("_1st", "a")})
        assert got[("tool_ms_count", hist)] == 1.0 and got[("tool_ms_sum", hist)] == 30.0
        assert got[("tool_ms_bucket", hist | {("le", "50.0")})] == 1.0
        assert got[("kaizen_tool_calls_total", frozenset(
            {("agent", "web"), ("tool", "search"), ("status", "ok")}))] == 1.0
    assert scrape(served) == served.export_metrics()
    registry = samples(generate_latest(served.registry).decode())  # the registry collector too
    assert registry[("api_calls_total", frozenset({("provider", "openai")}))] == 3.0


def test_collectors_merge_and_never_shadow_the_monitors_own(served: Monitor) -> None:
    """Two collectors' equal series add up, one name with and without labels is one family,
    and a name kaizen-perf itself exports is left out rather than duplicated."""
    a, b = MetricsCollector(monitor=served), MetricsCollector(monitor=served)
    a.counter("runs", 1.0)
    b.counter("runs", 2.0)
    b.counter("runs", 4.0, labels={"agent": "x"})
    a.counter("kaizen_tool_calls_total", 5.0, labels={"agent": "web", "tool": "search",
                                                      "status": "ok"})
    with served.tool("search"):
        pass
    got = samples(scrape(served))
    assert got[("runs_total", frozenset({("agent", "")}))] == 3.0
    assert got[("runs_total", frozenset({("agent", "x")}))] == 4.0
    assert got[("kaizen_tool_calls_total", frozenset(
        {("agent", "web"), ("tool", "search"), ("status", "ok")}))] == 1.0


def test_the_managers_own_export_lists_each_family_once(served: Monitor) -> None:
    """ObservabilityManager.export_metrics() is Kaizen's text of its metrics plus the
    monitor's families, without its own a second time; it parses."""
    obs = ObservabilityManager("svc", enable_tracing=False, enable_audit=False,
                               enable_logging=False, monitor=served)
    other = MetricsCollector(monitor=served)
    record(obs)
    other.gauge("elsewhere", 1.0)
    with served.tool("search"):
        pass
    text = asyncio.run(obs.export_metrics())
    got = samples(text)
    assert 'api_calls{provider="openai"} 3.0\n' in text  # Kaizen's name, once
    assert "api_calls_total" not in text
    assert got[("elsewhere", frozenset())] == 1.0
    assert ("tool_ms_p95", frozenset({("tool", "search"), ("_1st", "a")})) in got


def test_a_dropped_collector_leaves_the_scrape(served: Monitor) -> None:
    """The monitor holds bound collectors weakly: once one is gone its series are too."""
    collector = MetricsCollector(monitor=served)
    collector.counter("short_lived", 1.0)
    assert ("short_lived_total", frozenset()) in samples(scrape(served))
    del collector
    gc.collect()
    assert "short_lived" not in scrape(served)
