"""The benchmark worker: one process per side, driven by JSON lines on stdin/stdout.

Stdlib only and free of ``kaizen_perf`` imports on purpose: the parent runs this
file by path with the side's project directory first on ``PYTHONPATH``, so the
code under test (including an old ``kaizen_perf`` of a baseline git ref) is the
one the suite imports, and a baseline that predates this worker still works.
Runnable by hand as ``python -m kaizen_perf.regression.worker`` too.

Requests (one JSON object per line) and replies::

    {"op": "load", "suite": "benchmarks", "callgrind_out": null}
                                                    -> {"ok": true, "benchmarks": [...]}
    {"op": "probe", "name": N}                      -> {"ok": true, "hints": {...}}
    {"op": "prepare", "name": N, "loops": null, "measure": "wall"} -> {"ok": true, "loops": L}
    {"op": "sample", "name": N, "loops": L, "inject": 0.0, "measure": "wall"}
                                                    -> {"ok": true, "value": V}
    {"op": "quit"}

Measures: ``wall`` (time.perf_counter), ``cpu`` (process CPU time, every thread)
and ``instructions`` (instructions counted by callgrind; the worker must run
under ``valgrind --tool=callgrind --collect-atstart=no``).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import importlib.util
import json
import math
import mmap
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

BENCH_ATTR = "__kaizen_bench__"  # same as decorator.BENCH_ATTR (kept import-free)
TARGET_S = (0.02, 0.05)  # sample length: long enough for the timer, short enough to pair
WARMUP_MAX = 8
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
PROBE_CPU_S = 0.15  # CPU time a probe spends at least, for a kernel share that repeats
TARGET_INSTRUCTIONS = 5e6  # per counted sample: ~1-2 ms natively, ~0.1 s under callgrind


class SuiteMissing(Exception):
    """The suite directory does not exist (reported without a traceback).

    The parent raises ``kaizen_perf.errors.SuiteMissing`` for a reply with this name.
    """


class Suite:
    """Benchmarks of one suite directory, their loop counts and setups already run."""

    def __init__(self) -> None:
        self.funcs: dict[str, Callable[[], Any]] = {}
        self.meta: dict[str, dict[str, Any]] = {}
        self.ready: set[str] = set()
        self.carry: dict[str, float] = {}  # fractional injected calls not made yet
        self.counter: Callgrind | None = None

    def load(self, suite: str, callgrind_out: str | None = None) -> list[dict[str, Any]]:
        root = Path(suite).resolve()
        if not root.is_dir():
            msg = f"Suite directory {suite!r} does not exist in {os.getcwd()!r}."
            raise SuiteMissing(msg)
        if callgrind_out is not None:
            self.counter = Callgrind(callgrind_out)
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
                "pairs_per_round": meta.get("pairs_per_round"),
                "measure": meta.get("measure")}

    def _setup(self, name: str) -> None:
        if name not in self.ready:
            setup = self.meta[name].get("setup")
            if setup is not None:
                setup()
            self.ready.add(name)

    def probe(self, name: str) -> dict[str, float]:
        """How the benchmark spends a sample: the facts the engine picks a measure from."""
        self._setup(name)
        fn = self.funcs[name]
        if self.meta[name].get("unit", "s") != "s":
            return {}
        fn()
        loops = 3 * calibrate(fn)
        first = usage(fn, loops)
        # The kernel/user split comes from tick-based accounting (4 ms ticks): over the
        # ~40 ms of CPU above it swung between 8 % and 37 % for one benchmark, flipping its
        # measure between runs; over PROBE_CPU_S of CPU it stays within ~10 points.
        cpu = first["cpu_call_s"] * loops
        if cpu >= PROBE_CPU_S:
            return first
        return usage(fn, max(loops, math.ceil(loops * PROBE_CPU_S / max(cpu, 1e-4))))

    def prepare(self, name: str, loops: int | None, measure: str = "wall") -> int:
        fn = self.funcs[name]
        self._setup(name)
        if self.meta[name].get("unit", "s") != "s":
            return 1  # value benchmarks measure one whole call each; nothing to warm
        if measure == "instructions":
            # Same calls on both sides, whatever the clock says: one counted call, which
            # fixes the loop count and quickens the code (3.11 quickens a code object after
            # 8 calls or loop iterations, so within its first call; the samples' counts
            # repeated to 1e-4 without a further warm-up call, which cost a quarter of the
            # counting under callgrind). Equal call histories put the interpreter's
            # re-specialisation cycles in phase on both sides.
            first = self._counter().count(fn, 1)
            if loops is None:
                loops = max(1, min(1000, round(TARGET_INSTRUCTIONS / max(first, 1.0))))
            return loops
        if loops is None:
            fn()  # lazy state (monitors, files) is built here, not in the calibration timing
            loops = calibrate(fn)
        warm_up(fn, loops, CLOCKS[measure])
        return loops

    def sample(self, name: str, loops: int, inject: float, measure: str = "wall") -> float:
        fn, meta = self.funcs[name], self.meta[name]
        if meta.get("unit", "s") != "s":
            gc.collect()
            # A returned value has no work to repeat: the injected change scales it.
            return float(fn()) * (1.0 + inject)
        if measure == "instructions":
            # Counts add up exactly, so p % more calls is p % more instructions: scale by it
            # (a fraction of a call cannot be run, and a count has no noise to hide it in).
            value = self._counter().count(fn, loops) / loops * (1.0 + max(inject, 0.0))
        else:
            value = timed(fn, loops, CLOCKS[measure], self._extra(name, loops, inject))
        return value / int(meta.get("ops") or 1)

    def _counter(self) -> Callgrind:
        if self.counter is None:
            msg = ("Instruction counts need the worker to run under callgrind; "
                   "this worker was started without it.")
            raise RuntimeError(msg)
        return self.counter

    def _extra(self, name: str, loops: int, inject: float) -> int:
        """Whole extra calls for an injected slowdown; the fraction carries to the next sample.

        Real work of the benchmark's own kind, so CPU time and instruction counts
        see it as they would see slower code (never a wait proportional to the sample).
        """
        if inject <= 0:
            return 0
        owed = self.carry.get(name, 0.0) + loops * inject
        extra = int(owed)
        self.carry[name] = owed - extra
        return extra


class Callgrind:
    """Instruction counts of a stretch of code, read through callgrind's client requests.

    The requests are the few machine instructions valgrind's headers inline (a
    magic rotate sequence then ``xchg rbx, rbx``), placed in an executable page
    and called through ctypes: no compiler and no C extension needed. Each count
    zeroes the counters, turns collection on, runs the code, turns it off and
    dumps; the dump's ``totals:`` line is the count.
    """

    _X86_64 = bytes([
        0x48, 0x89, 0xF8,  # mov rax, rdi   (address of the request block)
        0x48, 0x89, 0xF2,  # mov rdx, rsi   (default result)
        0x48, 0xC1, 0xC7, 0x03, 0x48, 0xC1, 0xC7, 0x0D,  # rol rdi, 3; rol rdi, 13
        0x48, 0xC1, 0xC7, 0x3D, 0x48, 0xC1, 0xC7, 0x33,  # rol rdi, 61; rol rdi, 51
        0x48, 0x87, 0xDB,  # xchg rbx, rbx  (the request)
        0x48, 0x89, 0xD0,  # mov rax, rdx
        0xC3])             # ret
    RUNNING_ON_VALGRIND = 0x1001
    _BASE = (ord("C") << 24) | (ord("T") << 16)
    DUMP, ZERO, TOGGLE = _BASE, _BASE + 1, _BASE + 2

    def __init__(self, out_file: str) -> None:
        if platform.machine().lower() not in ("x86_64", "amd64"):
            msg = f"Instruction counts are supported on x86-64 only, not {platform.machine()}."
            raise RuntimeError(msg)
        self.out_file, self.dumps = out_file, 0
        self._page = mmap.mmap(-1, mmap.PAGESIZE,
                               prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        self._page.write(self._X86_64)
        address = ctypes.addressof(ctypes.c_char.from_buffer(self._page))
        self._call = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p,
                                      ctypes.c_uint64)(address)
        if not self.request(self.RUNNING_ON_VALGRIND):
            msg = "Instruction counts need the worker to run under valgrind --tool=callgrind."
            raise RuntimeError(msg)

    def request(self, code: int) -> int:
        block = (ctypes.c_uint64 * 6)(code, 0, 0, 0, 0, 0)
        return int(self._call(ctypes.addressof(block), 0))

    def count(self, fn: Callable[[], Any], calls: int) -> float:
        """Instructions executed by ``calls`` calls of ``fn`` (every thread)."""
        gc.collect()
        self.request(self.ZERO)
        self.request(self.TOGGLE)
        for _ in range(calls):
            fn()
        self.request(self.TOGGLE)
        self.request(self.DUMP)
        self.dumps += 1
        path = Path(f"{self.out_file}.{self.dumps}")
        try:
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.startswith(("totals:", "summary:")):
                    return float(line.split()[1])
        finally:
            path.unlink(missing_ok=True)
        msg = f"Callgrind dump {path} has no totals line."
        raise RuntimeError(msg)


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


def timed(fn: Callable[[], Any], loops: int, clock: Callable[[], float] = time.perf_counter,
          extra: int = 0) -> float:
    """``clock`` seconds per call over ``loops`` calls (plus ``extra`` injected calls)."""
    gc.collect()
    start = clock()
    for _ in range(loops + extra):
        fn()
    return (clock() - start) / loops


def usage(fn: Callable[[], Any], loops: int) -> dict[str, float]:
    """Wall and CPU time of ``loops`` calls, and how the calling thread spent it.

    ``switches_per_cpu_ms``: voluntary context switches of the calling thread per
    millisecond of its own CPU time. A thread that sleeps, waits for a disk or
    for another thread gives up the CPU (a voluntary switch) after little CPU
    work; load adds only involuntary switches and barely changes CPU time, so
    this tells waiting code from CPU-bound code even on a busy machine (waiting
    benchmarks here: 3-20 per ms; CPU-bound ones: 0-0.02).
    """
    import resource

    who = getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)
    gc.collect()
    r0, w0, p0, t0 = resource.getrusage(who), time.perf_counter(), time.process_time(), \
        time.thread_time()
    for _ in range(loops):
        fn()
    r1, w1, p1, t1 = resource.getrusage(who), time.perf_counter(), time.process_time(), \
        time.thread_time()
    wall, proc, thread = w1 - w0, p1 - p0, t1 - t0
    user, system = r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime
    return {"call_s": wall / loops, "cpu_call_s": proc / loops,
            "switches_per_cpu_ms": (r1.ru_nvcsw - r0.ru_nvcsw) / max(thread * 1e3, 1e-3),
            "thread_share": thread / proc if proc > 0 else 1.0,
            "system_share": system / (user + system) if user + system > 0 else 0.0}



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


def warm_up(fn: Callable[[], Any], loops: int,
            clock: Callable[[], float] = time.perf_counter) -> None:
    """Run samples until two in a row agree within 5 % (at most ``WARMUP_MAX``)."""
    last = timed(fn, loops, clock)
    for _ in range(WARMUP_MAX - 1):
        now = timed(fn, loops, clock)
        if abs(now - last) <= 0.05 * last:
            return
        last = now


def installed(names: Any) -> dict[str, str]:
    """The versions of the named distributions this interpreter sees (absent ones left out):
    what tells two environments of one project apart in a report."""
    from importlib import metadata

    out = {}
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[str(name)] = metadata.version(str(name))
    return out


def handle(suite: Suite, req: dict[str, Any]) -> dict[str, Any]:
    """Answer one request."""
    op = req.get("op")
    if op == "load":
        return {"ok": True, "benchmarks": suite.load(req["suite"], req.get("callgrind_out")),
                "versions": installed(req.get("versions") or ()),
                "python": sys.version.split()[0]}
    if op == "probe":
        return {"ok": True, "hints": suite.probe(req["name"])}
    if op == "prepare":
        return {"ok": True, "loops": suite.prepare(req["name"], req.get("loops"),
                                                   req.get("measure", "wall"))}
    if op == "sample":
        value = suite.sample(req["name"], int(req["loops"]), float(req.get("inject", 0.0)),
                             req.get("measure", "wall"))
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
