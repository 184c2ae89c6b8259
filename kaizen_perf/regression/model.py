"""The data of a regression run: benchmarks, sides, design, samples (frozen records)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class BenchInfo:
    """One benchmark as a worker discovered it."""

    name: str
    unit: str = "s"
    direction: str = "lower"
    gate: float | None = None
    pairs_per_round: int | None = None

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


@dataclass(frozen=True)
class Design:
    """How samples are taken: worker pairs (rounds), pairs per round, order seed."""

    rounds: int = 15
    pairs_per_round: int = 4
    topup_rounds: int = 10
    seed: int = 0
    hashseed: int = 0
    inject: float = 0.0
    timeout_s: float = 120.0
    suite: str = "benchmarks"


QUICK = Design(rounds=6, pairs_per_round=3, topup_rounds=2)


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
