"""The in-process alert engine: evaluates rules, de-duplicates, notifies.

Events reach the rules through :meth:`AlertEngine.handle` (the engine is a
pipeline sink, so this runs on the dispatcher thread). A thread named
``kaizen-perf-alert-eval`` evaluates every rule each ``interval_s``: a condition
that starts to hold fires once; while it holds nothing more is sent; when it
clears, a resolution is sent. A condition that comes back within ``cooldown_s``
of its last notification fires silently (no flapping storms). A stuck-agent
alert carries a snapshot of the agent's threads, taken outside the engine lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from kaizen_perf._ratelimit import RateLimitedLog
from kaizen_perf.alerts.evaluators import Evaluator, Probe, StuckEvaluator, build
from kaizen_perf.alerts.model import Alert, Finding, Notifier
from kaizen_perf.alerts.specs import ExportErrorsRule, RuleSpec
from kaizen_perf.alerts.windows import Key
from kaizen_perf.events import Event
from kaizen_perf.health import ComponentStatus

Snapshot = Callable[[str], Mapping[str, Any]]
#: receives, after each evaluation, the (agent, rule name) of every alert firing now
Publish = Callable[[frozenset[tuple[str, str]]], None]
_MAX_REMEMBERED = 10_000


@dataclass
class _Active:
    finding: Finding
    started_ns: int
    started_wall: float
    notified: bool
    snapshot: Mapping[str, Any] | None = None


class AlertEngine:
    """Evaluates alert rules in-process and sends notifications."""

    def __init__(self, rules: Sequence[RuleSpec], notifiers: Sequence[Notifier] = (), *,
                 probe: Callable[[], Probe] = Probe,
                 clock: Callable[[], int] = time.perf_counter_ns,
                 wall: Callable[[], float] = time.time, interval_s: float = 1.0,
                 cooldown_s: float = 300.0, snapshot: Snapshot | None = None,
                 log: RateLimitedLog | None = None, publish: Publish | None = None) -> None:
        self.rules = tuple(rules)
        self.notifiers: list[Notifier] = list(notifiers)
        self._probe, self._clock, self._wall = probe, clock, wall
        self._interval, self._cooldown_ns = interval_s, int(cooldown_s * 1e9)
        self._snapshot, self._log = snapshot, log or RateLimitedLog()
        self._publish = publish
        self._init_state()

    def _init_state(self) -> None:
        self._evals: list[Evaluator] = [build(r) for r in self.rules]
        self._routes: dict[type, list[Evaluator]] = {}
        for ev in self._evals:
            for kind in ev.events:
                self._routes.setdefault(kind, []).append(ev)
        self._lock = threading.Lock()
        self._active: dict[tuple[int, Key], _Active] = {}
        self._last_notified: dict[tuple[int, Key], int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- input ------------------------------------------------------------------------------
    def handle(self, batch: Sequence[Event]) -> None:
        """Pipeline sink: feed each event to the rules that watch its type."""
        routes, now = self._routes, self._clock()
        with self._lock:
            for event in batch:
                for ev in routes.get(type(event), ()):
                    ev.observe(event, now)

    # -- evaluation -----------------------------------------------------------------------
    def evaluate(self) -> list[Alert]:
        """One evaluation of every rule; returns the notifications sent."""
        now, probe = self._clock(), self._probe()
        fired: list[tuple[int, _Active]] = []
        resolved: list[tuple[int, _Active]] = []
        with self._lock:
            for idx, ev in enumerate(self._evals):
                # an alert is always some agent's: one without an agent label (dropped
                # events, export errors, a run's budget) is the monitor's own, the same in
                # notifications (alerts.jsonl, the report) as on /metrics and in top
                current = {f.key: f if "agent" in f.labels else
                           replace(f, labels={"agent": probe.agent, **f.labels})
                           for f in ev.evaluate(now, probe)}
                self._diff(idx, current, now, fired, resolved)
            # cooldown-silenced alerts are firing too: published, though not notified
            active = frozenset((act.finding.labels.get("agent", ""), self.rules[idx].name)
                               for (idx, _), act in self._active.items())
        if self._publish is not None:
            try:
                self._publish(active)
            except Exception as exc:  # the notifications below must still go out
                self._log("alert-publish", f"kaizen-perf could not publish firing alerts: {exc!r}")
        alerts = [self._alert(idx, act, "resolved") for idx, act in resolved]
        for idx, act in fired:
            if isinstance(self._evals[idx], StuckEvaluator):
                act.snapshot = self._take_snapshot(idx, act.finding, now)
            alerts.append(self._alert(idx, act, "firing"))
        for alert in alerts:
            for notifier in self.notifiers:
                self._notify(notifier, alert)
        return alerts

    def _diff(self, idx: int, current: dict[Key, Finding], now: int,
              fired: list[tuple[int, _Active]], resolved: list[tuple[int, _Active]]) -> None:
        for key, finding in current.items():
            act = self._active.get((idx, key))
            if act is not None:
                act.finding = finding
                continue
            last = self._last_notified.get((idx, key))
            notify = last is None or now - last >= self._cooldown_ns
            act = _Active(finding, now, self._wall(), notify)
            self._active[(idx, key)] = act
            if notify:
                self._remember(idx, key, now)
                fired.append((idx, act))
        for ident in [k for k in self._active if k[0] == idx and k[1] not in current]:
            act = self._active.pop(ident)
            if act.notified:
                resolved.append((idx, act))

    def _remember(self, idx: int, key: Key, now: int) -> None:
        if len(self._last_notified) >= _MAX_REMEMBERED:  # bounded: forget the oldest
            self._last_notified.pop(next(iter(self._last_notified)))
        self._last_notified[(idx, key)] = now

    def _take_snapshot(self, idx: int, finding: Finding, now: int) -> Mapping[str, Any] | None:
        ev = self._evals[idx]
        base: dict[str, Any] = {}
        if isinstance(ev, StuckEvaluator):
            with self._lock:
                base.update(ev.recent(finding.labels.get("agent", ""), now))
        if self._snapshot is None:
            return base or None
        try:
            return {**self._snapshot(finding.labels.get("agent", "")), **base}
        except Exception as exc:  # a snapshot failure must not lose the alert
            self._log("alert-snapshot", f"kaizen-perf could not snapshot a stuck agent: {exc!r}")
            return base or None

    def _alert(self, idx: int, act: _Active, status: str) -> Alert:
        spec, f = self.rules[idx], act.finding
        return Alert(spec.name, spec.kind, f.severity or spec.severity,
                     status,  # type: ignore[arg-type]
                     dict(f.labels), f.value, f.threshold, f.summary, act.started_wall,
                     self._wall(), act.snapshot if status == "firing" else None)

    def _notify(self, notifier: Notifier, alert: Alert) -> None:
        try:
            notifier.notify(alert)
        except Exception as exc:  # one broken notifier must not silence the others
            self._log(f"notifier:{type(notifier).__name__}",
                      f"kaizen-perf alert notifier {type(notifier).__name__} failed: {exc!r}")

    # -- state --------------------------------------------------------------------------------
    def firing(self) -> list[Alert]:
        """Alerts whose condition holds now (including ones silenced by the cooldown)."""
        with self._lock:
            active = list(self._active.items())
        return [self._alert(idx, act, "firing") for (idx, _), act in active]

    def stuck_check(self) -> ComponentStatus:
        """Readiness: not ready while an agent makes no loop progress (evaluated live)."""
        now, stuck = self._clock(), list[Finding]()
        with self._lock:
            for ev in self._evals:
                if isinstance(ev, StuckEvaluator):
                    stuck += ev.evaluate(now, Probe())
        data = {f.key[0]: {"seconds_without_progress": round(f.value, 1)} for f in stuck}
        if stuck:
            return ComponentStatus("agents", False, "; ".join(f.summary for f in stuck), data)
        return ComponentStatus("agents", True, "making progress", data or None)

    def exporters_check(self) -> ComponentStatus:
        """Readiness: not ready while an export-errors alert is active (exporters keep failing)."""
        failing = [act.finding for (idx, _), act in list(self._active.items())
                   if isinstance(self.rules[idx], ExportErrorsRule)]
        if failing:
            return ComponentStatus("exporters", False, "; ".join(f.summary for f in failing),
                                   {f.key[0]: {"errors_in_window": f.value} for f in failing})
        return ComponentStatus("exporters", True, "no recent export errors")

    # -- thread -------------------------------------------------------------------------------
    def start(self) -> None:
        """Evaluate every ``interval_s`` on a thread (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="kaizen-perf-alert-eval",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.evaluate()
            except Exception as exc:  # keep evaluating: a rule bug must not end alerting
                self._log("alert-eval", f"kaizen-perf alert evaluation failed: {exc!r}")

    def close(self, timeout_s: float) -> None:
        """Stop evaluating and close the notifiers within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        self._stop.set()
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()))
        for notifier in self.notifiers:
            close = getattr(notifier, "close", None)
            if callable(close):
                close(max(0.0, deadline - time.monotonic()))

    def after_fork(self) -> None:
        """A forked child starts with fresh state and its own evaluation thread."""
        was_running = self._thread is not None and not self._stop.is_set()
        self._init_state()
        for notifier in self.notifiers:
            reset = getattr(notifier, "after_fork", None)
            if callable(reset):
                reset()
        if was_running:
            self.start()
