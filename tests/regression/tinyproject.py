"""Tiny real projects for end-to-end tests: a library module and a ``benchmarks/`` suite."""

from __future__ import annotations

import textwrap
from pathlib import Path

LIB = '''
N = {n}
SIZE = {size}


def work() -> int:
    acc = 0
    for i in range(N):
        acc += i * i
    return acc
'''

SUITE = '''
import tinylib


def bench_work():
    tinylib.work()


def bench_size():
    return tinylib.SIZE


bench_size.__kaizen_bench__ = {{"unit": "bytes"}}
{extra}
'''


def make_project(root: Path, *, n: int = 20_000, size: int = 1_000_000,
                 extra: str = "") -> Path:
    """A project directory whose ``bench_work`` costs about ``n`` loop iterations."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "tinylib.py").write_text(LIB.format(n=n, size=size))
    (root / "benchmarks").mkdir(exist_ok=True)
    (root / "benchmarks" / "bench_tiny.py").write_text(
        SUITE.format(extra=textwrap.dedent(extra)))
    return root
