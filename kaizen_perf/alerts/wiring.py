"""Build a monitor's budget tracker and alert engine from its settings.

Called once from :class:`~kaizen_perf.monitor.Monitor` construction: both become
pipeline sinks and readiness checks; the tracker's hard stop and per-user
charging are installed into the monitor's hot path only while they are needed.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any

from kaizen_perf.alerts import snapshot
from kaizen_perf.alerts.config import load_rules
from kaizen_perf.alerts.engine import AlertEngine
from kaizen_perf.alerts.evaluators import Probe
from kaizen_perf.alerts.model import Notifier
from kaizen_perf.alerts.notify import LogNotifier, WebhookNotifier
from kaizen_perf.alerts.specs import default_rules
from kaizen_perf.budget import Budget, BudgetTracker

if TYPE_CHECKING:
    from kaizen_perf.monitor import Monitor

logger = logging.getLogger("kaizen_perf")


def attach(mon: Monitor) -> tuple[BudgetTracker, AlertEngine | None]:
    """Create, register and return the tracker and (unless disabled) the engine."""
    settings = mon.settings
    tracker = BudgetTracker(
        run_label=mon.agent_id, audit=functools.partial(_audit, mon),
        set_stop=functools.partial(setattr, mon, "_budget_stop"),
        set_charge=functools.partial(setattr, mon, "_budget_charge"),
        families=lambda: mon.metrics.families, lock=lambda: mon.pipeline.lock)
    if settings.budget_usd is not None:
        tracker.add(Budget.usd(settings.budget_usd, scope="agent", key=mon.agent_id,
                               hard_stop=settings.budget_hard_stop))
    mon.pipeline.add_sink(tracker)
    mon.health_checks.append(tracker.health_check)
    enabled = settings.alerts_enabled
    if enabled is None:  # auto: configuring a webhook or rules means wanting alerts
        enabled = bool(settings.alert_webhook or settings.alert_rules)
    if not enabled:
        return tracker, None
    if settings.alert_rules:
        config = load_rules(settings.alert_rules, stuck_after_s=settings.stuck_after_s,
                            loop_repeats=settings.loop_repeats)
        rules, cooldown = config.rules, config.cooldown_s
    else:
        rules, cooldown = default_rules(stuck_after_s=settings.stuck_after_s,
                                        loop_repeats=settings.loop_repeats), 300.0
    notifiers: list[Notifier] = [LogNotifier()]
    if settings.alert_webhook:
        notifiers.append(WebhookNotifier(settings.alert_webhook,
                                         on_failure=functools.partial(_count_failure, mon)))
    engine = AlertEngine(rules, notifiers, probe=functools.partial(_probe, mon, tracker),
                         clock=mon._clock, cooldown_s=cooldown,
                         snapshot=lambda _agent: snapshot.take(clock=mon._clock),
                         publish=FiringGauge(mon))
    mon.pipeline.add_sink(engine)
    mon.health_checks += [engine.stuck_check, engine.exporters_check]
    return tracker, engine


class FiringGauge:
    """Keeps ``kaizen_alerts_firing{agent,alertname}`` at 1 for each alert firing now and
    removes the series of those that stopped (``top`` and dashboards read it). An alert
    without an agent label (dropped events, export errors) is the monitor's own agent's."""

    def __init__(self, mon: Monitor) -> None:
        self._mon, self._shown = mon, frozenset[tuple[str, str]]()

    def __call__(self, firing: frozenset[tuple[str, str]]) -> None:
        """Publish the alerts firing now (called after every evaluation)."""
        now = frozenset((agent or self._mon.agent_id, name) for agent, name in firing)
        if now == self._shown:
            return
        family = self._mon.metrics.families["kaizen_alerts_firing"]
        with self._mon.pipeline.lock:
            for key in now - self._shown:
                family.set(key, 1.0)
            for key in self._shown - now:
                family.remove(key)
        self._shown = now


def _probe(mon: Monitor, tracker: BudgetTracker) -> Probe:
    pipe = mon.pipeline
    return Probe(dropped=pipe.dropped, export_errors=dict(pipe.sink_errors),
                 rss_bytes=_rss(), budgets=tracker.statuses(), agent=mon.agent_id)


def _rss() -> int | None:
    try:
        import psutil
        return int(psutil.Process().memory_info().rss)
    except Exception:  # psutil missing or /proc unreadable: no own-process memory rule
        return None


def _count_failure(mon: Monitor) -> None:
    """A failed webhook delivery counts in kaizen_perf_export_errors_total{exporter=…}."""
    errors = mon.pipeline.sink_errors
    errors["alert_webhook"] = errors.get("alert_webhook", 0) + 1


def _audit(mon: Monitor, action: str, details: dict[str, Any], result: str) -> None:
    """Record a budget stop in the monitor's audit trail, when it has one."""
    trail = getattr(mon, "audit", None)
    if trail is None:
        logger.warning("kaizen-perf budget stop not audited (no audit trail on this monitor): "
                       "%s %s", action, details)
        return
    trail.record(action=action, details=details, result=result)
