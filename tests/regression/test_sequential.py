"""Sequential sampling: rounds until decided, looks with a split error rate, a time budget,
measures chosen per benchmark, and loud warnings for what stays undecided."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from kaizen_perf.errors import ConfigError
from kaizen_perf.regression import measures, sequential
from kaizen_perf.regression.evaluate import Outcome, Row
from kaizen_perf.regression.model import BenchInfo, Design, Job, JobSamples, Operand, Side
from kaizen_perf.regression.results import RunResult
from kaizen_perf.regression.targets import Targets
from kaizen_perf.regression.verdicts import Verdict

SIDES = {"base": Side("base", Path("b")), "head": Side("head", Path("h"))}


class FakeWorker:
    """Scripted worker: samples are 1 ms × (1 + effect on head) × lognormal noise."""

    def __init__(self, side: Side, effect: float, noise: float, rng: random.Random) -> None:
        self.side, self.effect, self.noise, self.rng = side, effect, noise, rng

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        if op == "prepare":
            return {"ok": True, "loops": 10}
        factor = 1 + self.effect if self.side.label == "head" else 1.0
        return {"ok": True, "value": 1e-3 * factor * self.rng.lognormvariate(0, self.noise)}

    def close(self) -> None:
        """Nothing to release."""


def factory(effect: float, noise: float, seed: int = 0) -> Any:
    rng = random.Random(seed)

    def make(side: Side, design: Design, *, callgrind: bool = False) -> FakeWorker:
        return FakeWorker(side, effect, noise, rng)
    return make


class Clock:
    """A fake clock that advances a fixed step every time it is read."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def run(effect: float, noise: float, design: Design, clock: Clock | None = None,
        ) -> tuple[Outcome, Mapping[str, JobSamples]]:
    job = Job("b.bench_x", Operand("base", "b.bench_x"), Operand("head", "b.bench_x"),
              BenchInfo("b.bench_x"), "cpu")
    seen: dict[str, Mapping[str, JobSamples]] = {}

    def result_of(samples: Mapping[str, JobSamples]) -> RunResult:
        seen["samples"] = samples
        return RunResult("check", design, tuple(SIDES.values()), tuple(samples.values()), {},
                         "", 0.0)

    clock = clock or Clock(0.0)
    _, outcome = sequential.sample_until_decided(
        [job], SIDES, design, Targets(), result_of, start=clock(), factory=factory(effect, noise),
        clock=clock)
    return outcome, seen["samples"]


def test_looks_are_spaced_and_share_the_error_rate() -> None:
    """Verdicts are looked at 8, 12, 18, 27, 40 rounds, each at alpha / 5."""
    assert Design().looks() == (8, 12, 18, 27, 40)
    assert Design().look_alpha == pytest.approx(0.01)
    assert Design(rounds=6, max_rounds=6).looks() == (6,)


def test_a_clear_slowdown_is_decided_at_the_first_look() -> None:
    """A 10 % slowdown with 1 % noise is a REGRESSION after 8 rounds; no more are run."""
    outcome, samples = run(0.10, 0.01, Design())
    assert outcome.rows[0].verdict is Verdict.REGRESSION and not outcome.stopped
    assert {p.round for p in samples["b.bench_x"].pairs} == set(range(8))


def test_noise_gets_more_rounds_until_decided() -> None:
    """An A/A run with 5 % noise is not decided at 8 rounds but is PASS by a later look."""
    outcome, samples = run(0.0, 0.05, Design())
    rounds = {p.round for p in samples["b.bench_x"].pairs}
    assert outcome.rows[0].verdict is Verdict.PASS
    assert len(rounds) in Design().looks()[1:]


def test_the_budget_stops_sampling_and_the_row_says_why() -> None:
    """With rounds costing more than the budget allows, the row is INCONCLUSIVE and says so."""
    design = replace(Design(), budget_s=60.0)
    outcome, samples = run(0.0, 0.2, design, Clock(step=10.0))
    row = outcome.rows[0]
    assert row.verdict is Verdict.INCONCLUSIVE
    assert "time budget (60 s) ran out after" in row.note and outcome.stopped
    assert outcome.undecided == ("b.bench_x",)
    assert len({p.round for p in samples["b.bench_x"].pairs}) < 8


def test_the_last_look_ends_sampling_of_an_undecidable_benchmark() -> None:
    """Huge noise and no budget: sampling ends at max_rounds, and the note says so."""
    design = replace(Design(), rounds=8, max_rounds=8, budget_s=0.0)
    outcome, _ = run(0.0, 0.5, design)
    assert outcome.rows[0].verdict is Verdict.INCONCLUSIVE
    assert "last look (8 rounds)" in outcome.rows[0].note
    assert "could only detect changes of" in outcome.rows[0].note  # MDE ≫ gate warning


def hints(**kw: float) -> dict[str, float]:
    base = {"call_s": 1e-3, "cpu_call_s": 1e-3, "switches_per_cpu_ms": 0.0, "thread_share": 1.0,
            "system_share": 0.0}
    return base | kw


@pytest.mark.parametrize(("probe", "measure"), [
    (hints(), "instructions"),                                # CPU-bound micro-benchmark
    (hints(switches_per_cpu_ms=5.0), "wall"),                 # sleeps or fsyncs: waiting
    (hints(switches_per_cpu_ms=0.02), "instructions"),        # a GIL hand-off now and then
    (hints(cpu_call_s=0.2), "cpu"),                           # too long to count
    (hints(thread_share=0.5), "cpu"),                         # work on other threads
    (hints(system_share=0.9), "cpu"),                         # kernel work callgrind misses
    (None, "cpu"),                                            # the probe failed
])
def test_the_engine_chooses_a_measure_from_the_probe(probe: dict[str, float] | None,
                                                     measure: str) -> None:
    """Waiting code is timed on the wall clock, CPU-bound micro code counted, the rest CPU."""
    assert measures.choose(BenchInfo("b.x"), probe).measure == measure


def test_declared_and_forced_measures_win_over_the_probe() -> None:
    """A declaration beats the probe, --measure beats both, and a missing valgrind degrades."""
    declared = BenchInfo("b.x", measure="wall")
    assert measures.choose(declared, hints()).measure == "wall"
    assert measures.choose(declared, hints(), forced="cpu").measure == "cpu"
    counted = BenchInfo("b.x", measure="instructions")
    assert measures.choose(counted, None, callgrind=False).measure == "cpu"
    assert measures.choose(BenchInfo("b.m", unit="bytes"), None).measure == "value"
    with pytest.raises(ConfigError, match="valgrind"):
        measures.check_forced("instructions", callgrind=False)


def test_undecided_checks_warn_loudly_and_annotate_on_github() -> None:
    """Exit 0 on an undecided run comes with warnings; under GitHub Actions an annotation."""
    undecided = Outcome((Row("b.x", "s", Verdict.INCONCLUSIVE, 0.03),), (),
                        stopped="the time budget (150 s) ran out after 9 rounds")
    lines = sequential.undecided_warnings(undecided, {"GITHUB_ACTIONS": "true"})
    assert lines[0].startswith("::warning title=kaizen-perf check undecided::UNDECIDED")
    assert any("NOT evidence of no regression" in ln for ln in lines)
    assert undecided.exit_code() == 0 and undecided.exit_code(strict=True) == 4
    decided = Outcome((Row("b.x", "s", Verdict.PASS, 0.03),), ())
    assert sequential.undecided_warnings(decided, {"GITHUB_ACTIONS": "true"}) == []
    assert decided.summary().startswith("PASS")


@pytest.mark.parametrize(("text", "seconds"), [("180", 180.0), ("90s", 90.0), ("3m", 180.0),
                                               ("0", 0.0)])
def test_budgets_parse_as_durations(text: str, seconds: float) -> None:
    """--budget takes seconds or minutes; 0 means no budget."""
    assert sequential.parse_duration(text) == seconds


def test_a_bad_budget_is_a_usage_error() -> None:
    """A budget that is not a duration names the accepted forms."""
    with pytest.raises(ConfigError, match="3m"):
        sequential.parse_duration("soon")


def test_start_up_counts_only_when_this_process_is_the_command() -> None:
    """The check's clock starts at process start for `kaizen-perf`, at the call inside pytest."""
    assert sequential.process_age(cmdline=["python", "-m", "pytest", "tests"]) == 0.0
    age = sequential.process_age(cmdline=["python", "/venv/bin/kaizen-perf", "check"])
    assert age > 0.0
