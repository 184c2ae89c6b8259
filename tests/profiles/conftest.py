"""Fixtures for the profiling tests: real Python children to sample."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kaizen_perf.collectors.pyspy import find_pyspy
from tests.helpers import need

WORKLOAD = str(Path(__file__).with_name("workload.py"))

Start = Callable[..., "subprocess.Popen[str]"]


@pytest.fixture
def pyspy() -> str:
    """The py-spy binary (skip locally, fail in CI when it is missing)."""
    path = find_pyspy()
    need(path is not None, "py-spy not installed (pip install py-spy)")
    assert path is not None
    return path


@pytest.fixture
def start_workload() -> Iterator[Start]:
    """Start ``workload.py MODE SECONDS`` children; all are killed at the end of the test."""
    procs: list[subprocess.Popen[str]] = []

    def start(mode: str, seconds: float) -> subprocess.Popen[str]:
        proc = subprocess.Popen([sys.executable, WORKLOAD, mode, str(seconds)],
                                stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
