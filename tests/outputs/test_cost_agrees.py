"""One priced LLM call through one Monitor with every output on: each reports the same dollars.

The outputs are read the way their users read them: Prometheus text parsed by
prometheus-client, OTLP spans decoded with opentelemetry-proto at a real
OTLP/HTTP receiver, StatsD lines as a real StatsD server received them, the JSON
event log file, the audit trail (SQLite), the budget gauge and the run summary.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kaizen_perf import Monitor
from kaizen_perf.runner.summary import build_summary
from tests.tracing.receiver import otlp_receiver
from tests.tracing.statsd_server import statsd_server

MODEL = "claude-sonnet-4-5"
TOKENS = {"input_tokens": 1000, "output_tokens": 400, "cache_read_tokens": 512,
          "cache_write_tokens": 128}
#: the published rates in USD per million tokens (input, output, cache read, 5-minute write);
#: this call costs $0.0096336, an amount whose pico-dollars times 1e-12 is not the same float
RATES = {"input_tokens": Decimal(3), "output_tokens": Decimal(15),
         "cache_read_tokens": Decimal("0.3"), "cache_write_tokens": Decimal("3.75")}
EXPECTED_USD = float(sum(RATES[k] * n for k, n in TOKENS.items()) / 10**6)


def _prometheus(text: str, name: str) -> list[float]:
    return [s.value for fam in text_string_to_metric_families(text) for s in fam.samples
            if s.name == name]


class _NoCollector:
    def agents(self) -> list[str]:
        return []

    def average_rss(self, agent: str) -> float:
        return 0.0


def _run_one_call(tmp_path: Path, statsd_port: int, otlp_url: str) -> tuple[Monitor, Any]:
    mon = Monitor("coster", environ={}, traces="otlp", otlp_endpoint=otlp_url,
                  statsd_addr=f"127.0.0.1:{statsd_port}", log_events="all",
                  log_file=str(tmp_path / "events.jsonl"),
                  audit_url=f"sqlite:///{tmp_path / 'audit.db'}", audit_auto="api_call",
                  budget_usd=10.0, alerts_enabled=False)
    with mon.agent_loop():
        returned = mon.record_api_call("anthropic", MODEL, duration_s=0.5, **TOKENS)
    return mon, returned


@pytest.mark.e2e
def test_every_output_reports_the_same_dollars_for_one_call(tmp_path: Path) -> None:
    """The hook's return value, /metrics, the chat span, StatsD, the event log, the audit
    entry, the budget gauge and the run summary all give the call's exact price in USD."""
    with statsd_server(tmp_path) as statsd, otlp_receiver() as otlp:
        mon, returned = _run_one_call(tmp_path, statsd.port, otlp.url)
        try:
            text = mon.export_metrics()
            with mon.pipeline.lock:
                summary = build_summary(mon.metrics.families, _NoCollector(), None)
            audit = mon.audit.query(agent_id="coster")
        finally:
            assert mon.shutdown(5.0)
        lines = statsd.wait_for("kaizen.api_cost_usd")
        [chat] = otlp.by_name(f"chat {MODEL}")
    events = [json.loads(x) for x in (tmp_path / "events.jsonl").read_text().splitlines()]
    [logged] = [e for e in events if e.get("event") == "api_call"]
    prefix = f"kaizen.api_cost_usd.coster.anthropic.{MODEL}:"
    [cost_line] = [x for x in lines if x.startswith(prefix)]
    [entry] = [e for e in audit if e.action == "api_call"]

    assert returned == EXPECTED_USD
    assert _prometheus(text, "kaizen_api_cost_usd_total") == [EXPECTED_USD]
    assert _prometheus(text, "kaizen_budget_spent_usd") == [EXPECTED_USD]
    assert chat.attributes["kaizen.cost.usd"] == EXPECTED_USD
    assert cost_line.endswith("|c") and float(cost_line.split(":")[1][:-2]) == EXPECTED_USD
    assert logged["cost_usd"] == EXPECTED_USD and logged["cost_pico"] == 9_633_600_000
    assert entry.details["cost_usd"] == EXPECTED_USD
    assert summary["agents"]["coster"]["cost_usd"] == EXPECTED_USD
    assert summary["agents"]["coster"]["models"][MODEL]["cost_usd"] == EXPECTED_USD
