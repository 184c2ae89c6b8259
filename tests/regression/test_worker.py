"""The worker protocol against real spawned worker processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaizen_perf.errors import HarnessError
from kaizen_perf.regression.protocol import Worker
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
        assert loops > 1 and value > 0
        assert 0.005 < value * loops < 1.0  # one sample lasts tens of ms, not µs or seconds


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
    w = Worker(project, timeout_s=1.0)
    w.request("load", suite="benchmarks")
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
