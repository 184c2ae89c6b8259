"""History of main-branch runs and change-point detection on their ratio series.

Each line of the history file (JSON Lines) holds one ``check`` of a main-branch
commit against a pinned reference: the per-benchmark ratio estimates. Because
every point is already a paired ratio against the same reference, the series
is quiet (~1-2 %) and a slow creep shows as a level shift even when no single
commit exceeded the gate.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kaizen_perf.errors import BaselineError
from kaizen_perf.regression.evaluate import Outcome

HISTORY_VERSION = 1


def append(path: Path, outcome: Outcome, *, commit: str | None, reference: str | None,
           created: str) -> None:
    """Append one run (its ratio per benchmark) to the history file."""
    entry = {"version": HISTORY_VERSION, "created": created, "commit": commit,
             "reference": reference,
             "ratios": {r.name: r.estimate.ratio for r in outcome.rows if r.estimate}}
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry) + "\n")


def read(path: Path) -> list[dict[str, Any]]:
    """Every entry of a history file, oldest first."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        msg = f"History file {str(path)!r} does not exist. `check --history FILE` creates it."
        raise BaselineError(msg) from exc
    try:
        return [json.loads(ln) for ln in lines if ln.strip()]
    except ValueError as exc:
        msg = f"History file {str(path)!r} has a line that is not JSON: {exc}."
        raise BaselineError(msg) from exc


@dataclass(frozen=True)
class ChangePoint:
    """A level shift in a ratio series: where, how much, how sure."""

    benchmark: str
    index: int  # first entry of the new level
    before: float  # median ratio before
    after: float  # median ratio after
    p_value: float

    @property
    def shift(self) -> float:
        """Relative change of the level (0.04 = 4 % slower)."""
        return self.after / self.before - 1


def detect(series: Sequence[float], *, permutations: int = 999,
           seed: int = 0) -> tuple[int, float, float]:
    """The best single split of a log series and its permutation p-value.

    The statistic is the standardised difference of means (as in E-divisive and
    CUSUM); the p-value compares it with the same statistic on shuffles, so it
    is exact for exchangeable noise whatever its distribution.
    """
    xs = [math.log(v) for v in series]
    best, stat = _best_split(xs)
    if best < 0:
        return -1, 0.0, 1.0
    rng = random.Random(seed)
    shuffled, hits = list(xs), 0
    for _ in range(permutations):
        rng.shuffle(shuffled)
        hits += _best_split(shuffled)[1] >= stat
    return best, stat, (hits + 1) / (permutations + 1)


def _best_split(xs: Sequence[float]) -> tuple[int, float]:
    n = len(xs)
    if n < 4:
        return -1, 0.0
    total, left, best, stat = sum(xs), 0.0, -1, 0.0
    for t in range(1, n):
        left += xs[t - 1]
        if t < 2 or n - t < 2:
            continue
        diff = left / t - (total - left) / (n - t)
        value = abs(diff) * math.sqrt(t * (n - t) / n)
        if value > stat:
            best, stat = t, value
    return best, stat


def change_points(entries: Sequence[dict[str, Any]], *, alpha: float = 0.01,
                  min_shift: float = 0.01) -> list[ChangePoint]:
    """Significant level shifts per benchmark (at least ``min_shift`` in size)."""
    names = sorted({n for e in entries for n in e.get("ratios", {})})
    found = []
    for name in names:
        series = [float(e["ratios"][name]) for e in entries if name in e.get("ratios", {})]
        idx, _, p = detect(series)
        if idx < 0 or p > alpha:
            continue
        cp = ChangePoint(name, idx, _median(series[:idx]), _median(series[idx:]), p)
        if abs(cp.shift) >= min_shift:
            found.append(cp)
    return found


def _median(xs: Sequence[float]) -> float:
    s = sorted(xs)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2
