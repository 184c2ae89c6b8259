"""The benchmark worker: one process per side, driven by JSON lines on stdin/stdout.

Stdlib only and free of ``kaizen_perf`` imports on purpose: the parent runs this
file by path with the side's project directory first on ``PYTHONPATH``, so the
code under test (including an old ``kaizen_perf`` of a baseline git ref) is the
one the suite imports, and a baseline that predates this worker still works.
Runnable by hand as ``python -m kaizen_perf.regression.worker`` too.

Requests (one JSON object per line) and replies::

    {"op": "load", "suite": "benchmarks"}          -> {"ok": true, "benchmarks": [...]}
    {"op": "prepare", "name": N, "loops": null}     -> {"ok": true, "loops": L}
    {"op": "sample", "name": N, "loops": L, "inject": 0.0} -> {"ok": true, "value": V}
    {"op": "quit"}
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import json
import math
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

BENCH_ATTR = "__kaizen_bench__"  # same as decorator.BENCH_ATTR (kept import-free)
TARGET_S = (0.02, 0.05)  # sample length: long enough for the timer, short enough to pair
WARMUP_MAX = 8


class SuiteMissing(Exception):
    """The suite directory does not exist (reported without a traceback)."""


class Suite:
    """Benchmarks of one suite directory, their loop counts and setups already run."""

    def __init__(self) -> None:
        self.funcs: dict[str, Callable[[], Any]] = {}
        self.meta: dict[str, dict[str, Any]] = {}
        self.ready: set[str] = set()

    def load(self, suite: str) -> list[dict[str, Any]]:
        root = Path(suite).resolve()
        if not root.is_dir():
            msg = f"Suite directory {suite!r} does not exist in {os.getcwd()!r}."
            raise SuiteMissing(msg)
        out = []
        for path in sorted(root.glob("bench_*.py")):
            module = _import(path)
            for attr in sorted(vars(module)):
                fn = getattr(module, attr)
                if attr.startswith("bench_") and callable(fn):
                    out.append(self._add(f"{path.stem}.{attr}", fn, str(path)))
        return out

    def _add(self, name: str, fn: Callable[[], Any], file: str) -> dict[str, Any]:
        meta = dict(getattr(fn, BENCH_ATTR, None) or {})
        self.funcs[name], self.meta[name] = fn, meta
        return {"name": name, "file": file, "unit": meta.get("unit", "s"),
                "direction": meta.get("direction", "lower"), "gate": meta.get("gate"),
                "pairs_per_round": meta.get("pairs_per_round")}

    def prepare(self, name: str, loops: int | None) -> int:
        fn, meta = self.funcs[name], self.meta[name]
        if name not in self.ready:
            setup = meta.get("setup")
            if setup is not None:
                setup()
            self.ready.add(name)
        if meta.get("unit", "s") != "s":
            return 1  # value benchmarks measure one whole call each; nothing to warm

        if loops is None:
            fn()  # lazy state (monitors, files) is built here, not in the calibration timing
            loops = calibrate(fn)
        warm_up(fn, loops)
        return loops

    def sample(self, name: str, loops: int, inject: float) -> float:
        fn, meta = self.funcs[name], self.meta[name]
        if meta.get("unit", "s") != "s":
            gc.collect()
            return float(fn()) * (1.0 + inject)
        return timed(fn, loops, inject) / int(meta.get("ops") or 1)


def _import(path: Path) -> Any:
    # A suite inside a package is imported by its dotted name, so its relative
    # imports and ``benchmarks.workloads`` imports behave as in the project.
    try:
        rel = path.resolve().relative_to(Path.cwd().resolve()).with_suffix("")
        if all((Path.cwd() / Path(*rel.parts[:i]) / "__init__.py").exists()
               for i in range(1, len(rel.parts))):
            return importlib.import_module(".".join(rel.parts))
    except ValueError:
        pass
    spec = importlib.util.spec_from_file_location(f"_kaizen_suite_{path.stem}", path)
    if spec is None or spec.loader is None:
        msg = f"Cannot import suite file {path}."
        raise ImportError(msg)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def timed(fn: Callable[[], Any], loops: int, inject: float = 0.0) -> float:
    """Seconds per call over ``loops`` calls; ``inject`` adds a proportional busy-wait."""
    gc.collect()
    clock = time.perf_counter
    start = clock()
    for _ in range(loops):
        fn()
    end = clock()
    if inject > 0:
        # A CPU busy-wait, not a sleep: it behaves like real extra work under load.
        until = end + (end - start) * inject
        while clock() < until:
            pass
        end = clock()
    return (end - start) / loops


def calibrate(fn: Callable[[], Any], target: tuple[float, float] = TARGET_S) -> int:
    """The loop count that makes one sample last between ``target`` seconds."""
    loops = 1
    for _ in range(30):
        elapsed = timed(fn, loops) * loops
        if elapsed >= target[0]:
            return loops
        want = math.ceil(loops * (target[0] + target[1]) / 2 / max(elapsed, 1e-7))
        loops = max(loops + 1, min(want, loops * 10))
    return loops


def warm_up(fn: Callable[[], Any], loops: int) -> None:
    """Run samples until two in a row agree within 5 % (at most ``WARMUP_MAX``)."""
    last = timed(fn, loops)
    for _ in range(WARMUP_MAX - 1):
        now = timed(fn, loops)
        if abs(now - last) <= 0.05 * last:
            return
        last = now


def handle(suite: Suite, req: dict[str, Any]) -> dict[str, Any]:
    """Answer one request."""
    op = req.get("op")
    if op == "load":
        return {"ok": True, "benchmarks": suite.load(req["suite"])}
    if op == "prepare":
        return {"ok": True, "loops": suite.prepare(req["name"], req.get("loops"))}
    if op == "sample":
        value = suite.sample(req["name"], int(req["loops"]), float(req.get("inject", 0.0)))
        return {"ok": True, "value": value}
    return {"ok": False, "error": f"unknown request {op!r}"}


def serve(inp: TextIO, out: TextIO) -> None:
    """The request loop: ends on ``quit`` or end of input."""
    suite = Suite()
    for line in inp:
        req = json.loads(line)
        if req.get("op") == "quit":
            return
        try:
            reply = handle(suite, req)
        except BaseException as exc:  # a crashing benchmark is reported, not fatal
            if isinstance(exc, KeyboardInterrupt):
                raise
            tail = [] if isinstance(exc, SuiteMissing) else traceback.format_exception(exc)[-3:]
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                     "traceback": "".join(tail)}
        out.write(json.dumps(reply) + "\n")
        out.flush()


def main() -> None:
    """Keep the protocol on a private copy of stdout; benchmark prints go to stderr."""
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    serve(sys.stdin, proto)


if __name__ == "__main__":
    main()
