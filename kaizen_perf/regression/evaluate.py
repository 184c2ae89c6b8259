"""Turn raw samples into rows: verdicts per benchmark and statuses per parity target."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kaizen_perf.cli import exitcodes
from kaizen_perf.regression.model import JobSamples
from kaizen_perf.regression.pytest_import import match_name
from kaizen_perf.regression.results import RunResult
from kaizen_perf.regression.stats import (
    Estimate,
    mad_noise,
    mean_change,
    paired_estimate,
    range_estimate,
    unpaired_estimate,
)
from kaizen_perf.regression.targets import Target, Targets
from kaizen_perf.regression.verdicts import (
    BoundCheck,
    Parity,
    Verdict,
    absolute_check,
    effective_gate,
    judge,
    overhead_check,
    ratio_check,
)

PARITY_PREFIX = "parity:"
#: The same overhead/ratio row measured on the baseline in ``check`` (its same-run reference).
BASE_SUFFIX = " @baseline"
SINGLE_PREFIX = "single:"


@dataclass(frozen=True)
class Row:
    """One benchmark's comparison."""

    name: str
    unit: str
    verdict: Verdict
    gate: float
    estimate: Estimate | None = None
    noise: float = math.nan
    pytest_mean_change: float = math.nan  # pytest-benchmark's `mean` rule input, same data
    note: str = ""
    measure: str = ""  # what the samples measured: wall, cpu, instructions or value
    measure_why: str = ""  # why that measure was used


@dataclass(frozen=True)
class ParityRow:
    """One parity target's status.

    ``base`` is the same absolute target judged on the baseline's samples of the
    same run (``check`` only). An absolute VIOLATES fails the gate only when the
    baseline clearly MEETS it in that run: a violation the baseline shares is a
    known one, and a machine-dependent number near its budget cannot flip the
    gate between identical runs.
    """

    target: Target
    status: Parity
    check: BoundCheck | None = None
    note: str = ""
    base: BoundCheck | None = None

    @property
    def gating(self) -> bool:
        """True when this row fails the run (exit 1)."""
        if self.status is not Parity.VIOLATES:
            return False
        if self.base is not None:
            return self.base.status is Parity.MEETS
        return True


@dataclass(frozen=True)
class Outcome:
    """Everything a report shows, and the exit code it implies."""

    rows: tuple[Row, ...]
    parity: tuple[ParityRow, ...]
    low_confidence: bool = False
    header: tuple[str, ...] = ()  # what was compared (interpreters, package versions)
    stopped: str = ""  # why sampling stopped with something undecided ("" when all decided)

    @property
    def undecided(self) -> tuple[str, ...]:
        """Benchmarks and targets left INCONCLUSIVE / UNDETERMINED (the loud warning's list)."""
        return tuple([r.name for r in self.rows if r.verdict is Verdict.INCONCLUSIVE]
                     + [p.target.name for p in self.parity
                        if p.status is Parity.UNDETERMINED])

    def summary(self) -> str:
        """One overall verdict: what a reviewer reads first."""
        code = self.exit_code()
        if code == exitcodes.RUNTIME:
            return "ERROR: the harness failed; nothing was judged a regression"
        if code == exitcodes.CHECK_FAILED:
            bad = [r.name for r in self.rows if r.verdict is Verdict.REGRESSION]
            bad += [p.target.name for p in self.parity if p.gating]
            return f"FAIL: {len(bad)} regression{'s' if len(bad) != 1 else ''} ({', '.join(bad)})"
        if self.undecided:
            return (f"UNDECIDED: {len(self.undecided)} not decided ("
                    f"{', '.join(self.undecided)}); no regression found, none ruled out")
        return "PASS: every benchmark decided, no regression"

    def exit_code(self, *, strict: bool = False) -> int:
        """3 on harness errors (never a regression), 1 on regression or violation, 4 on
        inconclusive with ``strict``, else 0."""
        verdicts = {r.verdict for r in self.rows}
        statuses = {p.status for p in self.parity}
        if Verdict.ERROR in verdicts or Parity.ERROR in statuses:
            return exitcodes.RUNTIME
        if Verdict.REGRESSION in verdicts or any(p.gating for p in self.parity):
            return exitcodes.CHECK_FAILED
        if strict and (Verdict.INCONCLUSIVE in verdicts or Parity.UNDETERMINED in statuses):
            return exitcodes.INCONCLUSIVE
        return exitcodes.OK


def compare_row(js: JobSamples, targets: Targets, alpha: float = 0.05) -> Row:
    """The verdict of a paired baseline/candidate job (``alpha``: this look's error rate)."""
    info, measure = js.job.info, js.job.measure
    gate = targets.gate_for(info.name, info.gate)
    if js.error is not None:
        return Row(info.name, info.unit, Verdict.ERROR, gate, note=_first_line(js.error),
                   measure=measure)
    x = [p.x for p in js.pairs if p.y is not None]
    y = [p.y for p in js.pairs if p.y is not None]
    if not x:
        # No error, no pairs: sampling stopped (time budget) before its first round.
        return Row(info.name, info.unit, Verdict.INCONCLUSIVE, gate,
                   note="no samples taken", measure=measure)
    if measure == "instructions":
        est = range_estimate(x, y)
    else:
        est = paired_estimate(x, y, alpha,
                              clusters=[p.round for p in js.pairs if p.y is not None])
    gate = effective_gate(gate, info.unit, float(np.median(x)))
    return Row(info.name, info.unit, judge(est, gate, info.direction), gate, est,
               mad_noise(x, y), mean_change(x, y), measure=measure,
               measure_why=js.job.measure_why)


def evaluate_check(result: RunResult, targets: Targets, alpha: float | None = None) -> Outcome:
    """Rows for a paired ``check`` run plus its parity targets.

    ``alpha`` is the error rate of the look being judged; by default the run's
    design's per-look rate, so a stored run is re-judged as it was sampled.
    """
    alpha = result.design.look_alpha if alpha is None else alpha
    rows = [compare_row(js, targets, alpha) for js in result.jobs
            if not js.job.key.startswith((PARITY_PREFIX, SINGLE_PREFIX))]
    rows += [Row(n, "s", Verdict.NEW, targets.gate, note="only in the candidate")
             for n in result.new]
    return Outcome(tuple(rows), evaluate_parity(result, targets))


def evaluate_against(stored: RunResult, fresh: RunResult, targets: Targets) -> Outcome:
    """Rows for an unpaired comparison of a fresh run with a stored one (low confidence)."""
    base, head = stored.values("head"), fresh.values("head")
    rows = []
    for name, y in sorted(head.items()):
        info = fresh.info(name)
        assert info is not None
        gate = targets.gate_for(name, info.gate)
        js = next(j for j in fresh.jobs if j.job.x.bench == name)
        match = match_name(set(base), name)
        if js.error is not None:
            rows.append(Row(name, info.unit, Verdict.ERROR, gate, note=_first_line(js.error)))
        elif match is None:
            rows.append(Row(name, info.unit, Verdict.NEW, gate, note="not in the stored run"))
        elif (was := _measure_of(stored, match)) != js.job.measure:
            # Wall seconds against CPU seconds would read as a speed-up on any busy machine.
            rows.append(Row(name, info.unit, Verdict.INCONCLUSIVE, gate, measure=js.job.measure,
                            note=f"not compared: the stored run measured {was}, this run "
                                 f"{js.job.measure} (pass --measure {was})"))
        else:
            est = unpaired_estimate(base[match], y)
            gate = effective_gate(gate, info.unit, float(np.median(base[match])))
            rows.append(Row(name, info.unit, judge(est, gate, info.direction), gate, est,
                            note=f"unpaired vs {match}",
                            pytest_mean_change=mean_change(base[match], y),
                            measure=js.job.measure))
    return Outcome(tuple(rows), evaluate_parity(fresh, targets), low_confidence=True)


def _measure_of(result: RunResult, bench: str) -> str:
    """The measure of the (single-side) job that sampled ``bench`` in a stored run."""
    return next((js.job.measure for js in result.jobs if js.job.x.bench == bench
                 and js.job.measure != "instructions"), "wall")


def evaluate_parity(result: RunResult, targets: Targets) -> tuple[ParityRow, ...]:
    """The status of every parity target of the run's suite from the candidate's samples."""
    head, base = result.values("head"), result.values("base")
    out = []
    for target in targets.for_suite(result.design.suite).targets:
        if target.not_run:
            out.append(ParityRow(target, Parity.NOT_RUN, note=target.not_run))
        elif target.kind in ("overhead", "ratio"):
            out.append(_paired_target(result, target))
        elif (error := _error_of(result, target.benchmark)) is not None:
            out.append(ParityRow(target, Parity.ERROR, note=_first_line(error)))
        elif target.benchmark not in head:
            out.append(ParityRow(target, Parity.NOT_RUN,
                                 note=f"{target.benchmark} not in the suite (or not selected)"))
        else:
            margin = targets.margin_for(target)
            check = absolute_check(head[target.benchmark], target.budget, target.quantile,
                                   bound=target.bound, margin=margin)
            ref = (absolute_check(base[target.benchmark], target.budget, target.quantile,
                                  bound=target.bound, margin=margin)
                   if base.get(target.benchmark) else None)
            note = ""
            if check.status is Parity.VIOLATES and ref is not None \
                    and ref.status is not Parity.MEETS:
                note = _not_gating(ref)
            out.append(ParityRow(target, check.status, check, note, ref))
    return tuple(out)


def _paired_target(result: RunResult, target: Target) -> ParityRow:
    js = result.job(PARITY_PREFIX + target.name)
    if js is None:
        return ParityRow(target, Parity.NOT_RUN,
                         note=f"{target.benchmark} or {target.reference} not in the suite "
                         "(or not selected)")
    if js.error is not None:
        return ParityRow(target, Parity.ERROR, note=_first_line(js.error))
    if not js.pairs:  # sampling stopped (time budget) before its first round
        return ParityRow(target, Parity.UNDETERMINED, note="no samples taken")
    check = _paired_check(js, target)
    ref_job = result.job(PARITY_PREFIX + target.name + BASE_SUFFIX)
    ref = _paired_check(ref_job, target) if ref_job is not None and ref_job.pairs \
        and ref_job.error is None else None
    note = ""
    if check.status is Parity.VIOLATES and ref is not None and ref.status is not Parity.MEETS:
        note = _not_gating(ref)
    return ParityRow(target, check.status, check, note, ref)


def _paired_check(js: JobSamples, target: Target) -> BoundCheck:
    x = [p.x for p in js.pairs if p.y is not None]
    y = [p.y for p in js.pairs if p.y is not None]
    rounds = [p.round for p in js.pairs if p.y is not None]
    est = paired_estimate(x, y, clusters=rounds)
    return ratio_check(est, target.budget) if target.kind == "ratio" \
        else overhead_check(est, target.budget)


def _not_gating(ref: BoundCheck) -> str:
    """Why a violation does not fail the run: the baseline of the same run shares it, or
    does not clearly meet the budget either (so it is not shown to be new)."""
    if ref.status is Parity.VIOLATES:
        return "baseline VIOLATES too: known, not gating"
    return f"baseline {ref.status.value}: not shown to be new, not gating"


def _error_of(result: RunResult, bench: str) -> str | None:
    """The error of the job that runs ``bench`` on the candidate, if it failed."""
    for js in result.jobs:
        ops = [js.job.x, *([js.job.y] if js.job.y else [])]
        if js.error and any(op.side == "head" and op.bench == bench for op in ops):
            return js.error
    return None


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""
