"""The engine's entry points: ``bench`` (one side), ``check`` (paired) and ``against``.

``check`` builds one paired job per benchmark both sides define and one job per
overhead parity target (reference vs benchmark, both on the candidate), picks
each job's measure (measures.py), counts instructions in one callgrind worker
pair, and samples the timed jobs sequentially: rounds of recycled worker pairs
until every job is decided, the last look is reached or the time budget runs
out (model.Design).
"""

from __future__ import annotations

import fnmatch
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from kaizen_perf.errors import ConfigError
from kaizen_perf.regression import measures as measures_mod
from kaizen_perf.regression import sequential
from kaizen_perf.regression.evaluate import (
    BASE_SUFFIX,
    PARITY_PREFIX,
    SINGLE_PREFIX,
    Outcome,
    evaluate_parity,
)
from kaizen_perf.regression.model import BenchInfo, Design, Job, JobSamples, Operand, Side
from kaizen_perf.regression.results import RunResult, fingerprint, now_iso
from kaizen_perf.regression.runner import (
    Progress,
    WorkerFactory,
    discover,
    no_progress,
    run_rounds,
    spawn,
)
from kaizen_perf.regression.targets import Targets


def select(infos: Sequence[BenchInfo], patterns: Sequence[str]) -> list[BenchInfo]:
    """Benchmarks whose full name or function name matches a glob of ``patterns``.

    A pattern without glob characters matches exactly: ``--bench bench_tool``
    is ``bench_tool`` only, never ``bench_tool_aggregated``.
    """
    if not patterns:
        return list(infos)
    chosen = [i for i in infos if any(fnmatch.fnmatchcase(i.name, p) or fnmatch.fnmatchcase(
        i.name.rsplit(".", 1)[-1], p) for p in patterns)]
    if not chosen:
        msg = (f"No benchmark matches {list(patterns)!r}. Available: "
               f"{', '.join(i.name for i in infos) or 'none'}.")
        raise ConfigError(msg)
    return chosen


def _with_gate(info: BenchInfo, targets: Targets) -> BenchInfo:
    return replace(info, gate=targets.gate_for(info.name, info.gate))


def check_jobs(base: Sequence[BenchInfo], head: Sequence[BenchInfo], targets: Targets,
               patterns: Sequence[str], measures: Mapping[str, str] | None = None,
               ) -> tuple[list[Job], list[str], list[str]]:
    """Paired jobs for common benchmarks plus parity jobs; names only in head / only in base.

    ``measures`` maps benchmark names to their measure (default wall time).
    """
    m = measures or {}
    head_sel = select(head, patterns)
    base_names = {i.name for i in base}
    jobs = [Job(i.name, Operand("base", i.name), Operand("head", i.name), _with_gate(i, targets),
                m.get(i.name, "wall" if i.timed else "value"))
            for i in head_sel if i.name in base_names]
    new = [i.name for i in head_sel if i.name not in base_names]
    head_names = {i.name for i in head_sel}
    missing = [i.name for i in select(base, patterns) if i.name not in head_names]
    # Absolute targets budget time: a job counting instructions does not cover them.
    covered = {j.key for j in jobs if j.measure != "instructions"}
    parity = parity_jobs(head, targets, covered, head_sel, m)
    return jobs + parity + baseline_parity_jobs(parity, base_names), new, missing


def baseline_parity_jobs(parity: Sequence[Job], base_names: set[str]) -> list[Job]:
    """The overhead and ratio rows measured on the baseline too: an upgrade check fails
    on such a row only when the baseline of the same run meets it (evaluate.ParityRow)."""
    return [replace(j, key=j.key + BASE_SUFFIX, x=Operand("base", j.x.bench),
                    y=Operand("base", j.y.bench))
            for j in parity if j.key.startswith(PARITY_PREFIX) and j.y is not None
            and {j.x.bench, j.y.bench} <= base_names]


def parity_jobs(head: Sequence[BenchInfo], targets: Targets, covered: set[str],
                selected: Sequence[BenchInfo] | None = None,
                measures: Mapping[str, str] | None = None) -> list[Job]:
    """One paired job per overhead target, one single job per uncovered absolute target.

    Only targets whose benchmark is ``selected`` run; an overhead target's reference
    may be any benchmark of the suite. Targets budget time, so their jobs are timed
    (in CPU time where the comparison counts instructions).
    """
    m = measures or {}
    by_name = {i.name: i for i in head}
    chosen = {i.name for i in (head if selected is None else selected)}
    jobs: list[Job] = []
    for t in targets.targets:
        if t.benchmark not in chosen or t.not_run:
            continue
        info = by_name[t.benchmark]
        clock = measures_mod.time_measure(m.get(t.benchmark, "wall")) if info.timed else "value"
        if t.kind in ("overhead", "ratio") and t.reference in by_name:
            jobs.append(Job(PARITY_PREFIX + t.name, Operand("head", t.reference),
                            Operand("head", t.benchmark), info, clock))
        elif t.kind == "absolute" and t.benchmark not in covered:
            covered.add(t.benchmark)
            jobs.append(Job(SINGLE_PREFIX + t.benchmark, Operand("head", t.benchmark), None,
                            info, clock))
    return jobs


def run_check(base: Side, head: Side, design: Design, targets: Targets, *,
              patterns: Sequence[str] = (), progress: Progress = no_progress,
              started: float | None = None, factory: WorkerFactory = spawn,
              ) -> tuple[RunResult, Outcome]:
    """Paired comparison of ``head`` against ``base``, sampled until each benchmark is
    decided or the time budget (counted from ``started``, the command's start) runs out."""
    start = time.monotonic() if started is None else started
    targets = targets.for_suite(design.suite)
    versions: dict[str, dict[str, str]] = {}
    found = discover([base, head], design, versions)
    base, head = with_versions(base, versions), with_versions(head, versions)
    sides = {"base": base, "head": head}
    chosen = sequential.choose_measures(found, sides, design, targets, patterns, select,
                                        factory=factory)
    jobs, new, missing = check_jobs(found["base"], found["head"], targets, patterns,
                                    {n: c.measure for n, c in chosen.items()})
    jobs = [replace(j, measure_why=chosen[j.info.name].why, cost_s=chosen[j.info.name].call_s)
            if j.info.name in chosen else j
            for j in jobs]

    def result_of(samples: Mapping[str, JobSamples]) -> RunResult:
        return _result("check", design, (base, head), samples, start, new, missing)

    result, outcome = sequential.sample_until_decided(
        jobs, sides, design, targets, result_of, start=start, progress=progress,
        factory=factory)
    return result, replace(outcome, header=describe(result))


def run_bench(head: Side, design: Design, targets: Targets, *, patterns: Sequence[str] = (),
              progress: Progress = no_progress) -> tuple[RunResult, Outcome]:
    """Run one side's suite (samples only, plus its parity targets)."""
    start = time.monotonic()
    targets = targets.for_suite(design.suite)
    versions: dict[str, dict[str, str]] = {}
    found = discover([head], design, versions)["head"]
    head = with_versions(head, versions)
    infos = select(found, patterns)
    measures = {i.name: declared_measure(i, design) for i in found}
    jobs = [Job(i.name, Operand("head", i.name), None, _with_gate(i, targets),
                measures[i.name]) for i in infos]
    jobs += parity_jobs(found, targets, {j.key for j in jobs}, infos, measures)
    samples: dict[str, JobSamples] = {}
    run_rounds(jobs, {"head": head}, design, samples, rounds=design.rounds,
               rng=random.Random(design.seed), progress=progress)
    result = _result("bench", design, (head,), samples, start, (), ())
    return result, Outcome((), evaluate_parity(result, targets), header=describe(result))


def declared_measure(info: BenchInfo, design: Design) -> str:
    """What ``bench`` measures a benchmark in: ``--measure`` or the benchmark's declared
    wall or CPU time (no probe: one side has no pairs to protect), else wall time.

    Without this a suite that declares CPU time (the parity suite's absolute rows)
    would be judged in wall time by ``bench`` and in CPU time by ``check``.
    """
    if not info.timed:
        return "value"
    wanted = design.measure if design.measure != "auto" else (info.measure or "wall")
    return wanted if wanted in measures_mod.TIME_MEASURES else "cpu"


def with_versions(side: Side, versions: Mapping[str, Mapping[str, str]]) -> Side:
    """The side with the package versions its interpreter reported."""
    return replace(side, versions=dict(versions.get(side.label, {})))


def describe(result: RunResult) -> tuple[str, ...]:
    """One line per side: label, ref or directory, interpreter and package versions."""
    lines = []
    for side in result.sides:
        where = side.ref or str(side.path)
        if side.commit:
            where += f" ({side.commit[:10]})"
        pkgs = ", ".join(f"{k} {v}" for k, v in sorted(side.versions.items()))
        python = f", python {side.python}" if side.python else ""
        lines.append(f"{side.label}: {where}{python}" + (f"; {pkgs}" if pkgs else ""))
    return tuple(lines)


def _result(kind: str, design: Design, sides: tuple[Side, ...],
            samples: Mapping[str, JobSamples], start: float, new: Sequence[str],
            missing: Sequence[str], clock: Callable[[], float] = time.monotonic) -> RunResult:
    return RunResult(kind=kind, design=design, sides=sides, jobs=tuple(samples.values()),
                     machine=fingerprint(), created=now_iso(),
                     duration_s=clock() - start, new=tuple(new),
                     missing=tuple(missing))
