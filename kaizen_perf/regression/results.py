"""The versioned results file: design, sides, machine fingerprint and every raw sample.

Verdicts are not trusted from the file: reports recompute them from the raw
pairs, so a stored run can be re-read with other gates or targets.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import socket
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kaizen_perf._version import __version__
from kaizen_perf.errors import BaselineError
from kaizen_perf.regression.model import BenchInfo, Design, Job, JobSamples, Operand, Pair, Side
from kaizen_perf.regression.pytest_import import read_pytest_benchmark

FORMAT = "kaizen-perf-results"
VERSION = 1


@dataclass(frozen=True)
class RunResult:
    """One run of the engine (``bench``, ``check`` or a calibration pool)."""

    kind: str
    design: Design
    sides: tuple[Side, ...]
    jobs: tuple[JobSamples, ...]
    machine: Mapping[str, Any]
    created: str
    duration_s: float
    new: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    source: str | None = None  # where it was read from; None for a fresh run

    def job(self, key: str) -> JobSamples | None:
        """The samples of one job, by key."""
        return next((j for j in self.jobs if j.job.key == key), None)

    def values(self, side: str) -> dict[str, list[float]]:
        """Every sample taken on ``side``, by benchmark name (for unpaired comparisons and
        absolute budgets: times and values, never instruction counts)."""
        out: dict[str, list[float]] = {}
        for js in self.jobs:
            if js.job.measure == "instructions":
                continue
            for pair in js.pairs:
                for op, value in ((js.job.x, pair.x), (js.job.y, pair.y)):
                    if op is not None and value is not None and op.side == side:
                        out.setdefault(op.bench, []).append(value)
        return out

    def info(self, bench: str) -> BenchInfo | None:
        """The metadata of a benchmark, from the first job that runs it."""
        return next((js.job.info for js in self.jobs if bench in _benches(js.job)), None)


def _benches(job: Job) -> set[str]:
    return {job.x.bench} | ({job.y.bench} if job.y else set())


def fingerprint() -> dict[str, Any]:
    """What the numbers depend on: host, CPU, OS, Python (and the load when they were taken)."""
    cpu = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            names = (ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name"))
            cpu = next(names, "")
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {"hostname": socket.gethostname(), "platform": platform.platform(),
            "machine": platform.machine(), "cpu_model": cpu, "cpu_count": os.cpu_count(),
            "python": sys.version.split()[0], "implementation": platform.python_implementation(),
            "loadavg": list(load)}


def now_iso() -> str:
    """The current UTC time, ISO 8601."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def to_dict(result: RunResult) -> dict[str, Any]:
    """The JSON document of a run."""
    return {
        "format": FORMAT, "version": VERSION, "kind": result.kind, "created": result.created,
        "tool_version": __version__, "duration_s": round(result.duration_s, 3),
        "machine": dict(result.machine), "design": dataclasses.asdict(result.design),
        "sides": [{"label": s.label, "path": str(s.path), "ref": s.ref, "commit": s.commit,
                   "python": s.python, "versions": dict(s.versions)}
                  for s in result.sides],
        "new": list(result.new), "missing": list(result.missing),
        "jobs": [_job_dict(js) for js in result.jobs],
    }


def _job_dict(js: JobSamples) -> dict[str, Any]:
    job = js.job
    return {"key": job.key, "x": dataclasses.asdict(job.x),
            "y": dataclasses.asdict(job.y) if job.y else None,
            "info": dataclasses.asdict(job.info), "measure": job.measure,
            "measure_why": job.measure_why,
            "loops": js.loops, "error": js.error,
            "pairs": [[p.round, p.order, p.x, p.y] for p in js.pairs]}


def save(result: RunResult, path: Path) -> None:
    """Write the results file (atomically: a crash never leaves half a baseline)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(to_dict(result), indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def load(path: Path) -> RunResult:
    """Read a results file, or a pytest-benchmark JSON file (imported as a single side)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        msg = f"Results file {str(path)!r} does not exist. Run `kaizen-perf bench --out` first."
        raise BaselineError(msg) from exc
    except (OSError, ValueError) as exc:
        msg = f"Results file {str(path)!r} is not readable JSON: {exc}."
        raise BaselineError(msg) from exc
    if isinstance(data, dict) and "benchmarks" in data and "format" not in data:
        return from_pytest_benchmark(data, str(path))
    return from_dict(data, str(path))


def from_pytest_benchmark(data: Mapping[str, Any], source: str) -> RunResult:
    """A single-side run ("head") holding each pytest-benchmark benchmark's samples."""
    run = read_pytest_benchmark(data, source)
    return RunResult(kind="pytest-benchmark", design=Design(rounds=1),
                     sides=(Side("head", Path("."), None, run.commit),), jobs=run.jobs,
                     machine=run.machine, created=run.created, duration_s=0.0, source=source)


def from_dict(data: Any, source: str) -> RunResult:
    """Parse a results document (version checked)."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        msg = f"{source} is not a kaizen-perf results file (no \"format\": \"{FORMAT}\")."
        raise BaselineError(msg)
    if data.get("version") != VERSION:
        msg = (f"{source} has results format version {data.get('version')!r}; this "
               f"kaizen-perf reads version {VERSION}. Re-create it with `kaizen-perf bench`.")
        raise BaselineError(msg)
    try:
        return RunResult(
            kind=data["kind"], design=_design(data["design"]),
            sides=tuple(Side(s["label"], Path(s["path"]), s.get("ref"), s.get("commit"),
                             s.get("python"), dict(s.get("versions") or {}))
                        for s in data["sides"]),
            jobs=tuple(_job(j) for j in data["jobs"]), machine=data.get("machine", {}),
            created=data.get("created", ""), duration_s=float(data.get("duration_s", 0)),
            new=tuple(data.get("new", ())), missing=tuple(data.get("missing", ())),
            source=source)
    except (KeyError, TypeError, ValueError) as exc:
        msg = f"Results file {source} is malformed ({type(exc).__name__}: {exc})."
        raise BaselineError(msg) from exc


def _design(raw: Mapping[str, Any]) -> Design:
    # Files from before sequential sampling carry "topup_rounds"; unknown keys are dropped.
    known = {f.name for f in dataclasses.fields(Design)}
    return Design(**{k: v for k, v in raw.items() if k in known})


def _job(raw: Mapping[str, Any]) -> JobSamples:
    job = Job(key=raw["key"], x=Operand(**raw["x"]),
              y=Operand(**raw["y"]) if raw.get("y") else None, info=BenchInfo(**raw["info"]),
              measure=str(raw.get("measure") or "wall"),
              measure_why=str(raw.get("measure_why") or ""))
    pairs = [Pair(int(p[0]), str(p[1]), float(p[2]), None if p[3] is None else float(p[3]))
             for p in raw["pairs"]]
    return JobSamples(job, raw.get("loops"), pairs, raw.get("error"))
