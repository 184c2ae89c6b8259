"""A child process profiled in-process by pyroscope-io (run by the Pyroscope tests).

``python pyroscope_child.py push URL``: CPU in tool ``crunch``, then in nested tools
``outer``/``inner``, then untagged; measures the tag calls; shuts down on a 5 s deadline.
``python pyroscope_child.py blackhole URL DEADLINE``: CPU until an upload is in flight,
then ``shutdown_with_deadline(DEADLINE)``. Both print one JSON line of timings.
"""

from __future__ import annotations

import json
import sys
import time

from kaizen_perf.collectors.pyroscope import NoToolTags, PyroscopeOptions, PyroscopeProfiler


def _spin(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def crunch_tool() -> None:
    _spin(1.0)


def inner_tool() -> None:
    _spin(0.5)


def outer_after_inner() -> None:
    _spin(0.5)


def untagged_work() -> None:
    _spin(0.8)


def _per_pair_ns(tagger: NoToolTags | PyroscopeProfiler, n: int = 50_000) -> float:
    start = time.perf_counter_ns()
    for _ in range(n):
        tagger.exit_tool(tagger.enter_tool("bench"))
    return (time.perf_counter_ns() - start) / n


def push(url: str) -> dict[str, float]:
    prof = PyroscopeProfiler(PyroscopeOptions(
        server_address=url, service_name="kaizen-test", agent_id="researcher",
        upload_interval_s=1)).start()
    token = prof.enter_tool("crunch")
    crunch_tool()
    prof.exit_tool(token)
    outer = prof.enter_tool("outer")
    inner = prof.enter_tool("inner")
    inner_tool()
    prof.exit_tool(inner)
    outer_after_inner()
    prof.exit_tool(outer)
    untagged_work()
    timings = {"tag_pair_ns": _per_pair_ns(prof), "no_tag_pair_ns": _per_pair_ns(NoToolTags())}
    start = time.monotonic()
    timings["shutdown_ok"] = float(prof.shutdown_with_deadline(5.0))
    timings["shutdown_s"] = time.monotonic() - start
    return timings


def blackhole(url: str, deadline_s: float) -> dict[str, float]:
    prof = PyroscopeProfiler(PyroscopeOptions(
        server_address=url, service_name="kaizen-test", agent_id="a", upload_interval_s=1)).start()
    _spin(2.5)  # at least one upload is now waiting for an answer that never comes
    start = time.monotonic()
    ok = prof.shutdown_with_deadline(deadline_s)
    return {"shutdown_ok": float(ok), "shutdown_s": time.monotonic() - start}


if __name__ == "__main__":
    if sys.argv[1] == "push":
        result = push(sys.argv[2])
    else:
        result = blackhole(sys.argv[2], float(sys.argv[3]))
    print(json.dumps(result), flush=True)
