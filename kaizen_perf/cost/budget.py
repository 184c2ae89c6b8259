"""Budgets per agent, per user and per run: soft thresholds and an opt-in hard stop.

Spend is counted in integer pico-dollars (the unit of
:meth:`~kaizen_perf.cost.ModelPrice.cost_pico`), so a 30-hour run sums exactly.

- **agent** budgets count the cost of API calls recorded with that ``agent`` label;
- **run** budgets count every priced call this monitor sees (under ``kaizen-perf
  run`` that includes every forwarded child);
- **user** budgets count the calls made inside ``with mon.budget.user("alice"):``.

Calls recorded in this process are counted on the calling thread, inside
``record_api_call`` and before the event reaches the pipeline, so spend is exact
at every moment; calls forwarded from children (``kaizen-perf run``) are counted
by the tracker as a pipeline sink, on the dispatcher thread.

Before a request is sent, a client integration reserves its worst case
(:meth:`BudgetTracker.reserve`, see :mod:`kaizen_perf.cost.reserve`): a hard-stop
budget refuses it, with :class:`~kaizen_perf.errors.BudgetExceeded`, when spend,
the reservations in flight and this one together would pass the limit.

Each threshold (50/80/100 % by default) is crossed once and reported once to the
``on_threshold`` listeners. With ``hard_stop=True``, reaching the limit arms a
stop: the next ``tool()``, ``agent_loop()`` or ``record_api_call()`` in agent code
raises :class:`~kaizen_perf.errors.BudgetExceeded`, or, when an ``on_exceeded``
callback is given, calls it once instead. The stop is audited once.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

from kaizen_perf._ratelimit import RateLimitedLog
from kaizen_perf.cost import usd
from kaizen_perf.cost.limits import (
    DEFAULT_THRESHOLDS,
    SCOPES,
    Account,
    Budget,
    BudgetStatus,
    Crossing,
    Scope,
    applicable,
)
from kaizen_perf.cost.reserve import NOTHING, Reservation
from kaizen_perf.errors import BudgetExceeded
from kaizen_perf.events import ApiCallEvent, Event
from kaizen_perf.health import ComponentStatus
from kaizen_perf.metrics import Family
from kaizen_perf.pipeline import SinkBase

__all__ = ["CURRENT_USER", "DEFAULT_THRESHOLDS", "SCOPES", "Budget", "BudgetStatus",
           "BudgetTracker", "Crossing", "Scope"]

_PRECHARGED_CAP = 65_536  # the pipeline's default capacity

#: the user the current thread or task spends for (``BudgetTracker.user``)
CURRENT_USER: ContextVar[str | None] = ContextVar("kaizen_perf_budget_user", default=None)

AuditFn = Callable[[str, dict[str, Any], str], object]


class BudgetTracker(SinkBase):
    """Counts spend against budgets; a pipeline sink and a health check."""

    def __init__(self, budgets: Sequence[Budget] = (), *, run_label: str = "run",
                 on_exceeded: Callable[[BudgetExceeded], object] | None = None,
                 audit: AuditFn | None = None,
                 set_stop: Callable[[Callable[[], None] | None], None] | None = None,
                 set_charge: Callable[[Callable[[ApiCallEvent], None] | None], None]
                 | None = None,
                 families: Callable[[], Mapping[str, Family]] | None = None,
                 lock: Callable[[], contextlib.AbstractContextManager[Any]] | None = None,
                 log: RateLimitedLog | None = None) -> None:
        self._run_label = run_label
        #: called instead of raising, once per stop (settable: ``mon.budget.on_exceeded = fn``)
        self.on_exceeded = on_exceeded
        #: ``audit(action, details, result)`` records each stop (settable)
        self.audit = audit
        self._set_stop = set_stop or (lambda _fn: None)
        self._set_charge = set_charge or (lambda _fn: None)
        self._families, self._metrics_lock = families, lock
        self._log = log or RateLimitedLog()
        self._lock = threading.Lock()
        # held from marking a threshold crossed until its listeners ran, and taken before
        # any BudgetExceeded is raised: no thread sees a stop before the warnings went out
        self._deliver = threading.RLock()
        self._accounts: dict[tuple[str, str], Account] = {}
        self._stops: dict[tuple[str, str], BudgetExceeded] = {}
        # span ids of events already counted by charge(): the sink skips them (oldest
        # first out past _PRECHARGED_CAP, when their events cannot still be buffered)
        self._precharged: dict[int, None] = {}
        self._charging = False
        # stops whose callback ran (callback mode): not re-armed by later spend
        self._delivered: set[tuple[str, str]] = set()
        #: whether any hard-stop budget exists (integrations reserve only then)
        self.gating = False
        self._listeners: list[Callable[[Crossing], object]] = []
        self.has_user_budgets = False
        for budget in budgets:
            self.add(budget)

    # -- configuration -------------------------------------------------------------------
    def add(self, budget: Budget) -> Budget:
        """Add or replace a budget; replacing keeps the spend, re-arms thresholds above it."""
        ident = (budget.scope, budget.key)
        with self._lock:
            old = self._accounts.get(ident)
            acct = Account(budget)
            if old is not None:
                acct.spent = old.spent
                acct.crossed = [t for t, mark in acct.marks if old.spent >= mark]
            acct.held = old.held if old is not None else 0
            self._accounts[ident] = acct
            self.has_user_budgets = any(s == "user" for s, _ in self._accounts)
            self.gating = any(a.budget.hard_stop for a in self._accounts.values())
            if not self._charging:  # count on the caller's thread once any budget exists
                self._charging = True
                self._set_charge(self.charge)
            if not (budget.hard_stop and acct.spent >= budget.limit_pico):
                self._delivered.discard(ident)
            if ident in self._stops and not (budget.hard_stop and acct.spent >= budget.limit_pico):
                del self._stops[ident]
                self._arm()
        self._publish_locked()
        return budget

    def set(self, usd: float, *, scope: Scope = "agent", key: str = "",
            thresholds: Sequence[float] = DEFAULT_THRESHOLDS, hard_stop: bool = False) -> Budget:
        """Set a budget in dollars: ``mon.budget.set(5.0, scope="user", key="alice")``."""
        return self.add(Budget.usd(usd, scope=scope, key=key, thresholds=thresholds,
                                   hard_stop=hard_stop))

    def reset(self, scope: Scope, key: str = "") -> None:
        """Start counting a budget from zero again (thresholds re-armed, stop lifted)."""
        with self._lock:
            acct = self._accounts.get((scope, key))
            if acct is not None:
                acct.spent, acct.crossed, acct.low = 0, [], 0
            self._delivered.discard((scope, key))
            if self._stops.pop((scope, key), None) is not None:
                self._arm()
        self._publish_locked()

    def add_listener(self, listener: Callable[[Crossing], object]) -> None:
        """Call ``listener`` once for every threshold crossed from now on."""
        self._listeners.append(listener)

    @contextlib.contextmanager
    def user(self, user_id: str) -> Iterator[None]:
        """Charge the API calls made inside the block to ``user_id``'s budget."""
        token = CURRENT_USER.set(user_id)
        try:
            yield
        finally:
            CURRENT_USER.reset(token)

    # -- accounting -----------------------------------------------------------------------
    def handle(self, batch: Sequence[Event]) -> None:
        """Pipeline sink: count agent and run spend of priced API calls."""
        if not self._accounts:
            return
        with self._deliver:
            self._handle(batch)
        fams = self._families() if self._families is not None else None
        if fams is not None:
            self._publish(fams)  # the pipeline lock is already held by the dispatcher

    def _handle(self, batch: Sequence[Event]) -> None:
        crossings: list[Crossing] = []
        with self._lock:
            accounts = self._accounts
            run = accounts.get(("run", ""))
            precharged = self._precharged
            for e in batch:
                if type(e) is ApiCallEvent and e.cost_pico > 0:
                    if precharged and precharged.pop(e.span_id, 0) is None:
                        continue  # counted by charge() when it was recorded
                    if run is not None:
                        self._charge(run, e.cost_pico, crossings)
                    acct = accounts.get(("agent", e.agent))
                    if acct is not None:
                        self._charge(acct, e.cost_pico, crossings)
        self._after(crossings)

    def charge(self, event: ApiCallEvent) -> None:
        """Count a priced call recorded in this process against the run, its agent's and
        the current user's budgets, now (called by ``record_api_call`` before the event
        is queued, so the sink skips it)."""
        cost = event.cost_pico
        if cost <= 0:
            return
        user = CURRENT_USER.get()
        crossings: list[Crossing] = []
        with self._deliver:
            with self._lock:
                accounts = self._accounts
                for ident in applicable(event.agent, user):
                    acct = accounts.get(ident)
                    if acct is not None:
                        self._charge(acct, cost, crossings)
                precharged = self._precharged
                precharged[event.span_id] = None
                if len(precharged) > _PRECHARGED_CAP:
                    del precharged[next(iter(precharged))]
            self._after(crossings)

    def charge_user(self, cost_pico: int) -> None:
        """Count one call's cost against the current user's budget only."""
        user = CURRENT_USER.get()
        if user is None or cost_pico <= 0:
            return
        crossings: list[Crossing] = []
        with self._lock:
            acct = self._accounts.get(("user", user))
            if acct is not None:
                self._charge(acct, cost_pico, crossings)
        self._after(crossings)

    # -- reservations (before a request is sent) ------------------------------------------
    def reserve(self, pico: int, *, agent: str) -> Reservation:
        """Hold ``pico`` (a call's worst case) against every hard-stop budget that applies:
        the run's, ``agent``'s and the current user's. Raises
        :class:`~kaizen_perf.errors.BudgetExceeded` instead, holding nothing, when spend
        plus the amounts in flight plus ``pico`` would pass one of their limits; the
        thresholds that call would have crossed are reported first (a warning always
        comes before the stop). Release the reservation once the call's cost is recorded.
        """
        if pico <= 0 or not self._accounts:
            return NOTHING
        with self._deliver:
            return self._reserve(pico, agent, CURRENT_USER.get())

    def _reserve(self, pico: int, agent: str, user: str | None) -> Reservation:
        crossings: list[Crossing] = []
        denied: BudgetExceeded | None = None
        with self._lock:
            idents = [i for i in applicable(agent, user)
                      if (a := self._accounts.get(i)) is not None and a.budget.hard_stop]
            for ident in idents:
                acct = self._accounts[ident]
                committed = acct.spent + acct.held
                if committed + pico > acct.budget.limit_pico:
                    denied = BudgetExceeded(acct.budget.describe(), usd(committed),
                                            acct.budget.limit_usd, reserved_usd=usd(pico))
                    for t, mark in acct.marks:
                        if t < 1.0 and committed + pico >= mark and t not in acct.crossed:
                            acct.crossed.append(t)
                            crossings.append(Crossing(acct.budget, t, acct.spent))
                    break
            else:
                for ident in idents:
                    self._accounts[ident].held += pico
        self._after(crossings)
        if denied is not None:
            raise denied
        if not idents:
            return NOTHING
        return Reservation(pico, lambda amount: self._release(idents, amount))

    def _release(self, idents: list[tuple[str, str]], pico: int) -> None:
        with self._lock:  # by name: the budget may have been replaced meanwhile
            for ident in idents:
                acct = self._accounts.get(ident)
                if acct is not None:
                    acct.held = max(0, acct.held - pico)

    def reserved_pico(self, scope: Scope, key: str = "") -> int:
        """What calls in flight hold against one budget now."""
        with self._lock:
            acct = self._accounts.get((scope, key))
            return 0 if acct is None else acct.held


    def _charge(self, acct: Account, pico: int, out: list[Crossing]) -> None:
        for threshold in acct.add(pico):
            out.append(Crossing(acct.budget, threshold, acct.spent))
        budget = acct.budget
        ident = (budget.scope, budget.key)
        if budget.hard_stop and acct.spent >= budget.limit_pico and ident not in self._stops \
                and ident not in self._delivered:
            self._stops[ident] = BudgetExceeded(budget.describe(), usd(acct.spent),
                                                budget.limit_usd)
            self._arm()

    def _after(self, crossings: list[Crossing]) -> None:
        for crossing in crossings:
            if crossing.threshold >= 1.0 and crossing.budget.hard_stop:
                self._record_audit(crossing)
            for listener in self._listeners:
                try:
                    listener(crossing)
                except Exception as exc:  # a listener bug must not stop accounting
                    self._log("budget-listener", f"kaizen-perf budget listener failed: {exc!r}")

    def _record_audit(self, crossing: Crossing) -> None:
        if self.audit is None:
            return
        budget = crossing.budget
        details = {"scope": budget.scope, "key": budget.key,
                   "budget_usd": budget.limit_usd, "spent_usd": usd(crossing.spent_pico),
                   "mode": "callback" if self.on_exceeded is not None else "raise"}
        try:
            self.audit("budget_stop", details, "denied")
        except Exception as exc:  # the stop still applies; the failure is logged
            self._log("budget-audit", f"kaizen-perf could not audit a budget stop: {exc!r}")

    # -- the hard stop ---------------------------------------------------------------------
    def _arm(self) -> None:
        """Point the monitor's hot-path check at ``check_stop`` while any stop is armed."""
        self._set_stop(self.check_stop if self._stops else None)

    def check_stop(self) -> None:
        """Raise BudgetExceeded (or call the callback) if a stop applies to the caller."""
        user = CURRENT_USER.get()
        for ident, exc in list(self._stops.items()):
            if ident[0] == "user" and ident[1] != user:
                continue
            if self.on_exceeded is None:
                with self._deliver:  # wait for warnings still being delivered
                    pass
                raise BudgetExceeded(exc.scope, exc.spent_usd, exc.budget_usd)
            with self._lock:  # callback mode: once per stop, then the agent may go on
                if self._stops.pop(ident, None) is None:
                    continue
                self._delivered.add(ident)
                self._arm()
            self.on_exceeded(exc)

    # -- reading ---------------------------------------------------------------------------
    def statuses(self) -> tuple[BudgetStatus, ...]:
        """Every budget with its spend."""
        with self._lock:
            return tuple(BudgetStatus(a.budget, a.spent, tuple(a.crossed))
                         for a in self._accounts.values())

    def status(self, scope: Scope, key: str = "") -> BudgetStatus | None:
        """One budget's spend, or None when there is no such budget."""
        return next((s for s in self.statuses()
                     if (s.budget.scope, s.budget.key) == (scope, key)), None)

    def health_check(self) -> ComponentStatus:
        """Not ready while a hard stop is armed (the agent cannot make progress)."""
        data = {s.budget.describe(): {"spent_usd": s.spent_usd,
                                      "budget_usd": s.budget.limit_usd}
                for s in self.statuses()}
        if self._stops:
            names = ", ".join(sorted(exc.scope for exc in self._stops.values()))
            return ComponentStatus("budget", False, f"hard stop: budget exhausted for {names}",
                                   data)
        return ComponentStatus("budget", True, "within budget" if data else "no budget", data)

    def _publish_locked(self) -> None:
        if self._families is None:
            return
        with self._metrics_lock() if self._metrics_lock is not None else contextlib.nullcontext():
            self._publish(self._families())

    def _publish(self, fams: Mapping[str, Family]) -> None:
        """Set kaizen_budget_usd / kaizen_budget_spent_usd for agent (and run) budgets."""
        limit, spent = fams["kaizen_budget_usd"], fams["kaizen_budget_spent_usd"]
        with self._lock:
            accounts = dict(self._accounts)
        for (scope, key), acct in accounts.items():
            label = key if scope == "agent" else self._run_label
            if scope == "user" or (scope == "run" and ("agent", label) in accounts):
                continue
            limit.set((label,), acct.budget.limit_usd)
            spent.set((label,), usd(acct.spent))
