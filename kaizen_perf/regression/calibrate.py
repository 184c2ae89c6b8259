"""Measure the detector itself: false-positive rate (A/A) and power (injected slowdowns).

Economical by design: one pool of real paired samples per level (the same tree
on both sides; for a slowdown of ``p`` %, the candidate's worker makes ``p`` %
more calls of the benchmark itself per sample, i.e. real extra work of the same
kind, not a wait), then many experiments resampled from the pool. An experiment
draws worker pairs (rounds) whole, so the correlation inside a worker pair is
kept, judges them on the same look schedule and per-look error rate as
``check``, and applies pytest-benchmark's ``mean:5%`` rule to the same samples.
The resampling is seeded (``--seed``, default 0), so a table is reproducible
from saved pools.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kaizen_perf.regression.model import Design, JobSamples, Pair
from kaizen_perf.regression.results import RunResult
from kaizen_perf.regression.stats import mad_noise, paired_estimate
from kaizen_perf.regression.targets import Targets
from kaizen_perf.regression.verdicts import Verdict, effective_gate, judge

PYTEST_RULE = 0.05  # --benchmark-compare-fail=mean:5%
_NOT_COMPARED = ("parity:", "single:")
CLUSTERED = True  # as `check` does; False shows what pair-level intervals alone would give


@dataclass(frozen=True)
class Rates:
    """Verdict rates of one benchmark at one injected slowdown, over resampled experiments."""

    benchmark: str
    inject: float
    experiments: int
    regression: float  # fraction of REGRESSION verdicts (false positives when inject == 0)
    inconclusive: float
    pytest_fail: float  # fraction failing pytest-benchmark's mean:5% rule on the same data
    noise: float  # robust SD of per-pair log ratios in the pool
    mde: float  # median minimum detectable effect over experiments
    pool_rounds: int


def rounds_of(js: JobSamples) -> dict[int, list[Pair]]:
    """A job's pairs grouped by worker pair (round)."""
    out: dict[int, list[Pair]] = {}
    for p in js.pairs:
        if p.y is not None:
            out.setdefault(p.round, []).append(p)
    return out


def _draw(groups: list[list[Pair]], k: int, rng: random.Random) -> list[list[Pair]]:
    # Without replacement while the pool allows it: a subsample never repeats a worker pair.
    chosen = rng.sample(groups, k) if k <= len(groups) else rng.choices(groups, k=k)
    # Renumber, so a group drawn twice still counts as two clusters like two real rounds.
    return [[dataclasses.replace(p, round=i) for p in g] for i, g in enumerate(chosen)]


def experiment(groups: list[list[Pair]], design: Design, gate: float, direction: str,
               unit: str, rng: random.Random) -> tuple[Verdict, bool, float]:
    """One resampled check: verdict at the first deciding look, pytest rule, MDE."""
    looks = design.looks()
    drawn = _draw(groups, looks[-1], rng)
    used: Sequence[Pair] = [p for g in drawn for p in g]
    verdict, est_mde = Verdict.INCONCLUSIVE, math.inf
    for look in looks:
        verdict, est_mde, used = _verdict([p for g in drawn[:look] for p in g], gate,
                                          direction, unit, design.look_alpha)
        if verdict is not Verdict.INCONCLUSIVE:
            break
    x = [p.x for p in used]
    y = [p.y for p in used if p.y is not None]
    pytest_fail = float(np.mean(y)) / float(np.mean(x)) - 1 > PYTEST_RULE
    return verdict, pytest_fail, est_mde


def _verdict(pairs: Sequence[Pair], gate: float, direction: str, unit: str,
             alpha: float = 0.05) -> tuple[Verdict, float, Sequence[Pair]]:
    x = [p.x for p in pairs]
    y = [p.y for p in pairs if p.y is not None]
    est = paired_estimate(x, y, alpha,
                          clusters=[p.round for p in pairs] if CLUSTERED else None)
    g = effective_gate(gate, unit, float(np.median(x)))
    return judge(est, g, direction), est.mde, pairs


def rates(pool: RunResult, inject: float, design: Design, targets: Targets,
          experiments: int = 1000, seed: int = 0) -> list[Rates]:
    """Resample ``experiments`` checks per benchmark from a pool."""
    rng = random.Random(seed)
    out = []
    for js in pool.jobs:
        if js.error is not None or js.job.y is None or js.job.key.startswith(_NOT_COMPARED):
            continue
        info = js.job.info
        groups = list(rounds_of(js).values())
        if not groups:
            continue
        gate = targets.gate_for(info.name, info.gate)
        runs = [experiment(groups, design, gate, info.direction, info.unit, rng)
                for _ in range(experiments)]
        x = [p.x for g in groups for p in g]
        y = [p.y for g in groups for p in g if p.y is not None]
        out.append(Rates(
            benchmark=info.name, inject=inject, experiments=experiments,
            regression=sum(v is Verdict.REGRESSION for v, _, _ in runs) / experiments,
            inconclusive=sum(v is Verdict.INCONCLUSIVE for v, _, _ in runs) / experiments,
            pytest_fail=sum(f for _, f, _ in runs) / experiments, noise=mad_noise(x, y),
            mde=float(np.median([m for _, _, m in runs if math.isfinite(m)] or [math.inf])),
            pool_rounds=len(groups)))
    return out


def render(table: Sequence[Rates], fmt: str = "text") -> str:
    """The calibration table: one line per benchmark and level."""
    if fmt == "json":
        import dataclasses
        import json

        return json.dumps([dataclasses.asdict(r) for r in table], indent=2)
    head = ["benchmark", "inject", "REGRESSION", "INCONCLUSIVE", "pytest mean:5%", "noise",
            "MDE", "pool"]
    rows = [[r.benchmark, f"{r.inject:.0%}", f"{r.regression:.1%}", f"{r.inconclusive:.1%}",
             f"{r.pytest_fail:.1%}", f"{r.noise:.2%}", f"{r.mde:.2%}",
             f"{r.pool_rounds} rounds, {r.experiments} exp"] for r in table]
    if fmt == "md":
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=False)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))
                     for r in [head, *rows])
