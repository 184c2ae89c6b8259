"""Smoke test of the parity suite: every benchmark imports and runs one tiny iteration
against the installed kailash-kaizen, in a real worker process (the suite sends real
signals, so it never runs inside the test process)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

from kaizen_perf.regression.protocol import Worker
from kaizen_perf.regression.targets import load_targets

ROOT = Path(__file__).resolve().parents[2]
SUITE = "benchmarks/parity"


def test_every_parity_benchmark_runs_once_on_real_kaizen() -> None:
    """Each benchmark answers one sample: a positive time, or a finite value in its unit;
    value rows the targets bound from below (throughput, concurrency, thread safety)
    come back at or above their budget on a working Kaizen."""
    targets = {t.benchmark: t for t in load_targets(ROOT).for_suite(SUITE).targets}
    with Worker(ROOT, timeout_s=300, python=sys.executable) as worker:
        found = worker.request("load", suite=SUITE, versions=["kailash-kaizen"])
        assert found["versions"]["kailash-kaizen"]
        names = [b["name"] for b in found["benchmarks"]]
        assert {t for t, row in targets.items() if not row.not_run} <= set(names)
        for bench in found["benchmarks"]:
            name, timed = bench["name"], bench["unit"] == "s"
            worker.request("prepare", name=name, loops=1)
            value = float(worker.request("sample", name=name, loops=1)["value"])
            assert math.isfinite(value) and value > 0, (name, value)
            row = targets.get(name)
            if row is not None and row.bound == "min" and not timed:
                assert value >= row.budget, (name, value, row.budget)
