"""A call no source prices is an unknown cost everywhere it is shown, never $0; a cost the
provider reported is recorded and marked as the provider's."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from kaizen_perf import Monitor
from kaizen_perf.cli.top import render
from kaizen_perf.metrics.summary import cost_text
from kaizen_perf.report.data import ReportData
from kaizen_perf.report.html import render_run
from kaizen_perf.runner.summary import build_summary, render_summary
from kaizen_perf.testing import FakeClock
from kaizen_perf.top import parse, rows
from kaizen_perf.tracing import TraceSink
from tests.unit.metrics_util import value

NEW = "brand-new-model"  # in no price source
HAIKU = "claude-haiku-4-5"  # $1 input, $5 output per million tokens


class _NoCollector:
    def agents(self) -> list[str]:
        return []

    def average_rss(self, agent: str) -> float:
        return 0.0


def _summary(mon: Monitor) -> dict[str, Any]:
    mon.flush()
    with mon.pipeline.lock:
        return build_summary(mon.metrics.families, _NoCollector(), None)


def _spans(mon: Monitor) -> dict[str, Any]:
    [sink] = [s for s in mon.pipeline._sinks if isinstance(s, TraceSink)]
    return {s.attributes["gen_ai.request.model"]: s
            for s in sink.exporters["memory"].get_finished_spans()  # type: ignore[attr-defined]
            if s.name.startswith("chat ")}


def test_provider_cost_is_recorded_and_marked_as_the_providers(
        make_monitor: Callable[..., Monitor]) -> None:
    """An unpriced model with the provider's own figure is charged that figure, and its span
    says gen_ai.usage.cost.source=provider; a priced call says local; an unpriced one neither."""
    mon = make_monitor(traces="memory")
    assert mon.record_api_call("claude-agent-sdk", NEW, 1000, 100,
                               provider_cost_usd=0.03986) == 0.03986
    assert mon.record_api_call("anthropic", HAIKU, 1000, 100) == (1000 * 1 + 100 * 5) / 1e6
    assert mon.record_api_call("x", "other-new-model", 1000, 100) is None
    assert value(mon, "kaizen_api_cost_usd_total", agent="coster", provider="claude-agent-sdk",
                 model=NEW) == 0.03986
    assert mon.shutdown(2.0)
    spans = _spans(mon)
    assert spans[NEW].attributes["gen_ai.usage.cost.source"] == "provider"
    assert spans[NEW].attributes["kaizen.cost.usd"] == 0.03986
    assert spans[HAIKU].attributes["gen_ai.usage.cost.source"] == "local"
    unpriced = spans["other-new-model"].attributes
    assert unpriced["kaizen.cost.unpriced"] is True
    assert "gen_ai.usage.cost.source" not in unpriced and "kaizen.cost.usd" not in unpriced


def test_a_price_beats_the_providers_figure(make_monitor: Callable[..., Monitor]) -> None:
    """When a source prices the model, the provider's figure is not used (one rule: local)."""
    mon = make_monitor()
    assert mon.record_api_call("anthropic", HAIKU, 1000, 0, provider_cost_usd=9.0) == 0.001


@pytest.mark.parametrize("bad", [-0.01, math.nan, math.inf, True, "0.1", 10**400, 1e12])
def test_an_unusable_provider_cost_is_refused(make_monitor: Callable[..., Monitor],
                                              bad: object) -> None:
    """A negative, non-finite, boolean, text or absurd (a trillion dollars or more) provider
    cost is invalid input (strict: raises); checking it never raises anything else."""
    mon = make_monitor()
    with pytest.raises(ValueError, match="provider_cost_usd"):
        mon.record_api_call("x", NEW, 1, 1, provider_cost_usd=bad)  # type: ignore[arg-type]


def test_cost_text_never_says_zero_for_an_unknown_cost() -> None:
    """The shared wording: dollars when every call was priced, else unknown with the count."""
    assert cost_text(0.5, 0) == "$0.5000"
    assert cost_text(0.0, 1) == "unknown (1 unpriced call)"
    assert cost_text(0.25, 3) == "unknown (3 unpriced calls; $0.2500 priced)"


def test_summary_and_report_show_unknown_with_the_count(
        make_monitor: Callable[..., Monitor], tmp_path: Path) -> None:
    """The run summary (JSON and text) and the HTML report say unknown (N unpriced calls)."""
    mon = make_monitor()
    with mon.agent_loop():
        mon.record_api_call("x", NEW, 1000, 100)
        mon.record_api_call("x", NEW, 1000, 100)
    summary = _summary(mon)
    agent = summary["agents"]["coster"]
    assert agent["cost_usd"] is None and agent["unpriced_requests"] == 2
    assert agent["models"][NEW]["cost_usd"] is None
    text = render_summary(summary, tmp_path, exit_status=0)
    assert "cost unknown (2 unpriced calls)" in text and "$0.0" not in text
    html = render_run(ReportData(tmp_path, {}, summary, {}, {}, []))
    assert html.count("unknown (2 unpriced calls)") == 2  # the agent's card and the model row
    assert "$0.0000" not in html


def test_task_cost_counts_the_unpriced_calls_it_contains(
        make_monitor: Callable[..., Monitor], clock: FakeClock) -> None:
    """A task with an unpriced call has its priced part in kaizen_task_cost_usd_total and the
    unpriced calls in kaizen_task_unpriced_requests_total; a fully priced task has none."""
    mon = make_monitor()
    clock.advance(1.0)
    mon.record_api_call("anthropic", HAIKU, 1000, 0)
    mon.record_api_call("x", NEW, 1000, 0)
    clock.advance(1.0)
    mon.task("mixed", duration_s=1.5)
    clock.advance(10.0)
    mon.record_api_call("anthropic", HAIKU, 2000, 0)
    clock.advance(0.5)
    mon.task("priced", duration_s=1.0)
    labels = {"agent": "coster", "complexity": "unknown"}
    assert value(mon, "kaizen_task_cost_usd_total", task_type="mixed", **labels) == 0.001
    assert value(mon, "kaizen_task_unpriced_requests_total", task_type="mixed", **labels) == 1
    assert value(mon, "kaizen_task_cost_usd_total", task_type="priced", **labels) == 0.002
    assert value(mon, "kaizen_task_unpriced_requests_total", task_type="priced", **labels) == 0


def test_top_shows_unknown_cost_and_rate(make_monitor: Callable[..., Monitor]) -> None:
    """`top` shows unknown (N unpriced calls) for the cost, and an unknown rate per hour."""
    mon = make_monitor()
    old = parse(mon.export_metrics(), t=100.0)
    with mon.agent_loop():
        mon.record_api_call("anthropic", HAIKU, 1000, 0)
        mon.record_api_call("x", NEW, 1000, 0)
    new = parse(mon.export_metrics(), t=110.0)
    (row,) = rows(new, old)
    assert row.unpriced_calls == 1 and row.cost_usd == 0.001 and row.cost_per_hour is None
    console = Console(width=200, record=True)
    console.print(render([row], "http://127.0.0.1:1/metrics", None))
    screen = console.export_text()
    assert "unknown (1 unpriced call; $0.0010 priced)" in screen and "unknown" in screen


def test_a_zero_provider_cost_is_a_known_zero(make_monitor: Callable[..., Monitor]) -> None:
    """A provider that reports $0 (a free tier) is believed: cost 0, not unknown."""
    mon = make_monitor()
    assert mon.record_api_call("x", NEW, 10, 10, provider_cost_usd=0.0) == 0.0
    assert value(mon, "kaizen_api_unpriced_requests_total", agent="coster", provider="x",
                 model=NEW) == 0


@pytest.mark.parametrize(("pico", "text"), [
    (0, "0"), (1, "0.000000000001"), (3_000_000, "0.000003"), (18_000_000_000, "0.018"),
    (10**12, "1"), (10**13, "10"), (123_456_789_012_345, "123.456789012345")])
def test_exact_dollar_text_for_text_outputs(pico: int, text: str) -> None:
    """StatsD lines carry exact decimal dollars without an exponent, parsed back to usd()."""
    from kaizen_perf.cost import usd, usd_text

    assert usd_text(pico) == text and float(text) == usd(pico)


def test_provider_cost_bounds_for_whole_dollars(make_monitor: Callable[..., Monitor]) -> None:
    """Whole-dollar figures are numbers too: $0 and up to just under a trillion are believed,
    a trillion is refused with a message that says what was expected and what came."""
    mon = make_monitor()
    assert mon.record_api_call("x", NEW, 1, 1, provider_cost_usd=0) == 0.0
    assert mon.record_api_call("x", NEW, 1, 1, provider_cost_usd=10**12 - 1) == 10**12 - 1
    with pytest.raises(ValueError) as err:
        mon.record_api_call("x", NEW, 1, 1, provider_cost_usd=10**12)
    assert str(err.value) == ("kaizen-perf hook called with an unusable value: provider_cost_usd "
                              "must be a finite number of dollars >= 0, got 1000000000000.")
