"""Budgets per agent, per user and per run: soft thresholds and an opt-in hard stop.

Spend is counted in integer pico-dollars (the unit of
:meth:`~kaizen_perf.cost.ModelPrice.cost_pico`), so a 30-hour run sums exactly.

- **agent** budgets count the cost of API calls recorded with that ``agent`` label;
- **run** budgets count every priced call this monitor sees (under ``kaizen-perf
  run`` that includes every forwarded child);
- **user** budgets count the calls made inside ``with mon.budget.user("alice"):``.

Agent and run spend is counted on the dispatcher thread (the tracker is a pipeline
sink), so a hard stop takes effect within one flush interval. User spend is
counted on the caller's thread, because only that thread knows the user.

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
from dataclasses import dataclass
from typing import Any, Literal

from kaizen_perf._ratelimit import RateLimitedLog
from kaizen_perf.cost import PICO, usd
from kaizen_perf.errors import BudgetExceeded, ConfigError
from kaizen_perf.events import ApiCallEvent, Event
from kaizen_perf.health import ComponentStatus
from kaizen_perf.metrics import Family

Scope = Literal["agent", "user", "run"]
SCOPES: tuple[str, ...] = ("agent", "user", "run")
DEFAULT_THRESHOLDS = (0.5, 0.8, 1.0)

#: the user the current thread or task spends for (``BudgetTracker.user``)
CURRENT_USER: ContextVar[str | None] = ContextVar("kaizen_perf_budget_user", default=None)

AuditFn = Callable[[str, dict[str, Any], str], object]


@dataclass(frozen=True)
class Budget:
    """A spending limit for one agent, one user or the whole run."""

    scope: Scope
    key: str
    limit_pico: int
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    hard_stop: bool = False

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            msg = f"Budget scope {self.scope!r} is not valid: expected agent, user or run."
            raise ConfigError(msg)
        if type(self.limit_pico) is not int or self.limit_pico <= 0:
            msg = (f"Budget limit {self.limit_pico!r} pico-dollars is not valid: expected a "
                   "positive amount (use Budget.usd(5.0, …) for dollars).")
            raise ConfigError(msg)
        if not self.thresholds or any(not 0 < t <= 1 for t in self.thresholds):
            msg = (f"Budget thresholds {self.thresholds!r} are not valid: expected fractions "
                   "between 0 and 1, such as (0.5, 0.8, 1.0).")
            raise ConfigError(msg)

    @classmethod
    def usd(cls, usd: float, *, scope: Scope = "agent", key: str = "",
            thresholds: Sequence[float] = DEFAULT_THRESHOLDS, hard_stop: bool = False) -> Budget:
        """A budget of ``usd`` dollars (rounded to the pico-dollar)."""
        if isinstance(usd, bool) or not isinstance(usd, int | float) or not usd > 0 \
                or usd == float("inf"):
            msg = f"Budget {usd!r} USD is not valid: expected a positive number of dollars."
            raise ConfigError(msg)
        return cls(scope, key, round(usd * PICO), tuple(sorted(thresholds)), hard_stop)

    @property
    def limit_usd(self) -> float:
        """The limit in dollars."""
        return usd(self.limit_pico)

    def describe(self) -> str:
        """``agent 'researcher'``, ``user 'alice'`` or ``run``."""
        return "run" if self.scope == "run" else f"{self.scope} {self.key!r}"


@dataclass(frozen=True)
class BudgetStatus:
    """Spend against one budget at one moment."""

    budget: Budget
    spent_pico: int
    crossed: tuple[float, ...]

    @property
    def spent_usd(self) -> float:
        """Spend in dollars."""
        return usd(self.spent_pico)

    @property
    def fraction(self) -> float:
        """Spend as a fraction of the limit."""
        return self.spent_pico / self.budget.limit_pico

    @property
    def exhausted(self) -> bool:
        """True once spend reached the limit."""
        return self.spent_pico >= self.budget.limit_pico


@dataclass(frozen=True)
class Crossing:
    """A soft threshold was reached (reported once per threshold and budget)."""

    budget: Budget
    threshold: float
    spent_pico: int


class _Account:
    __slots__ = ("budget", "crossed", "marks", "spent")

    def __init__(self, budget: Budget) -> None:
        self.budget, self.spent = budget, 0
        # threshold in pico-dollars, computed once: comparisons stay integer
        self.marks = [(t, (budget.limit_pico * round(t * 10_000)) // 10_000)
                      for t in budget.thresholds]
        self.crossed: list[float] = []

    def add(self, pico: int) -> list[float]:
        self.spent += pico
        new = [t for t, mark in self.marks if self.spent >= mark and t not in self.crossed]
        self.crossed.extend(new)
        return new


class BudgetTracker:
    """Counts spend against budgets; a pipeline sink and a health check."""

    def __init__(self, budgets: Sequence[Budget] = (), *, run_label: str = "run",
                 on_exceeded: Callable[[BudgetExceeded], object] | None = None,
                 audit: AuditFn | None = None,
                 set_stop: Callable[[Callable[[], None] | None], None] | None = None,
                 set_charge: Callable[[Callable[[int], None] | None], None] | None = None,
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
        self._accounts: dict[tuple[str, str], _Account] = {}
        self._stops: dict[tuple[str, str], BudgetExceeded] = {}
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
            acct = _Account(budget)
            if old is not None:
                acct.spent = old.spent
                acct.crossed = [t for t, mark in acct.marks if old.spent >= mark]
            self._accounts[ident] = acct
            users = any(s == "user" for s, _ in self._accounts)
            if users != self.has_user_budgets:
                self.has_user_budgets = users
                self._set_charge(self.charge_user if users else None)
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
                acct.spent, acct.crossed = 0, []
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
        crossings: list[Crossing] = []
        with self._lock:
            accounts = self._accounts
            run = accounts.get(("run", ""))
            for e in batch:
                if type(e) is ApiCallEvent and e.cost_pico > 0:
                    if run is not None:
                        self._charge(run, e.cost_pico, crossings)
                    acct = accounts.get(("agent", e.agent))
                    if acct is not None:
                        self._charge(acct, e.cost_pico, crossings)
        self._after(crossings)
        fams = self._families() if self._families is not None else None
        if fams is not None:
            self._publish(fams)  # the pipeline lock is already held by the dispatcher

    def charge_user(self, cost_pico: int) -> None:
        """Count one call's cost against the current user's budget (called by the monitor)."""
        user = CURRENT_USER.get()
        if user is None or cost_pico <= 0:
            return
        crossings: list[Crossing] = []
        with self._lock:
            acct = self._accounts.get(("user", user))
            if acct is not None:
                self._charge(acct, cost_pico, crossings)
        self._after(crossings)

    def _charge(self, acct: _Account, pico: int, out: list[Crossing]) -> None:
        for threshold in acct.add(pico):
            out.append(Crossing(acct.budget, threshold, acct.spent))
        budget = acct.budget
        ident = (budget.scope, budget.key)
        if budget.hard_stop and acct.spent >= budget.limit_pico and ident not in self._stops:
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
                raise BudgetExceeded(exc.scope, exc.spent_usd, exc.budget_usd)
            with self._lock:  # callback mode: once per stop, then the agent may go on
                if self._stops.pop(ident, None) is None:
                    continue
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
