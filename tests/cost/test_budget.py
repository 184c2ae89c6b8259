"""Budgets: thresholds fire once each, the opt-in hard stop, per-user budgets, gauges, audit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kaizen_perf import Monitor
from kaizen_perf.alerts import Alert, CallbackNotifier
from kaizen_perf.cost.budget import Budget, BudgetTracker, Crossing
from kaizen_perf.errors import BudgetExceeded, ConfigError
from tests.unit.metrics_util import value

HAIKU = "claude-haiku-4-5"  # $1 per million input tokens: 1000 tokens = $0.001


def _spend(mon: Monitor, dollars_thousandths: int) -> None:
    for _ in range(dollars_thousandths):
        mon.record_api_call("anthropic", HAIKU, input_tokens=1000)
    mon.flush()


def test_each_threshold_fires_exactly_once(make_monitor: Callable[..., Monitor]) -> None:
    """Crossing 50, 80 and 100 % of a $0.01 budget reports each threshold once, in order."""
    mon = make_monitor(budget_usd=0.01)
    seen: list[Crossing] = []
    mon.budget.add_listener(seen.append)
    _spend(mon, 4)
    assert seen == []
    _spend(mon, 1)  # $0.005: 50 %
    _spend(mon, 4)  # $0.009: 80 %
    _spend(mon, 6)  # $0.015: 100 %, then well past it
    _spend(mon, 5)
    assert [c.threshold for c in seen] == [0.5, 0.8, 1.0]
    assert [c.spent_pico for c in seen] == [5 * 10**9, 8 * 10**9, 10 * 10**9]


def test_budget_alerts_fire_once_each_in_the_engine(make_monitor: Callable[..., Monitor]) -> None:
    """The alert engine sends one budget alert per threshold, however often it evaluates."""
    mon = make_monitor(budget_usd=0.01, alerts_enabled=True)
    assert mon.alerts is not None
    got: list[Alert] = []
    mon.alerts.notifiers.append(CallbackNotifier(got.append))
    for chunk in (3, 3, 3, 3, 3):
        _spend(mon, chunk)
        mon.alerts.evaluate()
        mon.alerts.evaluate()
    budget = [(a.status, a.labels["threshold"], a.severity) for a in got if a.kind == "budget"]
    assert budget == [("firing", "50%", "info"), ("firing", "80%", "warning"),
                      ("firing", "100%", "critical")]


def test_gauges_show_budget_and_spend(make_monitor: Callable[..., Monitor]) -> None:
    """kaizen_budget_usd and kaizen_budget_spent_usd carry the agent's budget and spend."""
    mon = make_monitor(budget_usd=2.5)
    assert value(mon, "kaizen_budget_usd", agent="coster") == 2.5
    _spend(mon, 7)
    assert value(mon, "kaizen_budget_spent_usd", agent="coster") == pytest.approx(0.007)


def test_hard_stop_raises_on_the_next_hook_and_is_audited(
        make_monitor: Callable[..., Monitor]) -> None:
    """With the hard stop on, every following hook raises BudgetExceeded; the stop is audited."""
    mon = make_monitor(budget_usd=0.005, budget_hard_stop=True)
    audited: list[tuple[str, dict[str, Any], str]] = []
    mon.budget.audit = lambda action, details, result: audited.append((action, details, result))
    _spend(mon, 5)
    with pytest.raises(BudgetExceeded, match="agent 'coster'") as info:
        mon.tool("search")
    assert info.value.budget_usd == 0.005 and info.value.spent_usd == pytest.approx(0.005)
    with pytest.raises(BudgetExceeded):
        mon.agent_loop()
    with pytest.raises(BudgetExceeded):
        mon.record_api_call("anthropic", HAIKU, input_tokens=1)
    assert audited == [("budget_stop", {"scope": "agent", "key": "coster", "budget_usd": 0.005,
                                        "spent_usd": 0.005, "mode": "raise"}, "denied")]
    assert not mon.health().ready
    mon.budget.set(1.0, scope="agent", key="coster", hard_stop=True)  # raise the budget
    with mon.tool("search"):
        pass
    assert mon.health().ready


def test_without_hard_stop_hooks_never_raise(make_monitor: Callable[..., Monitor]) -> None:
    """Soft budgets only alert: agent code keeps running past 100 %."""
    mon = make_monitor(budget_usd=0.001)
    _spend(mon, 5)
    with mon.agent_loop(), mon.tool("search"):
        mon.record_api_call("anthropic", HAIKU, input_tokens=1000)


def test_callback_mode_calls_once_instead_of_raising(make_monitor: Callable[..., Monitor]) -> None:
    """With on_exceeded set, the next hook calls it once and the agent goes on."""
    calls: list[BudgetExceeded] = []
    mon = make_monitor(budget_usd=0.002, budget_hard_stop=True)
    mon.budget.on_exceeded = calls.append
    _spend(mon, 3)
    with mon.tool("search"):
        pass
    with mon.tool("search"):
        pass
    assert len(calls) == 1 and calls[0].scope == "agent 'coster'"


def test_user_budget_stops_only_that_user(make_monitor: Callable[..., Monitor]) -> None:
    """A per-user hard stop raises in that user's context and nowhere else, immediately."""
    mon = make_monitor()
    mon.budget.set(0.002, scope="user", key="alice", hard_stop=True)
    with mon.budget.user("alice"):
        mon.record_api_call("anthropic", HAIKU, input_tokens=1000)
        mon.record_api_call("anthropic", HAIKU, input_tokens=1000)
        with pytest.raises(BudgetExceeded, match="user 'alice'"):
            mon.tool("search")
    with mon.budget.user("bob"), mon.tool("search"):
        mon.record_api_call("anthropic", HAIKU, input_tokens=1000)
    status = mon.budget.status("user", "alice")
    assert status is not None and status.spent_pico == 2 * 10**9


def test_run_budget_counts_every_agent() -> None:
    """A run budget sums the spend of all agents the tracker sees (forwarded children too)."""
    from kaizen_perf.events import ApiCallEvent
    tracker = BudgetTracker([Budget.usd(1.0, scope="run")])
    events = [ApiCallEvent(agent, "p", "m", 0, 0, 0, 0, 0.0, None, 10**11, None, 0, 0, 0, 0)
              for agent in ("a", "b", "c")]
    tracker.handle(events)
    status = tracker.status("run")
    assert status is not None and status.spent_usd == pytest.approx(0.3)


def test_bad_budget_values_are_config_errors() -> None:
    """A zero, negative or non-numeric budget fails at construction with the expected form."""
    with pytest.raises(ConfigError, match=r"KAIZEN_PERF_BUDGET_USD='ten'.*US dollars"):
        Monitor(environ={"KAIZEN_PERF_BUDGET_USD": "ten"}, enabled=False)
    with pytest.raises(ConfigError, match="positive number of dollars"):
        Budget.usd(-1)
    with pytest.raises(ConfigError, match="thresholds"):
        Budget.usd(1, thresholds=(0.5, 1.5))
