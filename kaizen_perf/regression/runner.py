"""Take samples: worker pairs recycled every round, jobs in random order, pairs in random order.

One *round* spawns a fresh worker per side (never forked from a warm parent), runs
every job's warm-up and a few interleaved pairs, then retires the workers, so a
full run sees many independent worker pairs (per-process layout and cache
luck average out instead of biasing one side).
"""

from __future__ import annotations

import random
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

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


class WorkerFactory(Protocol):
    """Makes a worker with the side's suite loaded (natively, or under callgrind)."""

    def __call__(self, side: Side, design: Design, *, callgrind: bool = False) -> Worker: ...


def spawn(side: Side, design: Design, *, callgrind: bool = False) -> Worker:
    """The real worker factory: a fresh process with the side's suite loaded."""
    worker = Worker(side.path, hashseed=design.hashseed, timeout_s=design.timeout_s,
                    python=side.python or sys.executable, callgrind=callgrind)
    try:
        worker.request("load", suite=design.suite, callgrind_out=worker.callgrind_out)
    except HarnessError:
        worker.close()
        raise
    return worker


#: Distributions whose installed versions each side's interpreter reports.
DISTRIBUTIONS = ("kailash-kaizen", "kailash", "claude-agent-sdk", "kaizen-perf")


def discover(sides: Sequence[Side], design: Design,
             versions: dict[str, dict[str, str]] | None = None) -> dict[str, list[BenchInfo]]:
    """The benchmarks each side's suite defines (one short-lived worker per side);
    ``versions`` receives the package versions each side's interpreter sees."""
    def one(side: Side) -> list[BenchInfo]:
        with Worker(side.path, hashseed=design.hashseed, timeout_s=design.timeout_s,
                    python=side.python or sys.executable) as w:
            reply = w.request("load", suite=design.suite, versions=list(DISTRIBUTIONS))
        if versions is not None:
            versions[side.label] = {str(k): str(v)
                                    for k, v in dict(reply.get("versions") or {}).items()}
        return [BenchInfo(name=b["name"], unit=b["unit"], direction=b["direction"],
                          gate=b["gate"], pairs_per_round=b["pairs_per_round"],
                          measure=b.get("measure"))
                for b in reply["benchmarks"]]
    with ThreadPoolExecutor(max_workers=len(sides), thread_name_prefix="kaizen-perf-spawn") as ex:
        found = list(ex.map(one, sides))
    return {side.label: infos for side, infos in zip(sides, found, strict=True)}


def probe(side: Side, design: Design, names: Sequence[str],
          factory: WorkerFactory = spawn) -> dict[str, dict[str, Any]]:
    """How each benchmark spends its time on ``side`` (one worker), to choose measures.

    A benchmark that fails here gets no hints; its error shows when it is sampled.
    """
    if not names:
        return {}
    out: dict[str, dict[str, Any]] = {}
    worker = factory(side, design)
    try:
        for name in names:
            try:
                out[name] = dict(worker.request("probe", name=name)["hints"])
            except HarnessError:
                worker.close()
                worker = factory(side, design)
    finally:
        worker.close()
    return out


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
                    started = time.monotonic()
                    workers = _job_round(job, js, workers, r, sides, design, rng, factory)
                    js.spent_s += time.monotonic() - started
                    js.rounds += 1
                done += 1
                progress(Tick(first_round, job.key, done, total))
        finally:
            _close_all(workers)


#: Pairs of counts taken before the first look; more (up to ``Design.instruction_pairs``)
#: only for a benchmark still undecided then. Two, not one: a single pair cannot show
#: whether the counts repeat.
COUNT_FIRST_LOOK = 2
#: Worker pairs counting at once (each takes the next benchmark from a shared queue).
#: Counts do not move with load, so parallel workers cost no precision, only memory.
COUNT_LANES = 3


#: Whether a counted job's pairs so far already decide its verdict.
Decided = Callable[[JobSamples], bool]


def never_decided(js: JobSamples) -> bool:
    """The default: every counted job takes all ``instruction_pairs`` pairs."""
    return False


def run_counted(jobs: Sequence[Job], sides: Mapping[str, Side], design: Design,
                samples: dict[str, JobSamples], *, rng: random.Random,
                progress: Progress = no_progress, factory: WorkerFactory = spawn,
                deadline: float | None = None, decided: Decided = never_decided,
                lanes: int = COUNT_LANES) -> None:
    """Instruction counts: ``lanes`` callgrind worker pairs take the jobs from one queue.

    Counts repeat almost exactly whatever else runs, so nothing needs the
    timing discipline of ``run_rounds``: both sides of a pair are counted at the
    same time (on two cores that halves the wall time), one worker pair serves
    many jobs (valgrind's start-up is paid once per lane), and a job gets
    ``COUNT_FIRST_LOOK`` pairs, then more only while ``decided`` says no, up to
    ``design.instruction_pairs``.
    """
    if not jobs:
        return
    for job in jobs:
        samples.setdefault(job.key, JobSamples(job))
    order = list(jobs)
    rng.shuffle(order)
    # Shortest first (CPU per call as the probe saw it; ties stay in random order), and a
    # job is started only if it is predicted to end before the deadline: on a busy
    # machine the budget then decides as many benchmarks as fit, and a 250-million-
    # instruction benchmark that cannot finish is left undecided instead of overrunning.
    order.sort(key=lambda job: job.cost_s)
    queue = iter(enumerate(order, 1))
    lock = threading.Lock()
    # Wall seconds of counting per CPU second of native run time, from every lane's jobs
    # but its first: a fresh valgrind translates the interpreter's code then (seconds on a
    # busy machine), which made a 2 ms benchmark look 30 times slower per call than it is.
    pace: list[float] = []

    def fits(job: Job) -> bool:
        if deadline is None:
            return True
        with lock:
            typical = statistics.median(pace) if pace else 0.0
        return time.monotonic() + typical * job.cost_s <= deadline

    def lane() -> None:
        labels = sorted({op.side for job in jobs for op in _operands(job)})
        workers = _spawn_all(labels, sides, design, factory, callgrind=True)
        fresh = True  # the workers have not translated the interpreter's code yet
        try:
            while True:
                with lock:
                    done, job = next(queue, (0, None))
                if job is None or (deadline is not None and time.monotonic() > deadline):
                    return  # out of budget: the rest stay unsampled (INCONCLUSIVE, with why)
                if not fits(job):
                    continue  # would end past the deadline: unsampled, and the row says why
                js = samples[job.key]
                started, was_fresh, fresh = time.monotonic(), fresh, False
                try:
                    _count_job(job, js, workers, design, decided, deadline)
                except HarnessError as exc:
                    js.error = str(exc)
                    _close_all(workers)  # dead or poisoned: the next job gets new ones
                    workers = _spawn_all(labels, sides, design, factory, callgrind=True)
                    fresh = True
                js.spent_s += time.monotonic() - started
                js.rounds += 1
                if job.cost_s > 0 and not was_fresh and js.error is None:
                    with lock:
                        pace.append(js.spent_s / job.cost_s)
                progress(Tick(-1, job.key, done, len(order)))
        finally:
            _close_all(workers)

    n = max(1, min(lanes, len(order)))
    with ThreadPoolExecutor(max_workers=n, thread_name_prefix="kaizen-perf-count") as ex:
        for fut in [ex.submit(lane) for _ in range(n)]:
            fut.result()  # a lane that cannot start its workers raises HarnessError here


def _count_job(job: Job, js: JobSamples, workers: Mapping[str, Worker], design: Design,
               decided: Decided, deadline: float | None) -> None:
    """Prepare both operands at once, then count pairs (both sides at once) until decided."""
    ops = list(_operands(job))
    # Both sides make the same calls (one plain, one counted) whatever the loop count; the
    # first operand's reply fixes the loop count, which every sample then passes explicitly.
    replies = _both(workers, [(op, {"op": "prepare", "name": op.bench, "loops": js.loops,
                                    "measure": job.measure}) for op in ops])
    js.loops = js.loops if js.loops is not None else int(replies[0]["loops"])
    while len(js.pairs) < max(COUNT_FIRST_LOOK, design.instruction_pairs):
        if len(js.pairs) >= COUNT_FIRST_LOOK and (
                decided(js) or (deadline is not None and time.monotonic() > deadline)):
            return
        values = _both(workers, [(op, {"op": "sample", "name": op.bench, "loops": js.loops,
                                       "inject": design.inject if op.side == "head" else 0.0,
                                       "measure": job.measure}) for op in ops])
        # Counted at the same time, so no order; "xy" keeps the stored format.
        js.pairs.append(Pair(0, "xy" if job.y is not None else "x",
                             float(values[0]["value"]),
                             float(values[1]["value"]) if job.y is not None else None))


def _both(workers: Mapping[str, Worker],
          requests: Sequence[tuple[Operand, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Send each request to its operand's worker at the same time; the replies in order.

    Two operands on one side (a parity pair inside one suite) share a worker, so
    they go one after the other.
    """
    def ask(op: Operand, req: dict[str, Any]) -> dict[str, Any]:
        fields = {k: v for k, v in req.items() if k != "op"}
        return workers[op.side].request(str(req["op"]), **fields)

    if len({op.side for op, _ in requests}) < len(requests):
        return [ask(op, req) for op, req in requests]
    with ThreadPoolExecutor(max_workers=len(requests),
                            thread_name_prefix="kaizen-perf-count") as ex:
        futures = [ex.submit(ask, op, req) for op, req in requests]
    return [f.result() for f in futures]


def _job_round(job: Job, js: JobSamples, workers: dict[str, Worker], r: int,
               sides: Mapping[str, Side], design: Design, rng: random.Random,
               factory: WorkerFactory, *, callgrind: bool = False) -> dict[str, Worker]:
    try:
        sample_job(job, js, workers, r, design, rng)
    except HarnessError as exc:
        js.error = str(exc)
        # The failing worker may be dead or poisoned; the rest of the round gets new ones.
        _close_all(workers)
        return _spawn_all(sorted(workers), sides, design, factory, callgrind=callgrind)
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
    # (Counts have no caches to warm, and both sides already made the same calls.)
    if job.measure != "instructions":
        _take_pair(job, js, workers, r, design, rng, keep=False)
    pairs = design.pairs_per_round if job.measure == "instructions" else (
        job.info.pairs_per_round or design.pairs_per_round)
    for _ in range(pairs):
        _take_pair(job, js, workers, r, design, rng)


def _prepare(job: Job, js: JobSamples, workers: Mapping[str, Worker],
             rng: random.Random) -> None:
    ops = list(_operands(job))
    if js.loops is not None:
        rng.shuffle(ops)  # after the first round, warm-up order is random too
    for op in ops:
        # The first preparation fixes the loop count for the whole run, both sides alike.
        reply = workers[op.side].request("prepare", name=op.bench, loops=js.loops,
                                         measure=job.measure)
        js.loops = int(reply["loops"]) if js.loops is None else js.loops


def _take_pair(job: Job, js: JobSamples, workers: Mapping[str, Worker], r: int,
               design: Design, rng: random.Random, *, keep: bool = True) -> None:
    order = "xy" if rng.random() < 0.5 else "yx"
    values: dict[str, float] = {}
    for which in order:
        op = job.x if which == "x" else job.y
        if op is not None:
            values[which] = _sample(workers[op.side], op, js.loops or 1, design, job.measure)
    if keep:
        js.pairs.append(Pair(r, order if job.y is not None else "x", values["x"],
                             values.get("y")))


def _sample(worker: Worker, op: Operand, loops: int, design: Design, measure: str) -> float:
    inject = design.inject if op.side == "head" else 0.0
    reply = worker.request("sample", name=op.bench, loops=loops, inject=inject, measure=measure)
    return float(reply["value"])


def _operands(job: Job) -> Iterable[Operand]:
    yield job.x
    if job.y is not None:
        yield job.y


def _spawn_all(labels: Sequence[str], sides: Mapping[str, Side], design: Design,
               factory: WorkerFactory, *, callgrind: bool = False) -> dict[str, Worker]:
    # Both sides start at once: on two cores this halves the spawn cost of a round.
    with ThreadPoolExecutor(max_workers=max(1, len(labels)),
                            thread_name_prefix="kaizen-perf-spawn") as ex:
        futures = {label: ex.submit(factory, sides[label], design, callgrind=callgrind)
                   for label in labels}
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
