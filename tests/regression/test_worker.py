"""The worker protocol against real spawned worker processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaizen_perf.errors import HarnessError
from kaizen_perf.regression import measures
from kaizen_perf.regression.model import BenchInfo
from kaizen_perf.regression.protocol import Worker
from tests.helpers import need_binary
from tests.regression.tinyproject import make_project

EXTRA = '''
import os
import time


def bench_boom():
    return 1 / 0


def bench_chatty():
    print("hello from a benchmark")


def bench_hang():
    time.sleep(30)


def bench_die():
    os._exit(7)


CALLS = [0]


def bench_count():
    CALLS[0] += 1


def bench_calls():
    return CALLS[0]


bench_calls.__kaizen_bench__ = {"unit": "count"}


def bench_nap():
    time.sleep(0.02)
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "p", n=5_000, extra=EXTRA)


def test_worker_discovers_calibrates_and_samples(project: Path) -> None:
    """A worker lists bench_* functions and times samples of about 20-50 ms."""
    with Worker(project, timeout_s=60) as w:
        names = [b["name"] for b in w.request("load", suite="benchmarks")["benchmarks"]]
        assert "bench_tiny.bench_work" in names and "bench_tiny.bench_size" in names
        loops = w.request("prepare", name="bench_tiny.bench_work", loops=None)["loops"]
        value = w.request("sample", name="bench_tiny.bench_work", loops=loops)["value"]
        # (how long a sample lasts depends on the machine's load; that it is a time does not)
        assert loops >= 1 and value > 0


def test_value_benchmarks_use_the_return_value_of_the_side(tmp_path: Path) -> None:
    """Each worker imports the code of its own side (its directory is first on PYTHONPATH)."""
    sizes = []
    for i, size in enumerate((111, 222)):
        with Worker(make_project(tmp_path / str(i), size=size)) as w:
            w.request("load", suite="benchmarks")
            w.request("prepare", name="bench_tiny.bench_size", loops=None)
            sizes.append(w.request("sample", name="bench_tiny.bench_size", loops=1,
                                   inject=0.5)["value"])
    assert sizes == [111 * 1.5, 222 * 1.5]


def test_a_crashing_benchmark_is_a_harness_error_naming_the_exception(project: Path) -> None:
    """An exception in a benchmark comes back as HarnessError; the worker stays usable."""
    with Worker(project) as w:
        w.request("load", suite="benchmarks")
        with pytest.raises(HarnessError, match="ZeroDivisionError"):
            w.request("prepare", name="bench_tiny.bench_boom", loops=None)
        assert w.request("prepare", name="bench_tiny.bench_chatty", loops=1)["loops"] == 1


def test_prints_in_benchmarks_do_not_break_the_protocol(project: Path) -> None:
    """Benchmark output goes to stderr, so the JSON channel stays clean."""
    with Worker(project) as w:
        w.request("load", suite="benchmarks")
        assert w.request("sample", name="bench_tiny.bench_chatty", loops=3)["value"] > 0


def test_a_hanging_benchmark_times_out(project: Path) -> None:
    """A benchmark that never returns is a HarnessError after the timeout, not a hung CI job."""
    w = Worker(project, timeout_s=60.0)
    w.request("load", suite="benchmarks")  # start-up may be slow on a busy machine
    w.timeout_s = 1.0
    with pytest.raises(HarnessError, match="did not answer"):
        w.request("sample", name="bench_tiny.bench_hang", loops=1)
    w.close()


def test_a_dying_worker_reports_its_exit_code(project: Path) -> None:
    """A worker that exits mid-request is a HarnessError with its exit code."""
    with Worker(project) as w:
        w.request("load", suite="benchmarks")
        with pytest.raises(HarnessError, match="exited with code 7"):
            w.request("sample", name="bench_tiny.bench_die", loops=1)


def test_a_missing_suite_is_a_harness_error(tmp_path: Path) -> None:
    """A side without the suite directory fails with the directory named."""
    with Worker(tmp_path) as w, pytest.raises(HarnessError, match="benchmarks"):
        w.request("load", suite="benchmarks")


def test_an_injected_slowdown_is_extra_calls_of_the_benchmark(project: Path) -> None:
    """inject=0.5 makes 50 % more real calls per sample (fractions carry over), never a wait."""
    with Worker(project) as w:
        w.request("load", suite="benchmarks")
        w.request("prepare", name="bench_tiny.bench_count", loops=10)

        def calls() -> float:
            return float(w.request("sample", name="bench_tiny.bench_calls", loops=1)["value"])

        before = calls()
        w.request("sample", name="bench_tiny.bench_count", loops=10, inject=0.5)
        assert calls() - before == 15
        before = calls()
        for _ in range(4):  # 10 × 0.05 = 0.5 extra calls per sample: one every second sample
            w.request("sample", name="bench_tiny.bench_count", loops=10, inject=0.05)
        assert calls() - before == 42


def test_cpu_time_ignores_waiting_and_the_probe_sees_it(project: Path) -> None:
    """A sleeping benchmark costs 20 ms of wall time but almost no CPU; its probe says it waits."""
    with Worker(project) as w:
        w.request("load", suite="benchmarks")
        hints = w.request("probe", name="bench_tiny.bench_nap")["hints"]
        wall = w.request("sample", name="bench_tiny.bench_nap", loops=2, measure="wall")["value"]
        cpu = w.request("sample", name="bench_tiny.bench_nap", loops=2, measure="cpu")["value"]
        busy = w.request("probe", name="bench_tiny.bench_work")["hints"]
    assert wall >= 0.02 and cpu < wall / 5
    assert measures.choose(BenchInfo("n"), hints).measure == "wall", hints
    assert measures.choose(BenchInfo("w"), busy, callgrind=False).measure == "cpu"


def test_a_probe_spends_enough_cpu_for_a_kernel_share_that_repeats(project: Path) -> None:
    """A sub-millisecond benchmark's probe still runs >= PROBE_CPU_S of CPU: the kernel share
    comes from 4 ms accounting ticks, and ten ticks made it swing enough to flip measures."""
    import psutil

    from kaizen_perf.regression.worker import PROBE_CPU_S

    with Worker(project) as w:
        w.request("load", suite="benchmarks")
        proc = psutil.Process(w._proc.pid)
        before = sum(proc.cpu_times()[:2])
        hints = w.request("probe", name="bench_tiny.bench_work")["hints"]
        spent = sum(proc.cpu_times()[:2]) - before
    assert hints["cpu_call_s"] < PROBE_CPU_S / 20
    assert spent >= PROBE_CPU_S * 0.9


MORE = """
def bench_more():
    acc = 0
    for i in range(7_000):
        acc += i * i
"""


@pytest.mark.e2e
def test_instruction_counts_repeat_and_scale_with_the_work(tmp_path: Path) -> None:
    """Under callgrind a benchmark's count repeats within 0.5 % and 40 % more work counts 40 %."""
    need_binary("valgrind", "valgrind")
    counts = {}
    with Worker(make_project(tmp_path / "p", n=5_000, extra=MORE), callgrind=True,
                timeout_s=300) as w:
        w.request("load", suite="benchmarks", callgrind_out=w.callgrind_out)
        for name in ("bench_tiny.bench_work", "bench_tiny.bench_more"):
            loops = w.request("prepare", name=name, loops=1, measure="instructions")["loops"]
            counts[name] = [w.request("sample", name=name, loops=loops,
                                      measure="instructions")["value"] for _ in range(3)]
    work, more = counts["bench_tiny.bench_work"], counts["bench_tiny.bench_more"]
    assert max(work) / min(work) < 1.005
    assert min(more) / min(work) == pytest.approx(1.4, abs=0.03)


def test_counting_without_callgrind_is_a_harness_error(project: Path) -> None:
    """Asking a native worker for instruction counts fails with the reason, not a number."""
    with Worker(project) as w:
        w.request("load", suite="benchmarks")
        with pytest.raises(HarnessError, match="callgrind"):
            w.request("sample", name="bench_tiny.bench_work", loops=1, measure="instructions")


@pytest.mark.e2e
def test_real_counts_decide_in_two_pairs_with_both_sides_counted_at_once(
        tmp_path: Path) -> None:
    """Real callgrind workers, both sides counting at once: identical code is PASS and
    40 % more work is REGRESSION after the first two pairs."""
    need_binary("valgrind", "valgrind")
    import random

    from kaizen_perf.regression import runner, sequential
    from kaizen_perf.regression.evaluate import compare_row
    from kaizen_perf.regression.model import Design, Job, JobSamples, Operand, Side
    from kaizen_perf.regression.targets import Targets
    from kaizen_perf.regression.verdicts import Verdict

    base = make_project(tmp_path / "base", n=5_000)
    sides = {"base": Side("base", base), "head": Side("head", make_project(tmp_path / "head",
                                                                            n=7_000)),
             "same": Side("same", make_project(tmp_path / "same", n=5_000))}
    design = Design(timeout_s=300)
    jobs = [Job(f"{label}.work", Operand("base", "bench_tiny.bench_work"),
                Operand(label, "bench_tiny.bench_work"), BenchInfo("bench_tiny.bench_work"),
                "instructions") for label in ("head", "same")]
    samples: dict[str, JobSamples] = {}
    runner.run_counted(jobs, sides, design, samples, rng=random.Random(0),
                       decided=sequential.count_decided(Targets(), design.look_alpha),
                       lanes=1)
    verdicts = {key: compare_row(js, Targets()).verdict for key, js in samples.items()}
    assert verdicts == {"head.work": Verdict.REGRESSION, "same.work": Verdict.PASS}
    assert [len(samples[j.key].pairs) for j in jobs] == [2, 2]
