"""The *Agent overview* dashboard: is each agent making progress, and what is it costing?"""

from __future__ import annotations

from kaizen_perf.dashboards.model import DashboardSpec, RowSpec, panel, q
from kaizen_perf.dashboards.promql import gauge, increase, quantile, rate, selector

#: Seconds without a finished loop iteration after which an agent counts as stuck; the same
#: default as the in-process stuck rule and the KaizenAgentStuck alert.
STUCK_AFTER_S = 600
#: An agent that finished an iteration within this many seconds counts as active.
ACTIVE_WITHIN_S = 300

_PROGRESS = selector("kaizen_agent_last_progress_timestamp_seconds")
_LOOPS = "kaizen_agent_loop_iterations_total"
_COST = "kaizen_api_cost_usd_total"


def _loop_row() -> RowSpec:
    return RowSpec("Agent loop", (
        panel("Active agents",
              f"How many agents finished a loop iteration in the last {ACTIVE_WITHIN_S} s?",
              "short", q(f"count(time() - {_PROGRESS} < {ACTIVE_WITHIN_S})", "active"),
              kind="stat", width=6, height=6),
        panel("Loop success rate",
              "Which share of loop iterations ended without an exception?", "percentunit",
              q(f"{rate(_LOOPS, ['agent'], {'status': 'ok'})} / {rate(_LOOPS, ['agent'])}",
                "{{agent}}"),
              kind="stat", width=6, height=6),
        panel("Stuck agents (time since last progress)",
              f"How long ago did each agent finish a loop iteration? Red past {STUCK_AFTER_S} s "
              "(the KaizenAgentStuck alert).", "s",
              q(f"time() - {_PROGRESS}", "{{agent}}"), kind="stat", width=12, height=6,
              red_above=STUCK_AFTER_S),
        panel("Loop rate", "How many loop iterations per second does each agent finish?",
              "ops", q(rate(_LOOPS, ["agent", "status"]), "{{agent}} {{status}}")),
        panel("Loop duration p50 / p95 / p99", "How long does one loop iteration take?", "s",
              *(q(quantile(p, "kaizen_agent_loop_duration_seconds", ["agent"]),
                  f"{{{{agent}}}} p{round(p * 100)}") for p in (0.5, 0.95, 0.99))),
    ))


def _cost_row() -> RowSpec:
    tasks = "kaizen_tasks_total"
    per_task = (f"{increase('kaizen_task_cost_usd_total', ['agent', 'task_type'])} / "
                f"{increase(tasks, ['agent', 'task_type'])}")
    return RowSpec("Cost and budget", (
        panel("Cost per hour", "At the current spend rate, how many dollars per hour does each "
              "agent cost?", "currencyUSD",
              q(f"3600 * {rate(_COST, ['agent'])}", "{{agent}}")),
        panel("Cost per task", "How many dollars did one task of each type cost, on average, "
              "over the dashboard's time range?", "currencyUSD",
              q(per_task, "{{agent}} {{task_type}}"), kind="stat"),
        panel("Tokens by type", "How many tokens per second go in (uncached), come out, and are "
              "read from or written to the prompt cache?", "suffix: tokens/s",
              q(rate("kaizen_api_tokens_total", ["type"]), "{{type}}")),
        panel("Budget burn", "Which share of its budget has each agent spent? (Agents with a "
              "budget only.)", "percentunit",
              q(f"{gauge('kaizen_budget_spent_usd', ['agent'])} / "
                f"({gauge('kaizen_budget_usd', ['agent'])} > 0)", "{{agent}}")),
    ))


def _alerts_row() -> RowSpec:
    # ALERTS is Prometheus's own series of pending/firing alerts (from the rule file).
    return RowSpec("Alerts", (
        panel("Alerts firing", "Which kaizen-perf alerts fire right now, and for which agent?",
              "short",
              q('sum by (alertname, agent, severity) (ALERTS{alertstate="firing",'
                'alertname=~"Kaizen.*"})', "{{alertname}} {{agent}} ({{severity}})"),
              width=24),
    ))


DASHBOARD = DashboardSpec(
    uid="kaizen-overview", title="Kaizen agents: overview",
    description="Progress, loop latency, cost, budgets and firing alerts per agent.",
    rows=(_loop_row(), _cost_row(), _alerts_row()),
)

