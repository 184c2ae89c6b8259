"""The data of a regression run: benchmarks, sides, design, samples (frozen records)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: What a timed benchmark's sample measures. "auto" lets the engine choose (see measures.py).
MEASURES = ("wall", "cpu", "instructions")


@dataclass(frozen=True)
class BenchInfo:
    """One benchmark as a worker discovered it."""

    name: str
    unit: str = "s"
    direction: str = "lower"
    gate: float | None = None
    pairs_per_round: int | None = None
    measure: str | None = None  # as the benchmark declared it (None: the engine chooses)

    @property
    def timed(self) -> bool:
        """True when the value is a run time (not a returned value such as bytes)."""
        return self.unit == "s"


@dataclass(frozen=True)
class Side:
    """A project directory whose code one worker runs (first on its ``PYTHONPATH``)."""

    label: str
    path: Path
    ref: str | None = None
    commit: str | None = None
    python: str | None = None  # the interpreter (environment) its workers run; None: ours
    versions: Mapping[str, str] = field(default_factory=dict)  # as that interpreter reports


@dataclass(frozen=True)
class Design:
    """How samples are taken: worker pairs (rounds), when to look, the time budget.

    Sampling is sequential: every benchmark gets ``rounds`` worker pairs, then
    the verdicts are looked at; undecided benchmarks get more rounds, looked at
    again at each point of :meth:`looks` (×1.5 apart), until they are decided,
    ``max_rounds`` is reached or ``budget_s`` runs out. Each look spends
    ``alpha / len(looks)`` so the error rate over all looks stays ≤ ``alpha``.
    """

    rounds: int = 8
    pairs_per_round: int = 4
    max_rounds: int = 40
    budget_s: float = 165.0  # time budget of a whole check (start-up included); 0 = none
    seed: int = 0
    hashseed: int = 0
    inject: float = 0.0
    timeout_s: float = 120.0
    suite: str = "benchmarks"
    measure: str = "auto"  # force a measure for every timed benchmark, or "auto"
    instruction_pairs: int = 5  # most pairs of counts (2 first, more only while undecided)
    alpha: float = 0.05

    def looks(self) -> tuple[int, ...]:
        """The round counts at which verdicts are looked at."""
        out, r = [], max(1, self.rounds)
        while r < self.max_rounds:
            out.append(r)
            r = max(r + 1, math.ceil(r * 1.5))
        return (*out, max(self.max_rounds, max(1, self.rounds)))

    @property
    def look_alpha(self) -> float:
        """The error rate one look may spend (Bonferroni over the looks)."""
        return self.alpha / len(self.looks())


QUICK = Design(rounds=8, pairs_per_round=3, max_rounds=16, budget_s=60.0)


@dataclass(frozen=True)
class Operand:
    """One half of a job: which worker (side label) runs which benchmark."""

    side: str
    bench: str


@dataclass(frozen=True)
class Job:
    """Something to sample: ``y`` paired with ``x``, or ``x`` alone when ``y`` is None."""

    key: str
    x: Operand
    y: Operand | None
    info: BenchInfo
    measure: str = "wall"  # what a sample measures (resolved; never "auto")
    measure_why: str = ""  # why that measure (declared, forced, or what the probe saw)
    cost_s: float = 0.0  # CPU seconds per call the probe saw (0: unknown); longest counted first


@dataclass(frozen=True)
class Pair:
    """Two back-to-back samples; ``order`` is "xy" or "yx"; ``y`` None for single runs."""

    round: int
    order: str
    x: float
    y: float | None


@dataclass
class JobSamples:
    """Samples collected for one job (mutable while the run goes on)."""

    job: Job
    loops: int | None = None
    pairs: list[Pair] = field(default_factory=list)
    error: str | None = None
    spent_s: float = 0.0  # wall time its rounds took (to predict the next round's cost)
    rounds: int = 0  # rounds it took part in
