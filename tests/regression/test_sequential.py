"""Sequential sampling: rounds until decided, looks with a split error rate, a time budget,
measures chosen per benchmark, and loud warnings for what stays undecided."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from kaizen_perf.errors import ConfigError
from kaizen_perf.regression import measures, runner, sequential
from kaizen_perf.regression.evaluate import Outcome, Row, compare_row
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


class CountingWorker:
    """Scripted callgrind worker: each count is 1e6 × (1 + effect on head), plus, on the
    listed samples of each side, extra work (a garbage collection) that only adds."""

    def __init__(self, side: Side, effect: float, extra_at: set[int],
                 barrier: threading.Barrier | None) -> None:
        self.side, self.effect, self.extra_at, self.barrier = side, effect, extra_at, barrier
        self.samples = 0

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        if op == "prepare":
            return {"ok": True, "loops": 3}
        if self.barrier is not None:
            self.barrier.wait(timeout=30)  # both sides must be counting at the same time
        self.samples += 1
        factor = 1 + self.effect if self.side.label == "head" else 1.0
        extra = 1.2 if self.samples in self.extra_at else 1.0
        return {"ok": True, "value": 1e6 * factor * extra}

    def close(self) -> None:
        """Nothing to release."""


def count(effect: float, extra_at: frozenset[int] = frozenset(), *, lanes: int = 1,
          barrier: threading.Barrier | None = None, jobs: int = 1,
          ) -> tuple[list[Row], dict[str, JobSamples], list[CountingWorker]]:
    made: list[CountingWorker] = []

    def make(side: Side, design: Design, *, callgrind: bool = False) -> CountingWorker:
        assert callgrind, "instruction counts need callgrind workers"
        made.append(CountingWorker(side, effect, set(extra_at), barrier))
        return made[-1]

    todo = [Job(f"b.bench_{i}", Operand("base", f"b.bench_{i}"),
                Operand("head", f"b.bench_{i}"), BenchInfo(f"b.bench_{i}"), "instructions")
            for i in range(jobs)]
    samples: dict[str, JobSamples] = {}
    scripted: Any = make  # stands in for runner.spawn
    runner.run_counted(todo, SIDES, Design(), samples, rng=random.Random(0), factory=scripted,
                       decided=sequential.count_decided(Targets(), Design().look_alpha),
                       lanes=lanes)
    rows = [compare_row(samples[j.key], Targets()) for j in todo]
    return rows, samples, made


@pytest.mark.parametrize(("effect", "verdict"), [(0.0, Verdict.PASS),
                                                 (0.05, Verdict.REGRESSION)])
def test_repeating_counts_are_decided_after_two_pairs(effect: float, verdict: Verdict) -> None:
    """Counts that repeat give A/A a PASS and +5 % a REGRESSION after the first two pairs."""
    rows, samples, _ = count(effect)
    assert rows[0].verdict is verdict
    assert len(samples["b.bench_0"].pairs) == runner.COUNT_FIRST_LOOK == 2


def test_counts_that_do_not_repeat_get_more_pairs_before_a_verdict() -> None:
    """Extra work in one early count leaves two pairs undecided; more pairs (at most
    instruction_pairs) are taken, and the steady counts then decide."""
    rows, samples, _ = count(0.0, extra_at=frozenset({1}))
    pairs = samples["b.bench_0"].pairs
    assert 2 < len(pairs) <= Design().instruction_pairs
    assert rows[0].verdict is Verdict.PASS
    undecided = JobSamples(samples["b.bench_0"].job, pairs=pairs[:2])
    assert compare_row(undecided, Targets()).verdict is Verdict.INCONCLUSIVE


def test_both_sides_are_counted_at_the_same_time() -> None:
    """Each count of the baseline runs while the candidate's is running (a barrier of two)."""
    rows, samples, _ = count(0.0, barrier=threading.Barrier(2))
    assert rows[0].verdict is Verdict.PASS and len(samples["b.bench_0"].pairs) == 2


def test_lanes_share_the_jobs_and_each_job_is_counted_once() -> None:
    """Two lanes (worker pairs) split six jobs between them: every job gets its pairs once."""
    rows, samples, made = count(0.05, lanes=2, jobs=6)
    assert [r.verdict for r in rows] == [Verdict.REGRESSION] * 6
    assert len(made) == 4  # one worker per side per lane, not one per job
    assert sum(w.samples for w in made) == 6 * 2 * 2
    assert all(len(js.pairs) == 2 for js in samples.values())


@pytest.mark.parametrize(("probe", "measure"), [
    (hints(cpu_call_s=0.024), "instructions"),  # a 24 ms sort: ~4 s a count, still cheaper
    (hints(system_share=0.37), "instructions"),  # allocation page faults, not syscalls
])
def test_allocation_heavy_and_longer_cpu_bound_benchmarks_are_counted(
        probe: dict[str, float], measure: str) -> None:
    """Page faults of allocation-heavy code and tens of ms per call still mean counting."""
    assert measures.choose(BenchInfo("b.x"), probe).measure == measure


def test_the_shortest_benchmarks_are_counted_first() -> None:
    """Counted jobs start in order of the probe's CPU per call, shortest first."""
    todo = [Job(f"b.bench_{i}", Operand("base", f"b.bench_{i}"),
                Operand("head", f"b.bench_{i}"), BenchInfo(f"b.bench_{i}"), "instructions",
                cost_s=cost) for i, cost in enumerate((0.001, 0.024, 0.0, 0.012))]
    started: list[str] = []

    def make(side: Side, design: Design, *, callgrind: bool = False) -> CountingWorker:
        return CountingWorker(side, 0.0, set(), None)

    scripted: Any = make
    runner.run_counted(todo, SIDES, Design(), {}, rng=random.Random(3), factory=scripted,
                       lanes=1, progress=lambda tick: started.append(tick.what))
    assert started == ["b.bench_2", "b.bench_0", "b.bench_3", "b.bench_1"]
    assert measures.choose(BenchInfo("b.x"), hints(cpu_call_s=0.024)).call_s == 0.024


def test_a_count_predicted_to_end_past_the_deadline_is_not_started() -> None:
    """After a job shows the pace of counting, a job 1000x longer that cannot end before the
    deadline is left unsampled (INCONCLUSIVE, no samples) while a cheap one still runs."""
    todo = [Job(f"b.bench_{i}", Operand("base", f"b.bench_{i}"),
                Operand("head", f"b.bench_{i}"), BenchInfo(f"b.bench_{i}"), "instructions",
                cost_s=cost) for i, cost in enumerate((1e-6, 2e-6, 1.0))]
    def make(side: Side, design: Design, *, callgrind: bool = False) -> CountingWorker:
        return CountingWorker(side, 0.0, set(), None)

    scripted: Any = make
    samples: dict[str, JobSamples] = {}
    runner.run_counted(todo, SIDES, Design(), samples, rng=random.Random(0), factory=scripted,
                       lanes=1, deadline=time.monotonic() + 60.0)
    assert [len(samples[j.key].pairs) for j in todo] == [5, 5, 0]


def test_counts_left_out_by_the_budget_say_so() -> None:
    """A counted benchmark the budget leaves unstarted is INCONCLUSIVE, with the reason."""
    design = replace(Design(), budget_s=5.0)  # its counting deadline is already past
    job = Job("b.bench_c", Operand("base", "b.bench_c"), Operand("head", "b.bench_c"),
              BenchInfo("b.bench_c"), "instructions", cost_s=0.01)

    def make(side: Side, design: Design, *, callgrind: bool = False) -> CountingWorker:
        return CountingWorker(side, 0.0, set(), None)

    def result_of(samples: Mapping[str, JobSamples]) -> RunResult:
        return RunResult("check", design, tuple(SIDES.values()), tuple(samples.values()), {},
                         "", 0.0)

    scripted: Any = make
    _, outcome = sequential.sample_until_decided([job], SIDES, design, Targets(), result_of,
                                                 start=time.monotonic(), factory=scripted)
    row = outcome.rows[0]
    assert row.verdict is Verdict.INCONCLUSIVE and outcome.undecided == ("b.bench_c",)
    assert "did not fit in the time budget (5 s)" in row.note
