"""Build a monitor's budget tracker and alert engine from its settings.

Called once from :class:`~kaizen_perf.monitor.Monitor` construction. It only builds
them: :func:`kaizen_perf.outputs.build_sinks` puts both in the monitor's one list of
sinks, and the monitor adds the readiness checks returned here. The tracker installs
its hard stop and per-user charging through the monitor's typed setters
(``set_budget_stop``/``set_budget_charge``), only while they are needed.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from kaizen_perf.alerts import snapshot
from kaizen_perf.alerts.config import load_rules
from kaizen_perf.alerts.engine import AlertEngine
from kaizen_perf.alerts.evaluators import Probe
from kaizen_perf.alerts.model import Notifier
from kaizen_perf.alerts.notify import LogNotifier, WebhookNotifier
from kaizen_perf.alerts.specs import default_rules
from kaizen_perf.config import Settings
from kaizen_perf.cost.budget import Budget, BudgetTracker
from kaizen_perf.events import ApiCallEvent
from kaizen_perf.health import ComponentStatus
from kaizen_perf.metrics import Family
from kaizen_perf.pipeline import Pipeline

if TYPE_CHECKING:
    from kaizen_perf.audit.trail import AuditTrail

logger = logging.getLogger("kaizen_perf")


class _Families(Protocol):
    @property
    def families(self) -> Mapping[str, Family]: ...

    @property
    def alerts_firing(self) -> Family: ...


class Host(Protocol):
    """What the wiring needs of a monitor (a protocol: no import of the monitor module)."""

    settings: Settings
    agent_id: str
    pipeline: Pipeline

    _clock: Callable[[], int]

    def set_budget_stop(self, check: Callable[[], None] | None) -> None: ...

    def set_budget_charge(self, charge: Callable[[ApiCallEvent], None] | None) -> None: ...

    @property
    def metrics(self) -> _Families: ...

    @property
    def audit(self) -> AuditTrail: ...


@dataclass(frozen=True)
class Wired:
    """The tracker, the engine (None when alerting is off), their readiness checks, and
    the budget the settings ask for (added by the monitor once its pipeline exists: the
    tracker publishes its gauges under the pipeline lock)."""

    budget: BudgetTracker
    alerts: AlertEngine | None
    checks: tuple[Callable[[], ComponentStatus], ...]
    initial: Budget | None = None


def attach(mon: Host) -> Wired:
    """Create the tracker and (unless disabled) the engine; the pipeline is read lazily
    (it is built from these, after this call)."""
    settings = mon.settings
    tracker = BudgetTracker(
        run_label=mon.agent_id, audit=functools.partial(_audit, mon),
        set_stop=mon.set_budget_stop, set_charge=mon.set_budget_charge,
        families=lambda: mon.metrics.families, lock=lambda: _lock(mon))
    initial = None if settings.budget_usd is None else Budget.usd(
        settings.budget_usd, scope="agent", key=mon.agent_id, hard_stop=settings.budget_hard_stop)
    enabled = settings.alerts_enabled
    if enabled is None:  # auto: configuring a webhook or rules means wanting alerts
        enabled = bool(settings.alert_webhook or settings.alert_rules)
    if not enabled:
        return Wired(tracker, None, (tracker.health_check,), initial)
    if settings.alert_rules:
        config = load_rules(settings.alert_rules, stuck_after_s=settings.stuck_after_s,
                            loop_repeats=settings.loop_repeats)
        rules, cooldown = config.rules, config.cooldown_s
    else:
        rules, cooldown = default_rules(stuck_after_s=settings.stuck_after_s,
                                        loop_repeats=settings.loop_repeats), 300.0
    notifiers: list[Notifier] = [LogNotifier()]
    if settings.alert_webhook:
        notifiers.append(WebhookNotifier(
            settings.alert_webhook,
            on_failure=lambda: mon.pipeline.count_error("alert_webhook")))
    engine = AlertEngine(rules, notifiers, probe=functools.partial(_probe, mon, tracker),
                         clock=mon._clock, cooldown_s=cooldown,
                         snapshot=lambda _agent: snapshot.take(clock=mon._clock),
                         publish=FiringGauge(mon))
    return Wired(tracker, engine, (tracker.health_check, engine.stuck_check,
                                   engine.exporters_check), initial)


def _lock(mon: Host) -> contextlib.AbstractContextManager[Any]:
    """The pipeline lock: the tracker publishes its gauges under it."""
    return mon.pipeline.lock


class FiringGauge:
    """Keeps ``kaizen_alerts_firing{agent,alertname}`` at 1 for each alert firing now and
    removes the series of those that stopped (``top`` and dashboards read it). An alert
    without an agent label (dropped events, export errors) is the monitor's own agent's."""

    def __init__(self, mon: Host) -> None:
        self._mon, self._shown = mon, frozenset[tuple[str, str]]()

    def __call__(self, firing: frozenset[tuple[str, str]]) -> None:
        """Publish the alerts firing now (called after every evaluation)."""
        now = frozenset((agent or self._mon.agent_id, name) for agent, name in firing)
        if now == self._shown:
            return
        family = self._mon.metrics.alerts_firing
        with self._mon.pipeline.lock:
            for key in now - self._shown:
                family.set(key, 1.0)
            for key in self._shown - now:
                family.remove(key)
        self._shown = now


def _probe(mon: Host, tracker: BudgetTracker) -> Probe:
    pipe = mon.pipeline
    return Probe(dropped=pipe.dropped, export_errors=dict(pipe.sink_errors),
                 rss_bytes=_rss(), budgets=tracker.statuses(), agent=mon.agent_id)


def _rss() -> int | None:
    try:
        import psutil
        return int(psutil.Process().memory_info().rss)
    except Exception:  # psutil missing or /proc unreadable: no own-process memory rule
        return None


def _audit(mon: Host, action: str, details: dict[str, Any], result: str) -> None:
    """Record a budget stop in the monitor's audit trail (opened on first use; a trail that
    cannot open is logged by the tracker, and the stop still applies)."""
    mon.audit.record(action=action, details=details, result=result)
