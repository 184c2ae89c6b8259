"""calibrate's resampled experiments: reproducible from a seed, judged like check judges."""

from __future__ import annotations

import random
from pathlib import Path

from kaizen_perf.regression import calibrate as cal
from kaizen_perf.regression.model import BenchInfo, Design, Job, JobSamples, Operand, Pair, Side
from kaizen_perf.regression.results import RunResult
from kaizen_perf.regression.targets import Targets


def pool(effect: float, seed: int = 3) -> RunResult:
    """A synthetic pool: 30 worker pairs of 4 pairs, 2 % noise, ``effect`` on the candidate."""
    rng = random.Random(seed)
    pairs = [Pair(r, "xy", 1.0 * rng.lognormvariate(0, 0.02),
                  (1 + effect) * rng.lognormvariate(0, 0.02)) for r in range(30) for _ in range(4)]
    job = Job("b.bench_x", Operand("base", "b.bench_x"), Operand("head", "b.bench_x"),
              BenchInfo("b.bench_x"), "cpu")
    return RunResult("check", Design(), (Side("base", Path(".")), Side("head", Path("."))),
                     (JobSamples(job, 10, pairs),), {}, "", 0.0)


def test_the_same_seed_gives_the_same_table() -> None:
    """A calibration table is reproducible: same pool, same seed, same rates."""
    a = cal.rates(pool(0.05), 0.05, Design(), Targets(), experiments=200, seed=0)
    b = cal.rates(pool(0.05), 0.05, Design(), Targets(), experiments=200, seed=0)
    assert a == b


def test_resampled_checks_catch_a_real_slowdown_and_spare_an_aa_pool() -> None:
    """With 2 % noise a 10 % slowdown is caught nearly always; an A/A pool is never flagged."""
    caught = cal.rates(pool(0.10), 0.10, Design(), Targets(), experiments=200, seed=0)[0]
    aa = cal.rates(pool(0.0), 0.0, Design(), Targets(), experiments=200, seed=0)[0]
    assert caught.regression >= 0.95 and aa.regression <= 0.02
