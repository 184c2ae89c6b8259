"""Everything a report shows, read from a run directory into one frozen value."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kaizen_perf.errors import ConfigError
from kaizen_perf.profiles.folded import top_functions
from kaizen_perf.report.flame import Node, build_tree, load_profile
from kaizen_perf.runner.rundir import load_run

MAX_POINTS = 600  #: points per time series after downsampling (a 30-hour run stays small)


@dataclass(frozen=True)
class Series:
    """One time series: seconds since start and values."""

    name: str
    unit: str
    t: list[float]
    v: list[float]


@dataclass(frozen=True)
class ReportData:
    """A run, ready to render."""

    path: Path
    run: dict[str, Any]
    hooks: dict[str, Any]
    series: dict[str, list[Series]]  # per agent
    flames: dict[str, Node]  # profile name → tree ("cpu", "wall")
    top: list[tuple[str, int]]  #: the first kind's hottest functions
    alerts: list[dict[str, Any]] = field(default_factory=list)
    #: profiles/profile.json: samples, kaizen-perf's own samples (left out unless included)
    profile_meta: dict[str, Any] = field(default_factory=dict)
    #: hottest functions per kind of profile ("cpu", "wall"), first kind first
    tops: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


#: what the report calls each kind of profile
KIND_NAMES = {"cpu": "on-CPU", "wall": "wall-clock (waits included)"}


def load(path: str | Path) -> ReportData:
    """Read a run directory; a ConfigError says what is missing."""
    root = Path(path)
    if not (root / "run.json").exists():
        msg = (f"{str(root)!r} is not a run directory (no run.json). Give the directory "
               "`kaizen-perf run` printed, e.g. .kaizen/runs/<run-id>.")
        raise ConfigError(msg)
    run = load_run(root)
    hooks = _json(root / "hooks.json", {"agents": {}})
    flames: dict[str, Node] = {}
    tops: dict[str, list[tuple[str, int]]] = {}
    dirs = profile_dirs(root, run)
    for kind, folder in dirs.items():
        profile = load_profile(folder / "profile.folded")
        if profile.samples:
            flames[kind], tops[kind] = build_tree(profile), top_functions(profile)
        for path in sorted((folder / "by-agent").glob("*.folded")):
            agent_profile = load_profile(path)
            if agent_profile.samples:  # per-agent trees: the report's agent filter
                flames[f"{kind}:{path.stem}"] = build_tree(agent_profile, root=path.stem)
    first = next(iter(dirs))
    return ReportData(root, run, hooks, _series(root), flames, tops.get(first, []),
                      _jsonl(root / "alerts.jsonl"),
                      _json(dirs[first] / "profile.json", {}), tops)


def profile_dirs(root: Path, run: dict[str, Any]) -> dict[str, Path]:
    """The folder of each kind of profile the run recorded, first kind first: run.json's
    ``profiles`` (kinds it does not know, and folders outside the run, are ignored), else
    the one profile of an older run directory (wall-clock when it was made with --idle)."""
    named = run.get("profiles")
    if not isinstance(named, dict):
        named = {}
    out = {kind: root / str(rel) for kind, rel in named.items()
           if kind in KIND_NAMES and ".." not in Path(str(rel)).parts
           and not Path(str(rel)).is_absolute()}
    return out or {"wall" if run.get("idle") else "cpu": root / "profiles"}


def _json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return default


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def _series(root: Path) -> dict[str, list[Series]]:
    """Per-agent CPU (cores), RSS, I/O rates and run-queue wait from metrics.jsonl."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for row in _jsonl(root / "metrics.jsonl"):
        rows.setdefault(str(row.get("agent")), []).append(row)
    return {agent: _agent_series(r) for agent, r in rows.items()}


def _agent_series(rows: list[dict[str, Any]]) -> list[Series]:
    t = [float(r["t"]) for r in rows]
    cpu = [r["cpu_user_s"] + r["cpu_system_s"] for r in rows]
    io_r = [float(r["io_read_bytes"]) for r in rows]
    io_w = [float(r["io_write_bytes"]) for r in rows]
    rq = [max(0.0, float(r.get("run_queue_wait_s", 0.0))) for r in rows]
    out = [Series("CPU", "cores", *_rate(t, cpu)),
           Series("Resident memory", "bytes", *_down(t, [float(r["rss_bytes"]) for r in rows])),
           Series("I/O read", "bytes/s", *_rate(t, io_r)),
           Series("I/O write", "bytes/s", *_rate(t, io_w)),
           Series("Run-queue wait", "s/s", *_rate(t, rq))]
    return [s for s in out if s.t]


def _rate(t: list[float], v: list[float]) -> tuple[list[float], list[float]]:
    """Per-second rate of a cumulative series (negative steps clamp to 0)."""
    pts = [(t[i], max(0.0, (v[i] - v[i - 1]) / (t[i] - t[i - 1])))
           for i in range(1, len(t)) if t[i] > t[i - 1]]
    return _down([p[0] for p in pts], [p[1] for p in pts])


def _down(t: list[float], v: list[float]) -> tuple[list[float], list[float]]:
    """Average consecutive points so a series has at most MAX_POINTS."""
    if len(t) <= MAX_POINTS:
        return t, v
    step = len(t) / MAX_POINTS
    ts, vs = [], []
    for i in range(MAX_POINTS):
        lo, hi = int(i * step), max(int(i * step) + 1, int((i + 1) * step))
        ts.append(sum(t[lo:hi]) / (hi - lo))
        vs.append(sum(v[lo:hi]) / (hi - lo))
    return ts, vs
