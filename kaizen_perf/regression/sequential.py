"""Sample until decided: measures chosen once, then rounds until every verdict is in.

Instruction-count jobs are counted by callgrind worker pairs on a thread of their
own, both sides at once, two pairs first and more only while undecided (counts
repeat, so a few pairs decide). Timed jobs meanwhile get rounds of recycled worker
pairs; verdicts are looked at on the schedule of :meth:`Design.looks`, each
look at ``alpha / len(looks)`` (so all looks together keep the false-alarm
rate ≤ alpha), and only undecided jobs get more rounds. Sampling stops when
everything is decided, at the last look, or before a round that would not fit
in the time budget; the report says which, per undecided benchmark.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from kaizen_perf.errors import ConfigError, HarnessError
from kaizen_perf.regression import measures as measures_mod
from kaizen_perf.regression.evaluate import (
    BASE_SUFFIX,
    PARITY_PREFIX,
    SINGLE_PREFIX,
    Outcome,
    compare_row,
    evaluate_check,
)
from kaizen_perf.regression.model import BenchInfo, Design, Job, JobSamples, Side
from kaizen_perf.regression.protocol import valgrind
from kaizen_perf.regression.results import RunResult
from kaizen_perf.regression.runner import (
    Progress,
    WorkerFactory,
    no_progress,
    probe,
    run_counted,
    run_rounds,
    spawn,
)
from kaizen_perf.regression.targets import Targets
from kaizen_perf.regression.verdicts import Parity, Verdict

SPAWN_S = 2.0  # a round's worker start-up, guessed into the cost of the next round
FIRST_ROUND_S = 1.0  # per job, before a round of it was measured
MDE_WARN = 3.0  # warn when the smallest detectable change is this many times the gate
PROBE_WORKERS = 2  # workers probing a side's benchmarks at once
COUNT_MARGIN_S = 10.0  # no new instruction-count job this close to the end of the budget

Select = Callable[[Sequence[BenchInfo], Sequence[str]], list[BenchInfo]]


def choose_measures(found: Mapping[str, Sequence[BenchInfo]], sides: Mapping[str, Side],
                    design: Design, targets: Targets, patterns: Sequence[str],
                    select: Select, *, factory: WorkerFactory = spawn,
                    callgrind: bool | None = None) -> dict[str, measures_mod.Choice]:
    """The measure of every selected benchmark and every parity reference.

    Benchmarks that neither declare a measure nor are forced by ``--measure`` are
    probed once, on the baseline when it has them (else on the candidate).
    """
    can_count = valgrind() is not None if callgrind is None else callgrind
    measures_mod.check_forced(design.measure, can_count)
    head = {i.name: i for i in found["head"]}
    wanted = {i.name for i in select(found["head"], patterns)}
    wanted |= {t.reference for t in targets.targets
               if t.benchmark in wanted and t.reference in head}
    in_base = {i.name for i in found.get("base", ())}
    auto = [n for n in sorted(wanted) if head[n].timed and design.measure == "auto"
            and head[n].measure in (None, "auto")]
    hints: dict[str, dict[str, object]] = {}
    for label in ("base", "head"):
        names = [n for n in auto if (n in in_base) == (label == "base")]
        if names and label in sides:
            # Two probe workers at once: on a busy machine the probe's CPU (>= 0.15 s a
            # benchmark) is tens of seconds of wall time in one process.
            halves = [names[i::PROBE_WORKERS] for i in range(PROBE_WORKERS) if names[i:]]
            with ThreadPoolExecutor(max_workers=len(halves),
                                    thread_name_prefix="kaizen-perf-probe") as ex:
                side = sides[label]
                for found_hints in ex.map(probe, [side] * len(halves),
                                          [design] * len(halves), halves,
                                          [factory] * len(halves)):
                    hints |= found_hints
    return {n: measures_mod.choose(head[n], hints.get(n), forced=design.measure,
                                   callgrind=can_count) for n in sorted(wanted)}


def sample_until_decided(jobs: Sequence[Job], sides: Mapping[str, Side], design: Design,
                         targets: Targets, result_of: Callable[[Mapping[str, JobSamples]],
                                                               RunResult], *,
                         start: float, progress: Progress = no_progress,
                         factory: WorkerFactory = spawn,
                         clock: Callable[[], float] = time.monotonic,
                         ) -> tuple[RunResult, Outcome]:
    """Sample ``jobs`` until decided, the last look or the budget; the final outcome."""
    rng = random.Random(design.seed)
    samples = {job.key: JobSamples(job) for job in jobs}  # every key now: no resizing later
    counted = [j for j in jobs if j.measure == "instructions"]
    # Counts are immune to load, so they are taken alongside the timed rounds (valgrind's
    # start-up alone can take half a minute on a busy machine), within the same budget.
    counting = threading.Thread(
        target=_count, name="kaizen-perf-count",
        args=(counted, sides, design, samples),
        kwargs={"rng": random.Random(design.seed + 1), "progress": progress,
                "factory": factory, "decided": count_decided(targets, design.look_alpha),
                "deadline": start + design.budget_s - COUNT_MARGIN_S if design.budget_s > 0
                else None}, daemon=True)
    if counted:
        counting.start()
    pending = [j for j in jobs if j.measure != "instructions"]
    done, stop, overhead = 0, "", SPAWN_S

    def now() -> tuple[RunResult, Outcome]:
        result = result_of(samples)
        return result, evaluate_check(result, targets, alpha=design.look_alpha)

    looks = design.looks()
    for look in looks:
        while done < look and pending:
            if design.budget_s > 0 and \
                    clock() - start + round_cost(pending, samples, overhead) > design.budget_s:
                stop = (f"the time budget ({design.budget_s:.0f} s) ran out after {done} "
                        f"round{'' if done == 1 else 's'}")
                break
            before = time.monotonic()
            spent = sum(samples[j.key].spent_s for j in pending)
            run_rounds(pending, sides, design, samples, rounds=1, first_round=done, rng=rng,
                       progress=progress, factory=factory)
            # What the round cost beyond its jobs (spawning, closing): measured, not guessed.
            overhead = max(0.0, time.monotonic() - before
                           - (sum(samples[j.key].spent_s for j in pending) - spent))
            done += 1
        result, outcome = now()
        pending = unclear(pending, outcome)
        if stop or not pending:
            break
    else:
        stop = f"the last look ({looks[-1]} rounds) was reached"
    if counted:
        counting.join()
        if any(not samples[j.key].pairs and samples[j.key].error is None for j in counted):
            # Either the deadline passed or the pace so far said the count would end
            # past it (then the check may end well inside the budget): say both.
            stop = stop or (f"counting every benchmark did not fit in the time budget "
                            f"({design.budget_s:.0f} s): a count predicted to end past it "
                            "is not started")
    result, outcome = now()
    return result, explain(outcome, stop)


def _count(jobs: Sequence[Job], sides: Mapping[str, Side], design: Design,
           samples: dict[str, JobSamples], **kwargs: Any) -> None:
    """run_counted on its thread: a worker that cannot start is every count job's error."""
    try:
        run_counted(jobs, sides, design, samples, **kwargs)
    except HarnessError as exc:
        for job in jobs:
            samples[job.key].error = samples[job.key].error or str(exc)


def count_decided(targets: Targets, alpha: float) -> Callable[[JobSamples], bool]:
    """Whether a counted benchmark's pairs so far give it a verdict (PASS, REGRESSION,
    IMPROVEMENT): then it needs no more pairs. Parity operands take every pair."""
    def decided(js: JobSamples) -> bool:
        if js.job.key.startswith((PARITY_PREFIX, SINGLE_PREFIX)) or js.job.y is None:
            return False
        return compare_row(js, targets, alpha).verdict is not Verdict.INCONCLUSIVE
    return decided


def round_cost(jobs: Sequence[Job], samples: Mapping[str, JobSamples],
               overhead: float = SPAWN_S) -> float:
    """The predicted wall time of one more round of ``jobs`` (as measured so far)."""
    cost = overhead
    for job in jobs:
        js = samples.get(job.key)
        cost += js.spent_s / js.rounds if js is not None and js.rounds else FIRST_ROUND_S
    return cost


def unclear(jobs: Sequence[Job], outcome: Outcome) -> list[Job]:
    """The jobs whose verdict (or parity status) is still open."""
    names = {r.name for r in outcome.rows if r.verdict is Verdict.INCONCLUSIVE}
    for p in outcome.parity:
        if p.status is Parity.UNDETERMINED:
            names |= {PARITY_PREFIX + p.target.name, SINGLE_PREFIX + p.target.benchmark,
                      p.target.benchmark}
        if p.status is Parity.VIOLATES and p.base is not None \
                and p.base.status is Parity.UNDETERMINED:
            names.add(PARITY_PREFIX + p.target.name + BASE_SUFFIX)  # is it known or new?
    return [j for j in jobs if j.key in names and j.measure != "instructions"]


def explain(outcome: Outcome, stop: str) -> Outcome:
    """Say why each undecided row stayed undecided, and warn when the MDE dwarfs the gate."""
    rows = []
    for row in outcome.rows:
        why = [row.note] if row.note else []
        est = row.estimate
        if row.verdict is Verdict.INCONCLUSIVE:
            why.append(f"undecided: {stop or 'sampling stopped'}")
            if est is not None and not math.isfinite(est.mde):
                why.append("too few worker pairs for a bounded interval")
        if est is not None and row.verdict in (Verdict.INCONCLUSIVE, Verdict.PASS) \
                and math.isfinite(est.mde) and est.mde > MDE_WARN * row.gate:
            why.append(f"could only detect changes of {est.mde:.0%} or more "
                       f"({est.mde / row.gate:.0f}× the {row.gate:.0%} gate)")
        rows.append(replace(row, note="; ".join(why)))
    parity = tuple(
        replace(p, note="; ".join(n for n in (p.note, f"undetermined: {stop}") if n))
        if p.status is Parity.UNDETERMINED and stop else p for p in outcome.parity)
    return replace(outcome, rows=tuple(rows), parity=parity, stopped=stop)


def parse_duration(value: str) -> float:
    """``180``, ``180s``, ``3m`` or ``0`` (no budget) → seconds."""
    raw = value.strip().lower()
    scale = 60.0 if raw.endswith("m") else 1.0
    try:
        seconds = float(raw.rstrip("ms")) * scale
    except ValueError as exc:
        msg = f"--budget {value!r} is not a duration; write 180, 180s or 3m (0: no budget)."
        raise ConfigError(msg) from exc
    if seconds < 0 or not math.isfinite(seconds):
        msg = f"--budget {value!r} must be a positive duration (0: no budget)."
        raise ConfigError(msg)
    return seconds


def process_age(clock: Callable[[], float] = time.time,
                cmdline: Sequence[str] | None = None) -> float:
    """Seconds since this process started, when it is the ``kaizen-perf`` command itself
    (interpreter start-up and imports included); 0 inside another program (a test run,
    an embedding), whose age says nothing about this command."""
    try:
        import psutil

        proc = psutil.Process()
        head = " ".join((proc.cmdline() if cmdline is None else cmdline)[:3])
        if "kaizen-perf" not in head and "kaizen_perf" not in head:
            return 0.0
        return max(0.0, clock() - proc.create_time())
    except (ImportError, OSError):
        return 0.0


def undecided_warnings(outcome: Outcome, env: Mapping[str, str]) -> list[str]:
    """Loud lines for stderr when something stayed undecided (exit 0 without --strict).

    Under GitHub Actions each line is also a ``::warning`` annotation, so an
    undecided check shows on the pull request instead of passing unnoticed.
    """
    if not outcome.undecided or outcome.exit_code() != 0:
        return []  # a failing or crashed run already says so through its exit code
    lines = [f"WARNING: {outcome.summary()}.",
             f"WARNING: sampling stopped because {outcome.stopped or 'it was told to'}; "
             "a green exit here is NOT evidence of no regression.",
             "WARNING: give it more time (--budget), use a steadier measure (--measure cpu or "
             "instructions), or fail on this with --strict (exit 4)."]
    if env.get("GITHUB_ACTIONS") == "true":
        lines.insert(0, f"::warning title=kaizen-perf check undecided::{outcome.summary()}")
    return lines


def with_options(design: Design, *, budget: str | None = None, measure: str = "auto",
                 max_rounds: int | None = None) -> Design:
    """The design with ``check``'s sequential options applied."""
    changes: dict[str, object] = {"measure": measure}
    if budget is not None:
        changes["budget_s"] = parse_duration(budget)
    if max_rounds is not None:
        changes["max_rounds"] = max_rounds
    return replace(design, **changes)  # type: ignore[arg-type]
