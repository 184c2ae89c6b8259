"""One run of the head-to-head workload on one framework, checked, then measured
from neutral vantage points (not a benchmark module: no ``bench_`` prefix).

:func:`run_once` starts the framework's driver (``h2h_sdk_driver.py`` or
``h2h_kaizen_driver.py``) as its own process tree against a fresh
:class:`~benchmarks.parity.h2h_server.H2HServer`, samples the tree's memory with
psutil while it runs (PSS: a child forked but not yet exec'd shares its parent's
pages, and summed RSS counted them twice: one SDK run in about fifteen read
514 MB instead of ~270 MB), reaps it with ``os.wait4`` (CPU time of the driver and every
descendant it waited for) and returns a :class:`Run`. :func:`problems` says how
the run differs from the workload (tool calls, denial, retry, tool results carried,
token totals); :func:`measures` refuses a run with problems.

Timestamps: the server's and the drivers' are ``time.perf_counter`` (CLOCK_MONOTONIC
on Linux, one clock for every process), so they are compared directly.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Any

import psutil

from benchmarks.parity.h2h_server import H2HServer, Record, Workload, load_workload

HERE = Path(__file__).resolve().parent
DRIVERS = {"sdk": HERE / "h2h_sdk_driver.py", "kaizen": HERE / "h2h_kaizen_driver.py"}
PROTOCOLS = {"sdk": "anthropic", "kaizen": "openai"}
TIMEOUT_S = 120.0
MEMORY_EVERY_S = 0.02


@dataclass(frozen=True)
class Run:
    """What one run did: the server's records, the driver's report, the tree's usage."""

    framework: str
    workload: Workload
    spawned_s: float  #: perf_counter just before the driver process was started
    records: tuple[Record, ...]
    unscripted: int
    report: dict[str, Any]  #: the driver's OUT_JSON ({} when it failed)
    returncode: int
    stderr_tail: str
    cpu_s: float  #: user + system of the tree (os.wait4: the driver and its reaped children)
    peak_rss: int  #: the largest summed PSS of the tree seen while it ran (bytes)


@dataclass(frozen=True)
class Measures:
    """The head-to-head figures of one checked run."""

    cold_start_ms: float
    turn_overhead_ms: float
    tool_gap_ms: float
    permission_ms: float
    hook_ms: float
    peak_rss_bytes: float
    cpu_ms_per_turn: float
    wall_ms: float


def run_once(framework: str, root: Path | None = None) -> Run:
    """Run the workload once on ``framework`` ("sdk" or "kaizen") in a fresh directory."""
    base = Path(tempfile.mkdtemp(prefix=f"h2h-{framework}-", dir=root))
    try:
        work, home = base / "work", base / "home"
        work.mkdir()
        home.mkdir()
        (work / "notes.txt").write_text("hello notes\n")
        workload = load_workload(work)
        server = H2HServer(workload, PROTOCOLS[framework])
        try:
            return _drive(framework, workload, server, work, home, base / "out.json")
        finally:
            server.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _drive(framework: str, workload: Workload, server: H2HServer, work: Path, home: Path,
           out: Path) -> Run:
    env = dict(os.environ, HOME=str(home), ANTHROPIC_BASE_URL=server.url,
               ANTHROPIC_API_KEY="sk-offline", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
               PYTHONDONTWRITEBYTECODE="1")
    plan = json.dumps({"prompt": workload.prompt, "denied_tools": list(workload.denied_tools)})
    with tempfile.TemporaryFile() as err:
        spawned = time.perf_counter()
        proc = subprocess.Popen([sys.executable, str(DRIVERS[framework]), server.url, plan,
                                 str(out)], cwd=work, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        peak = _PeakMemory(proc.pid)
        status, cpu_s = _reap(proc)
        peak.stop()
        err.seek(0)
        tail = err.read()[-2000:].decode(errors="replace")
    report = json.loads(out.read_text()) if out.exists() else {}
    return Run(framework, workload, spawned, tuple(server.records), server.unscripted, report,
               status, tail, cpu_s, peak.value)


def _reap(proc: subprocess.Popen[bytes]) -> tuple[int, float]:
    """Wait for the driver (bounded); its exit status and the CPU time of its tree."""
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage.ru_utime + usage.ru_stime
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)  # our own session: the driver's tree only
        time.sleep(0.01)


class _PeakMemory:
    """Samples the summed PSS of a process and its descendants from a thread (PSS splits
    pages shared between processes among them, so the sum is the tree's footprint)."""

    def __init__(self, pid: int) -> None:
        self.value = 0
        self._root = psutil.Process(pid)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="h2h-memory", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._done.is_set():
            total = 0
            try:
                for p in [self._root, *self._root.children(recursive=True)]:
                    try:
                        total += p.memory_full_info().pss
                    except psutil.Error:
                        continue  # exited between the listing and the read
            except psutil.Error:
                return  # the driver itself exited
            self.value = max(self.value, total)
            self._done.wait(MEMORY_EVERY_S)

    def stop(self) -> None:
        self._done.set()
        self._thread.join(5)


def _key(call: Any) -> str:
    return json.dumps(call, sort_keys=True)


def _answered(run: Run) -> list[Record]:
    return [r for r in run.records if r.status == 200]


def driver_tokens(run: Run) -> tuple[int, int]:
    """Input and output tokens as the framework itself reported them."""
    if run.framework == "sdk":
        u = run.report.get("usage") or {}
        return (int(u.get("input_tokens", 0)) + int(u.get("cache_read_input_tokens", 0))
                + int(u.get("cache_creation_input_tokens", 0)), int(u.get("output_tokens", 0)))
    usage = run.report.get("usage") or []
    return (sum(int(u[0]) for u in usage), sum(int(u[1]) for u in usage))


def problems(run: Run) -> list[str]:
    """How the run differs from the workload; empty when it did what both sides must."""
    w, out = run.workload, []
    if run.returncode != 0 or not run.report:
        last = [line.strip() for line in run.stderr_tail.splitlines() if line.strip()][-1:]
        return [f"its driver exited {run.returncode}: {' '.join(last) or 'no output'}"]
    final = next(s.text for s in w.steps if s.text)
    if run.report.get("answer") != final or run.report.get("error"):
        out.append(f"answer {run.report.get('answer')!r}, error {run.report.get('error')!r}")
    hooked = sorted(_key([h[0], h[1]]) for h in run.report.get("hooks", []))
    if hooked != sorted(_key([n, a]) for n, a in w.calls):
        out.append(f"tool calls seen by the PreToolUse hook {hooked} differ from the workload")
    denied = [d[0] for d in run.report.get("decisions", []) if not d[1]]
    expected_denials = [n for n, _ in w.calls if n in w.denied_tools]
    if denied != expected_denials:
        out.append(f"denials {denied}, expected {expected_denials}")
    if len(run.report.get("retries", [])) != len(w.errors) or \
            [r.status for r in run.records if r.status != 200] != w.errors:
        out.append(f"retries {run.report.get('retries')}, server errors "
                   f"{[r.status for r in run.records if r.status != 200]}, expected {w.errors}")
    served = (sum(r.usage[0] for r in run.records), sum(r.usage[1] for r in run.records))
    if driver_tokens(run) != served or served != w.tokens:
        out.append(f"tokens reported {driver_tokens(run)}, served {served}, workload {w.tokens}")
    if run.unscripted or len(_answered(run)) != len(run.records) - len(w.errors) or \
            not _answered(run) or _answered(run)[-1].calls:
        out.append(f"{run.unscripted} unscripted requests; the script did not end with its text")
    out += _carried_problems(run)
    return out


def _carried_problems(run: Run) -> list[str]:
    """Every tool call's result reached the server in the request after its answer."""
    out, records = [], list(run.records)
    for i, r in enumerate(records[:-1]):
        if r.status != 200 or not r.calls:
            continue
        got = records[i + 1].results
        want = len(r.calls) if run.framework == "sdk" else 1
        if len(got) != want:
            out.append(f"request {i + 2} carried {len(got)} tool results, expected {want}")
        if any(n in run.workload.denied_tools for n, _ in r.calls) and \
                not any("disallowed" in g for g in got):
            out.append(f"request {i + 2} did not carry the denial")
    return out


def measures(run: Run) -> Measures:
    """The figures of a run; raises when the run did not do what the workload says."""
    found = problems(run)
    if found:
        msg = f"{run.framework} run failed the head-to-head check: " + "; ".join(found)
        raise AssertionError(msg)
    records, denied = list(run.records), set(run.workload.denied_tools)
    result_s = float(run.report["result_s"])
    retry_gaps = [records[i + 1].arrived_s - r.answered_s
                  for i, r in enumerate(records[:-1]) if r.status != 200]
    answered = _answered(run)
    framework_s = (result_s - records[0].arrived_s - sum(r.server_s for r in records)
                   - sum(retry_gaps))
    gaps = {i: records[i + 1].arrived_s - r.answered_s
            for i, r in enumerate(records[:-1]) if r.status == 200 and r.calls}
    tool_gaps = [g for i, g in gaps.items() if not any(n in denied for n, _ in records[i].calls)]
    permission = [g for i, g in gaps.items() if any(n in denied for n, _ in records[i].calls)]
    return Measures(
        cold_start_ms=(records[0].arrived_s - run.spawned_s) * 1e3,
        turn_overhead_ms=framework_s / len(answered) * 1e3,
        tool_gap_ms=median(tool_gaps) * 1e3,
        permission_ms=median(permission) * 1e3,
        hook_ms=median(_hook_delays(run)) * 1e3,
        peak_rss_bytes=float(run.peak_rss),
        cpu_ms_per_turn=run.cpu_s / len(answered) * 1e3,
        wall_ms=(result_s - run.spawned_s) * 1e3)


def _hook_delays(run: Run) -> list[float]:
    """Per PreToolUse hook call: the server's tool_use answer to the hook having run."""
    asked: Counter[str] = Counter()
    out = []
    for name, args, at in run.report["hooks"]:
        key = _key([name, args])
        nth = asked[key]
        asked[key] += 1
        owners = [r for r in run.records if r.status == 200
                  and any(_key([n, a]) == key for n, a in r.calls)]
        out.append(float(at) - owners[nth].answered_s)
    return out
