"""On-CPU and wall-clock profiles from one run: one py-spy sampler per kind.

py-spy marks no sample as idle in any of its output formats (raw, speedscope, chrometrace:
checked with py-spy 0.4.3), and without ``--native`` a thread waiting in ``time.sleep`` or
``socket.recv`` ends at the same Python line as one that runs there. So a wall-clock
recording (``--idle``) cannot be split into "running" and "waiting" afterwards, and
guessing from the innermost frame would be a guess. Instead each kind has its own sampler.

By default the samplers run side by side, each at its share of the rate (15 Hz each of
``run``'s 30 Hz), so both kinds cover the whole run, short runs included. With
``in_turn=True`` they take turns window by window at the full rate instead
(:mod:`.pyspy_turns`: one py-spy at a time, each kind every other window). On the
reference agent both ways cost the same within noise (``benchmarks/pyspy_cost.py``,
docs/profiles.md): py-spy's cost is per sample, and a wall-clock sample costs more than an
on-CPU one (it walks the waiting threads too), so coverage decided.

The first kind's files go where a single profiler writes them (``profiles/``), the others
into a folder named after their kind (``profiles/wall/``): a reader of a one-kind run
directory reads a two-kind one unchanged.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kaizen_perf.collectors.pyspy import ProfileResult, PySpyProfiler
from kaizen_perf.collectors.pyspy_turns import Turns
from kaizen_perf.errors import ConfigError

#: the kinds of profile a run can record: "cpu" samples running threads only, "wall" also
#: waiting ones (py-spy --idle)
KINDS = ("cpu", "wall")


def kind_dir(out_dir: Path, kind: str, kinds: Sequence[str]) -> Path:
    """Where one kind's files go: the first kind in ``out_dir``, the others beneath it."""
    return Path(out_dir) if kind == kinds[0] else Path(out_dir) / kind


class ProfilerPair:
    """One :class:`PySpyProfiler` per kind of profile, started and stopped together."""

    def __init__(self, pid: int, out_dir: Path, *, kinds: Sequence[str] = KINDS,
                 rate_hz: int = 30, on_warning: Callable[[str], None] | None = None,
                 in_turn: bool = False, **options: Any) -> None:
        self.kinds = tuple(kinds)
        if not self.kinds or len(set(self.kinds)) != len(self.kinds) or any(
                k not in KINDS for k in self.kinds):
            msg = (f"kinds={kinds!r} is not a choice of profile kinds; use one or both of "
                   f"{', '.join(KINDS)}.")
            raise ConfigError(msg)
        # side by side: each kind at its share of the rate, all the time; in turn: each at
        # the full rate in its windows (every other window: cost measured the same)
        self.rate_hz = rate_hz if in_turn else max(1, rate_hz // len(self.kinds))
        warn = _once(on_warning or (lambda message: None))
        turns = Turns() if in_turn and len(self.kinds) > 1 else None
        self.profilers = {
            kind: PySpyProfiler(pid, kind_dir(out_dir, kind, self.kinds), rate_hz=self.rate_hz,
                                idle=kind == "wall", on_warning=warn, turns=turns, **options)
            for kind in self.kinds}

    def start(self) -> ProfilerPair:
        """Start every sampler (each in its own ``kaizen-perf-pyspy`` thread; in turn, the
        first kind records the first window)."""
        for profiler in self.profilers.values():
            profiler.start()
        return self

    @property
    def cpu_seconds(self) -> float:
        """py-spy's CPU so far, all samplers together (the cost the user pays)."""
        return sum(p.cpu_seconds for p in self.profilers.values())

    def stop(self, timeout_s: float = 5.0) -> dict[str, ProfileResult]:
        """Stop every sampler within one shared deadline; each kind's result, and every
        result's ``cpu_seconds`` is the CPU of all samplers (what the profiles cost)."""
        deadline = time.monotonic() + timeout_s
        results: dict[str, ProfileResult] = {}
        threads = [threading.Thread(
            target=lambda k=kind, p=profiler: results.__setitem__(
                k, p.stop(max(0.1, deadline - time.monotonic()))),
            name="kaizen-perf-pyspy-stop", daemon=True)
            for kind, profiler in self.profilers.items()]
        for thread in threads:  # in parallel: each ends its window, then writes its files
            thread.start()
        for thread in threads:
            thread.join(max(0.1, deadline - time.monotonic() + 1.0))
        spent = self.cpu_seconds
        return {kind: dataclasses.replace(results[kind], cpu_seconds=spent)
                for kind in self.kinds if kind in results}


def _once(warn: Callable[[str], None]) -> Callable[[str], None]:
    """Both samplers meet the same problems (no ptrace, not Python): say each once."""
    said: set[str] = set()
    lock = threading.Lock()

    def once(message: str) -> None:
        with lock:
            if message in said:
                return
            said.add(message)
        warn(message)
    return once
