"""The engine's entry points: ``bench`` (one side), ``check`` (paired) and ``against``.

``check`` builds one paired job per benchmark both sides define, one job per
overhead parity target (reference vs benchmark, both on the candidate), runs
them in recycled worker pairs, then tops up once every job whose verdict is
INCONCLUSIVE (or parity UNDETERMINED) and recomputes on all pairs.
"""

from __future__ import annotations

import fnmatch
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace

from kaizen_perf.errors import ConfigError
from kaizen_perf.regression.evaluate import (
    PARITY_PREFIX,
    SINGLE_PREFIX,
    Outcome,
    evaluate_check,
    evaluate_parity,
)
from kaizen_perf.regression.model import BenchInfo, Design, Job, JobSamples, Operand, Side
from kaizen_perf.regression.results import RunResult, fingerprint, now_iso
from kaizen_perf.regression.runner import Progress, discover, no_progress, run_rounds
from kaizen_perf.regression.targets import Targets
from kaizen_perf.regression.verdicts import Parity, Verdict


def select(infos: Sequence[BenchInfo], patterns: Sequence[str]) -> list[BenchInfo]:
    """Benchmarks whose name (or function name) matches any glob in ``patterns``."""
    if not patterns:
        return list(infos)
    chosen = [i for i in infos if any(fnmatch.fnmatch(i.name, p) or fnmatch.fnmatch(
        i.name.rsplit(".", 1)[-1], p) or p in i.name for p in patterns)]
    if not chosen:
        msg = (f"No benchmark matches {list(patterns)!r}. Available: "
               f"{', '.join(i.name for i in infos) or 'none'}.")
        raise ConfigError(msg)
    return chosen


def _with_gate(info: BenchInfo, targets: Targets) -> BenchInfo:
    return replace(info, gate=targets.gate_for(info.name, info.gate))


def check_jobs(base: Sequence[BenchInfo], head: Sequence[BenchInfo], targets: Targets,
               patterns: Sequence[str]) -> tuple[list[Job], list[str], list[str]]:
    """Paired jobs for common benchmarks plus parity jobs; names only in head / only in base."""
    head_sel = select(head, patterns)
    base_names = {i.name for i in base}
    jobs = [Job(i.name, Operand("base", i.name), Operand("head", i.name), _with_gate(i, targets))
            for i in head_sel if i.name in base_names]
    new = [i.name for i in head_sel if i.name not in base_names]
    head_names = {i.name for i in head_sel}
    missing = [i.name for i in select(base, patterns) if i.name not in head_names]
    return jobs + parity_jobs(head, targets, {j.key for j in jobs}, head_sel), new, missing


def parity_jobs(head: Sequence[BenchInfo], targets: Targets, covered: set[str],
                selected: Sequence[BenchInfo] | None = None) -> list[Job]:
    """One paired job per overhead target, one single job per uncovered absolute target.

    Only targets whose benchmark is ``selected`` run; an overhead target's reference
    may be any benchmark of the suite.
    """
    by_name = {i.name: i for i in head}
    chosen = {i.name for i in (head if selected is None else selected)}
    jobs: list[Job] = []
    for t in targets.targets:
        if t.benchmark not in chosen:
            continue
        if t.kind == "overhead" and t.reference in by_name:
            jobs.append(Job(PARITY_PREFIX + t.name, Operand("head", t.reference),
                            Operand("head", t.benchmark), by_name[t.benchmark]))
        elif t.kind == "absolute" and t.benchmark not in covered:
            covered.add(t.benchmark)
            jobs.append(Job(SINGLE_PREFIX + t.benchmark, Operand("head", t.benchmark), None,
                            by_name[t.benchmark]))
    return jobs


def run_check(base: Side, head: Side, design: Design, targets: Targets, *,
              patterns: Sequence[str] = (),
              progress: Progress = no_progress) -> tuple[RunResult, Outcome]:
    """Paired comparison of ``head`` against ``base`` with one top-up for unclear jobs."""
    start = time.monotonic()
    found = discover([base, head], design)
    jobs, new, missing = check_jobs(found["base"], found["head"], targets, patterns)
    sides = {"base": base, "head": head}
    rng = random.Random(design.seed)
    samples: dict[str, JobSamples] = {}
    run_rounds(jobs, sides, design, samples, rounds=design.rounds, rng=rng, progress=progress)
    result = _result("check", design, (base, head), samples, start, new, missing)
    outcome = evaluate_check(result, targets)
    unclear = _unclear(jobs, outcome)
    if unclear and design.topup_rounds > 0:
        run_rounds(unclear, sides, design, samples, rounds=design.topup_rounds,
                   first_round=design.rounds, rng=rng, progress=progress)
        result = _result("check", design, (base, head), samples, start, new, missing)
        outcome = evaluate_check(result, targets)
    return result, outcome


def _unclear(jobs: Sequence[Job], outcome: Outcome) -> list[Job]:
    names = {r.name for r in outcome.rows if r.verdict is Verdict.INCONCLUSIVE}
    for p in outcome.parity:
        if p.status is Parity.UNDETERMINED:
            names.add(PARITY_PREFIX + p.target.name)
            names.add(SINGLE_PREFIX + p.target.benchmark)
            names.add(p.target.benchmark)
    return [j for j in jobs if j.key in names]


def run_bench(head: Side, design: Design, targets: Targets, *, patterns: Sequence[str] = (),
              progress: Progress = no_progress) -> tuple[RunResult, Outcome]:
    """Run one side's suite (samples only, plus its parity targets)."""
    start = time.monotonic()
    found = discover([head], design)["head"]
    infos = select(found, patterns)
    jobs = [Job(i.name, Operand("head", i.name), None, _with_gate(i, targets)) for i in infos]
    jobs += parity_jobs(found, targets, {j.key for j in jobs}, infos)
    samples: dict[str, JobSamples] = {}
    run_rounds(jobs, {"head": head}, design, samples, rounds=design.rounds,
               rng=random.Random(design.seed), progress=progress)
    result = _result("bench", design, (head,), samples, start, (), ())
    return result, Outcome((), evaluate_parity(result, targets))


def _result(kind: str, design: Design, sides: tuple[Side, ...],
            samples: Mapping[str, JobSamples], start: float, new: Sequence[str],
            missing: Sequence[str]) -> RunResult:
    return RunResult(kind=kind, design=design, sides=sides, jobs=tuple(samples.values()),
                     machine=fingerprint(), created=now_iso(),
                     duration_s=time.monotonic() - start, new=tuple(new),
                     missing=tuple(missing))
