"""Take samples: worker pairs recycled every round, jobs in random order, pairs in random order.

One *round* spawns a fresh worker per side (never forked from a warm parent), runs
every job's warm-up and a few interleaved pairs, then retires the workers, so a
full run sees many independent worker pairs (per-process layout and cache
luck average out instead of biasing one side).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from kaizen_perf.errors import HarnessError
from kaizen_perf.regression.model import BenchInfo, Design, Job, JobSamples, Operand, Pair, Side
from kaizen_perf.regression.protocol import Worker


@dataclass(frozen=True)
class Tick:
    """Progress of one ``run_rounds`` call (a phase): ``done`` of ``total`` job-rounds."""

    phase: int
    what: str
    done: int
    total: int


class Progress(Protocol):
    """Told after each job of each round."""

    def __call__(self, tick: Tick) -> None: ...


def no_progress(tick: Tick) -> None:
    """The default: report nothing."""


WorkerFactory = Callable[[Side, Design], Worker]


def spawn(side: Side, design: Design) -> Worker:
    """The real worker factory: a fresh process with the side's suite loaded."""
    worker = Worker(side.path, hashseed=design.hashseed, timeout_s=design.timeout_s)
    try:
        worker.request("load", suite=design.suite)
    except HarnessError:
        worker.close()
        raise
    return worker


def discover(sides: Sequence[Side], design: Design) -> dict[str, list[BenchInfo]]:
    """The benchmarks each side's suite defines (one short-lived worker per side)."""
    def one(side: Side) -> list[BenchInfo]:
        with Worker(side.path, hashseed=design.hashseed, timeout_s=design.timeout_s) as w:
            reply = w.request("load", suite=design.suite)
        return [BenchInfo(name=b["name"], unit=b["unit"], direction=b["direction"],
                          gate=b["gate"], pairs_per_round=b["pairs_per_round"])
                for b in reply["benchmarks"]]
    with ThreadPoolExecutor(max_workers=len(sides), thread_name_prefix="kaizen-perf-spawn") as ex:
        found = list(ex.map(one, sides))
    return {side.label: infos for side, infos in zip(sides, found, strict=True)}


def run_rounds(jobs: Sequence[Job], sides: Mapping[str, Side], design: Design,
               samples: dict[str, JobSamples], *, rounds: int, first_round: int = 0,
               rng: random.Random, progress: Progress = no_progress,
               factory: WorkerFactory = spawn) -> None:
    """Run ``rounds`` rounds of every job; results accumulate in ``samples``.

    A job whose worker fails is marked with its error and skipped from then on;
    the other jobs continue with freshly spawned workers.
    """
    for job in jobs:
        samples.setdefault(job.key, JobSamples(job))
    labels = sorted({op.side for job in jobs for op in _operands(job)})
    done, total = 0, rounds * len(jobs)
    for r in range(first_round, first_round + rounds):
        order = list(jobs)
        rng.shuffle(order)
        workers = _spawn_all(labels, sides, design, factory)
        try:
            for job in order:
                js = samples[job.key]
                if js.error is None:
                    workers = _job_round(job, js, workers, r, sides, design, rng, factory)
                done += 1
                progress(Tick(first_round, job.key, done, total))
        finally:
            _close_all(workers)


def _job_round(job: Job, js: JobSamples, workers: dict[str, Worker], r: int,
               sides: Mapping[str, Side], design: Design, rng: random.Random,
               factory: WorkerFactory) -> dict[str, Worker]:
    try:
        sample_job(job, js, workers, r, design, rng)
    except HarnessError as exc:
        js.error = str(exc)
        # The failing worker may be dead or poisoned; the rest of the round gets new ones.
        _close_all(workers)
        return _spawn_all(sorted(workers), sides, design, factory)
    return workers


def sample_job(job: Job, js: JobSamples, workers: Mapping[str, Worker], r: int,
               design: Design, rng: random.Random) -> None:
    """Warm up both operands in their workers, then take this round's pairs."""
    _prepare(job, js, workers, rng)
    if not job.info.timed:
        _take_pair(job, js, workers, r, design, rng)
        return
    # One discarded pair first: whichever side warmed up last would otherwise start
    # with hotter caches, a bias of a few % that pair order alone does not cancel.
    _take_pair(job, js, workers, r, design, rng, keep=False)
    for _ in range(job.info.pairs_per_round or design.pairs_per_round):
        _take_pair(job, js, workers, r, design, rng)


def _prepare(job: Job, js: JobSamples, workers: Mapping[str, Worker],
             rng: random.Random) -> None:
    ops = list(_operands(job))
    if js.loops is not None:
        rng.shuffle(ops)  # after the first round, warm-up order is random too
    for op in ops:
        # The first preparation fixes the loop count for the whole run, both sides alike.
        reply = workers[op.side].request("prepare", name=op.bench, loops=js.loops)
        js.loops = int(reply["loops"]) if js.loops is None else js.loops


def _take_pair(job: Job, js: JobSamples, workers: Mapping[str, Worker], r: int,
               design: Design, rng: random.Random, *, keep: bool = True) -> None:
    order = "xy" if rng.random() < 0.5 else "yx"
    values: dict[str, float] = {}
    for which in order:
        op = job.x if which == "x" else job.y
        if op is not None:
            values[which] = _sample(workers[op.side], op, js.loops or 1, design)
    if keep:
        js.pairs.append(Pair(r, order if job.y is not None else "x", values["x"],
                             values.get("y")))


def _sample(worker: Worker, op: Operand, loops: int, design: Design) -> float:
    inject = design.inject if op.side == "head" else 0.0
    return float(worker.request("sample", name=op.bench, loops=loops, inject=inject)["value"])


def _operands(job: Job) -> Iterable[Operand]:
    yield job.x
    if job.y is not None:
        yield job.y


def _spawn_all(labels: Sequence[str], sides: Mapping[str, Side], design: Design,
               factory: WorkerFactory) -> dict[str, Worker]:
    # Both sides start at once: on two cores this halves the spawn cost of a round.
    with ThreadPoolExecutor(max_workers=max(1, len(labels)),
                            thread_name_prefix="kaizen-perf-spawn") as ex:
        futures = {label: ex.submit(factory, sides[label], design) for label in labels}
    workers: dict[str, Worker] = {}
    errors = []
    for label, fut in futures.items():
        try:
            workers[label] = fut.result()
        except HarnessError as exc:
            errors.append(exc)
    if errors:
        _close_all(workers)
        raise errors[0]
    return workers


def _close_all(workers: Mapping[str, Worker]) -> None:
    for worker in workers.values():
        worker.close()
