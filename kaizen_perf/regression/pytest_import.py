"""Import pytest-benchmark JSON (``--benchmark-json`` / ``--benchmark-autosave``) as a baseline.

Raw per-round times are used when the file has them (``--benchmark-save-data``);
otherwise only the summary survives and the comparison says so.

This module reads pytest-benchmark's format into the engine's model types only;
``results.load`` recognises the format and wraps what it returns into a
``RunResult``, so the dependency runs one way (results -> pytest_import).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kaizen_perf.errors import BaselineError
from kaizen_perf.regression.model import BenchInfo, Job, JobSamples, Operand, Pair


@dataclass(frozen=True)
class PytestBenchmarkRun:
    """What a pytest-benchmark file holds: one side ("head") of samples per benchmark."""

    jobs: tuple[JobSamples, ...]
    machine: dict[str, Any]
    commit: str | None
    created: str


def read_pytest_benchmark(data: Mapping[str, Any], source: str) -> PytestBenchmarkRun:
    """Each pytest-benchmark benchmark's samples, as jobs of the single side "head"."""
    jobs = []
    for bench in data.get("benchmarks", []):
        name, stats = bench.get("name"), bench.get("stats")
        if not isinstance(name, str) or not isinstance(stats, Mapping):
            msg = f"{source}: a benchmark entry has no name or stats; is it pytest-benchmark JSON?"
            raise BaselineError(msg)
        values = stats.get("data") or [stats[k] for k in ("min", "median", "max") if k in stats]
        info = BenchInfo(name=name)
        job = Job(key=name, x=Operand("head", name), y=None, info=info)
        note = None if stats.get("data") else "summary only (no --benchmark-save-data)"
        pairs = [Pair(0, "x", float(v), None) for v in values]
        jobs.append(JobSamples(job, loops=None, pairs=pairs, error=None if pairs else note))
    return PytestBenchmarkRun(jobs=tuple(jobs), machine=dict(data.get("machine_info", {})),
                              commit=data.get("commit_info", {}).get("id"),
                              created=str(data.get("datetime", "")))


def match_name(stored: set[str], name: str) -> str | None:
    """The stored benchmark matching ``name``: exact, then by function, then test_/bench_."""
    if name in stored:
        return name
    func = name.rsplit(".", 1)[-1]
    candidates = {func, func.replace("bench_", "test_", 1)}
    for s in sorted(stored):
        short = s.rsplit(".", 1)[-1].split("[", 1)[0]
        if short in candidates:
            return s
    return None
