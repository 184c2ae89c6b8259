"""promtool unit tests of every generated alert: series in, expected alerts out (by hand)."""

from __future__ import annotations

from typing import Any


def _s(series: str, values: str) -> dict[str, str]:
    return {"series": series, "values": values}


def _alert(labels: dict[str, str], summary: str, source: str) -> dict[str, Any]:
    return {"exp_labels": labels, "exp_annotations": {"summary": summary, "source": source}}


def _hist(metric: str, labels: str, per_min: dict[str, int]) -> list[dict[str, str]]:
    """Bucket series (cumulative, so each bucket counts everything at or below it) + count."""
    out = [_s(f'{metric}_bucket{{{labels},le="{le}"}}', f"0+{n}x30") for le, n in per_min.items()]
    out.append(_s(f"{metric}_count{{{labels}}}", f"0+{per_min['+Inf']}x30"))
    return out


STUCK = {"interval": "1m", "input_series": [
    _s('kaizen_agent_last_progress_timestamp_seconds{agent="wedged"}', "0+0x20"),
    _s('kaizen_agent_last_progress_timestamp_seconds{agent="busy"}', "0+60x20")],
    "alert_rule_test": [
        {"eval_time": "9m", "alertname": "KaizenAgentStuck", "exp_alerts": []},
        {"eval_time": "11m", "alertname": "KaizenAgentStuck", "exp_alerts": [_alert(
            {"agent": "wedged", "severity": "critical"},
            "agent wedged finished no loop iteration for 11m 0s (threshold 600s)",
            "kaizen-perf stuck rule")]}]}

# every observation of "slow" is above 81.92 s (the +Inf bucket): p95 is the top bound
TOOL_LATENCY = {"interval": "1m", "input_series": [
    *_hist("kaizen_tool_duration_seconds", 'agent="a",tool="slow"', {"81.92": 0, "+Inf": 6}),
    *_hist("kaizen_tool_duration_seconds", 'agent="a",tool="fast"',
           {"0.0001": 6, "81.92": 6, "+Inf": 6}),
    *_hist("kaizen_tool_duration_seconds", 'agent="a",tool="rare"', {"81.92": 0, "+Inf": 0})],
    "alert_rule_test": [{"eval_time": "10m", "alertname": "KaizenToolLatencyHigh", "exp_alerts": [
        _alert({"agent": "a", "tool": "slow", "severity": "warning"},
               "p95 tool duration of a is 81.92s over 5m (threshold 60s)",
               "kaizen-perf latency rule")]}]}

# "claude": all calls between 40.96 s and 81.92 s: p95 = 40.96 + 0.95 * 40.96 = 79.872 s
API_LATENCY = {"interval": "1m", "input_series": [
    *_hist("kaizen_api_request_duration_seconds", 'agent="a",provider="anthropic",model="claude"',
           {"40.96": 0, "81.92": 10, "+Inf": 10}),
    *_hist("kaizen_api_request_duration_seconds", 'agent="a",provider="openai",model="gpt"',
           {"0.64": 10, "40.96": 10, "81.92": 10, "+Inf": 10})],
    "alert_rule_test": [{"eval_time": "10m", "alertname": "KaizenApiLatencyHigh", "exp_alerts": [
        _alert({"agent": "a", "provider": "anthropic", "model": "claude", "severity": "warning"},
               "p95 api request duration of a is 79.87s over 5m (threshold 60s)",
               "kaizen-perf latency rule")]}]}

API_ERRORS = {"interval": "1m", "input_series": [
    _s('kaizen_api_requests_total{agent="a",provider="p",model="bad",status="error"}', "0+3x20"),
    _s('kaizen_api_requests_total{agent="a",provider="p",model="bad",status="ok"}', "0+7x20"),
    _s('kaizen_api_requests_total{agent="a",provider="p",model="fine",status="error"}', "0+1x20"),
    _s('kaizen_api_requests_total{agent="a",provider="p",model="fine",status="ok"}', "0+9x20")],
    "alert_rule_test": [{"eval_time": "10m", "alertname": "KaizenApiErrorRateHigh", "exp_alerts": [
        _alert({"agent": "a", "provider": "p", "model": "bad", "severity": "warning"},
               "30% of kaizen_api_requests_total calls of a failed over 5m (threshold 20%)",
               "kaizen-perf error_rate rule")]}]}

TOOL_ERRORS = {"interval": "1m", "input_series": [
    _s('kaizen_tool_calls_total{agent="a",tool="flaky",status="error"}', "0+6x20"),
    _s('kaizen_tool_calls_total{agent="a",tool="flaky",status="ok"}', "0+4x20"),
    _s('kaizen_tool_calls_total{agent="a",tool="once",status="error"}', "0+1x20")],
    "alert_rule_test": [{"eval_time": "10m", "alertname": "KaizenToolErrorRateHigh",
                         "exp_alerts": [_alert(
                             {"agent": "a", "tool": "flaky", "severity": "warning"},
                             "60% of kaizen_tool_calls_total calls of a failed over 5m "
                             "(threshold 50%)", "kaizen-perf error_rate rule")]}]}


def _budget(threshold: str, severity: str) -> dict[str, Any]:
    return _alert({"agent": "a", "threshold": threshold, "severity": severity},
                  f"agent a spent 100% of its budget (threshold {threshold})",
                  "kaizen-perf budget rule")


BUDGET = {"interval": "1m", "input_series": [
    _s('kaizen_budget_usd{agent="a"}', "10x20"), _s('kaizen_budget_spent_usd{agent="a"}', "0+1x20"),
    _s('kaizen_budget_usd{agent="nobudget"}', "0x20"),
    _s('kaizen_budget_spent_usd{agent="nobudget"}', "0+1x20")],
    "alert_rule_test": [
        {"eval_time": "4m", "alertname": "KaizenBudget", "exp_alerts": []},
        {"eval_time": "5m", "alertname": "KaizenBudget", "exp_alerts": [_alert(
            {"agent": "a", "threshold": "50%", "severity": "info"},
            "agent a spent 50% of its budget (threshold 50%)", "kaizen-perf budget rule")]},
        {"eval_time": "10m", "alertname": "KaizenBudget", "exp_alerts": [
            _budget("50%", "info"), _budget("80%", "warning"), _budget("100%", "critical")]}]}

# 1 $/min predicts 360 $ more within 6 h (> 100 $) from the second sample, so the alert is
# pending from 1m and fires 10 minutes later; 0.1 $/min predicts 37.5 $ at 15m (< 100 $)
BURN = {"interval": "1m", "input_series": [
    _s('kaizen_budget_usd{agent="fast"}', "100x90"),
    _s('kaizen_budget_spent_usd{agent="fast"}', "0+1x90"),
    _s('kaizen_budget_usd{agent="slow"}', "100x90"),
    _s('kaizen_budget_spent_usd{agent="slow"}', "0+0.1x90")],
    "alert_rule_test": [
        {"eval_time": "5m", "alertname": "KaizenBudgetBurnRateHigh", "exp_alerts": []},
        {"eval_time": "15m", "alertname": "KaizenBudgetBurnRateHigh", "exp_alerts": [_alert(
            {"agent": "fast", "severity": "warning"},
            "agent fast will exhaust its budget within 6h at the spend rate of the last 1h",
            "kaizen-perf budget burn rate")]}]}

# 10 MB a minute: 600 MB (572.2 MiB) in an hour, above the 512 MiB threshold
MEMORY = {"interval": "1m", "input_series": [
    _s('kaizen_process_resident_memory_bytes{agent="leaky"}', "100000000+10000000x90"),
    _s('kaizen_process_resident_memory_bytes{agent="steady"}', "100000000x90")],
    "alert_rule_test": [{"eval_time": "61m", "alertname": "KaizenMemoryGrowth", "exp_alerts": [
        _alert({"agent": "leaky", "severity": "warning"},
               "resident memory of leaky grew by 572.2MiB over 1h",
               "kaizen-perf memory_growth rule")
    ]}]}

DROPS = {"interval": "1m", "input_series": [
    _s('kaizen_perf_events_dropped_total{sink="buffer"}', "0x10 5+5x10"),
    _s('kaizen_perf_events_dropped_total{sink="trace"}', "0x20")],
    "alert_rule_test": [
        {"eval_time": "8m", "alertname": "KaizenEventsDropped", "exp_alerts": []},
        {"eval_time": "18m", "alertname": "KaizenEventsDropped", "exp_alerts": [_alert(
            {"sink": "buffer", "severity": "warning"},
            "25 events_dropped_total (sink buffer) over 5m",
            "kaizen-perf dropped_events rule")]}]}

EXPORT = {"interval": "1m", "input_series": [
    _s('kaizen_perf_export_errors_total{exporter="otlp"}', "0x10 5+5x10"),
    _s('kaizen_perf_export_errors_total{exporter="statsd"}', "3x20")],
    "alert_rule_test": [{"eval_time": "18m", "alertname": "KaizenExportErrors", "exp_alerts": [
        _alert({"exporter": "otlp", "severity": "warning"},
               "25 export_errors_total (exporter otlp) over 5m", "kaizen-perf export_errors rule")
    ]}]}

# a loop detected at minute 10 for "search"; "fetch" never loops
LOOP = {"interval": "1m", "input_series": [
    _s('kaizen_agent_loops_detected_total{agent="a",tool="search"}', "0x10 1x10"),
    _s('kaizen_agent_loops_detected_total{agent="a",tool="fetch"}', "0x20")],
    "alert_rule_test": [
        {"eval_time": "8m", "alertname": "KaizenAgentLoop", "exp_alerts": []},
        {"eval_time": "12m", "alertname": "KaizenAgentLoop", "exp_alerts": [_alert(
            {"agent": "a", "tool": "search", "severity": "warning"},
            "agent a called search with the same arguments 3 times in a row (a loop within 5m)",
            "kaizen-perf agent_loop rule")]}]}

CASES: dict[str, dict[str, Any]] = {
    "KaizenAgentStuck": STUCK, "KaizenToolLatencyHigh": TOOL_LATENCY,
    "KaizenApiLatencyHigh": API_LATENCY, "KaizenApiErrorRateHigh": API_ERRORS,
    "KaizenToolErrorRateHigh": TOOL_ERRORS, "KaizenBudget": BUDGET,
    "KaizenBudgetBurnRateHigh": BURN, "KaizenMemoryGrowth": MEMORY,
    "KaizenEventsDropped": DROPS, "KaizenExportErrors": EXPORT, "KaizenAgentLoop": LOOP}
