"""The *Tools and LLM APIs* dashboard: which tool or model is slow, failing or expensive?"""

from __future__ import annotations

from kaizen_perf.dashboards.model import DashboardSpec, RowSpec, panel, q
from kaizen_perf.dashboards.promql import buckets, increase, quantile, rate

_CALLS = "kaizen_tool_calls_total"
_TOOL_S = "kaizen_tool_duration_seconds"
_TOKENS = "kaizen_api_tokens_total"


def _tool_row() -> RowSpec:
    return RowSpec("Tools", (
        panel("Tool call rate", "How many calls per second does each tool get?", "ops",
              q(rate(_CALLS, ["tool"]), "{{tool}}")),
        panel("Tool error rate", "Which share of each tool's calls raised an exception?",
              "percentunit",
              q(f"{rate(_CALLS, ['tool'], {'status': 'error'})} / {rate(_CALLS, ['tool'])}",
                "{{tool}}")),
        panel("Tool latency p95", "How long do 95 % of each tool's calls take at most?", "s",
              q(quantile(0.95, _TOOL_S, ["tool"]), "{{tool}}")),
        panel("Tool latency heatmap", "How are tool call durations distributed over time "
              "(bimodal tools, slow tails)?", "s",
              q(buckets(_TOOL_S), "{{le}}"), kind="heatmap"),
    ))


def _api_row() -> RowSpec:
    cached = rate(_TOKENS, ["model"], {"type": "cache_read"})
    prompt = rate(_TOKENS, ["model"], {"type": "input|cache_read|cache_write"})
    return RowSpec("LLM APIs", (
        panel("API latency by model p50 / p95", "How long do LLM requests to each model take?",
              "s", *(q(quantile(p, "kaizen_api_request_duration_seconds", ["model"]),
                       f"{{{{model}}}} p{round(p * 100)}") for p in (0.5, 0.95))),
        panel("Cost by model", "How many dollars per hour does each model cost at the current "
              "rate?", "currencyUSD",
              q(f"3600 * {rate('kaizen_api_cost_usd_total', ['model'])}", "{{model}}")),
        panel("Cost by tool", "How many dollars per hour does each tool cost: the LLM calls "
              "made inside it, and its share of each response that asked for it? "
              "\"reasoning\" is the rest; the series add up to the total cost.", "currencyUSD",
              q(f"3600 * {rate('kaizen_tool_cost_usd_total', ['tool'])}", "{{tool}}")),
        panel("Prompt cache hit ratio", "Which share of prompt tokens was read from the cache "
              "(cheaper, faster), per model?", "percentunit",
              q(f"{cached} / {prompt}", "{{model}}")),
        panel("Unpriced requests", "How many requests went to models missing from the pricing "
              "table (their cost is unknown, not $0) over the dashboard's range?", "short",
              q(increase("kaizen_api_unpriced_requests_total", ["model"]), "{{model}}"),
              kind="stat", width=24, height=6),
    ))


DASHBOARD = DashboardSpec(
    uid="kaizen-tools", title="Kaizen agents: tools and LLM APIs",
    description="Per-tool rate, latency and errors; LLM latency, cost and caching per model.",
    rows=(_tool_row(), _api_row()),
)
