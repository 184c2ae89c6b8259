"""Budget limits and what is counted against them: one limit, its spend at a moment, a
threshold crossed, and the account that counts one budget's spend.

Amounts are integer pico-dollars (the unit of
:meth:`~kaizen_perf.cost.ModelPrice.cost_pico`), so a 30-hour run sums exactly and a
threshold is one integer comparison. :class:`~kaizen_perf.cost.budget.BudgetTracker` keeps
the accounts and decides what a crossing or an exhausted limit does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from kaizen_perf.cost import PICO, usd
from kaizen_perf.errors import ConfigError

Scope = Literal["agent", "user", "run"]
SCOPES: tuple[str, ...] = ("agent", "user", "run")
DEFAULT_THRESHOLDS = (0.5, 0.8, 1.0)



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


class Account:
    """One budget's spend, the amounts held by calls in flight, and the thresholds crossed
    (mutable: only the tracker touches it, under its lock)."""

    __slots__ = ("budget", "crossed", "held", "low", "marks", "spent")

    def __init__(self, budget: Budget) -> None:
        self.budget, self.spent = budget, 0
        self.held = 0  # reserved by calls in flight (hard-stop budgets only)
        # threshold in pico-dollars, computed once: comparisons stay integer
        self.marks = [(t, (budget.limit_pico * round(t * 10_000)) // 10_000)
                      for t in budget.thresholds]
        self.crossed: list[float] = []
        # no threshold is below this spend: add() is one comparison until it is reached
        # (0 forces a full check; set it so whenever ``crossed`` shrinks)
        self.low = 0

    def add(self, pico: int) -> list[float]:
        """Count ``pico``; returns the thresholds this crossed (each only once)."""
        self.spent += pico
        if self.spent < self.low:
            return []
        new = [t for t, mark in self.marks if self.spent >= mark and t not in self.crossed]
        self.crossed.extend(new)
        self.low = min((m for t, m in self.marks if t not in self.crossed), default=1 << 127)
        return new


def applicable(agent: str, user: str | None) -> list[tuple[str, str]]:
    """The budgets a call of ``agent`` made for ``user`` counts against."""
    found = [("run", ""), ("agent", agent)]
    if user is not None:
        found.append(("user", user))
    return found
