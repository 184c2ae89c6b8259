"""pyroscope-io pushes decoded by a real receiver; shutdown on a deadline; options; tool tags."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from kaizen_perf.collectors.pyroscope import (
    NoToolTags,
    PyroscopeOptions,
    PyroscopeProfiler,
    options_from_env,
    shutdown_with_deadline,
)
from kaizen_perf.errors import CollectorUnavailable, ConfigError
from tests.helpers import need
from tests.profiles.pushreceiver import PushReceiver, Series

CHILD = str(Path(__file__).with_name("pyroscope_child.py"))


def _need_pyroscope() -> None:
    try:
        import pyroscope  # noqa: F401
    except ImportError:
        need(False, "pyroscope-io not installed (pip install pyroscope-io)")


def _child(*args: str, timeout_s: float = 120) -> dict[str, float]:
    out = subprocess.run([sys.executable, CHILD, *args], capture_output=True, text=True,
                         timeout=timeout_s, check=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _cpu_by_tool(series: list[Series], function: str) -> dict[str | None, int]:
    """CPU nanoseconds of samples whose stack holds ``function``, by their ``tool`` label."""
    out: dict[str | None, int] = {}
    for s in series:
        for sample in s.samples:
            if function in sample.functions:
                tool = sample.labels.get("tool")
                out[tool] = out.get(tool, 0) + sample.value
    return out


def test_push_carries_agent_service_and_tool_tags() -> None:
    """Pushed pprof has service_name/agent labels and the busy tool's samples tagged tool=<name>."""
    _need_pyroscope()
    with PushReceiver() as receiver:
        timings = _child("push", receiver.url)
        time.sleep(0.2)
    got = receiver.received
    assert got.series, "nothing was pushed"
    assert {(h.get("content-encoding"), h["x-body-is-gzip"]) for h in got.headers} == {
        ("gzip", "True")}
    for s in got.series:
        assert s.labels["service_name"] == "kaizen-test" and s.labels["agent"] == "researcher"
    assert ("cpu", "nanoseconds") in got.series[0].sample_types
    crunch = _cpu_by_tool(got.series, "crunch_tool")
    assert set(crunch) == {"crunch"} and crunch["crunch"] > 0.5e9
    assert set(_cpu_by_tool(got.series, "inner_tool")) == {"inner"}
    assert set(_cpu_by_tool(got.series, "outer_after_inner")) == {"outer"}  # restored
    assert set(_cpu_by_tool(got.series, "untagged_work")) == {None}
    assert timings["shutdown_ok"] == 1.0 and timings["shutdown_s"] < 5.0
    print(f"\ntool tag enter+exit: {timings['tag_pair_ns']:.0f} ns with pyroscope, "
          f"{timings['no_tag_pair_ns']:.0f} ns when off")


def test_shutdown_returns_at_deadline_with_black_holed_server() -> None:
    """A server that accepts and never answers cannot hold shutdown past its deadline."""
    _need_pyroscope()
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(64)  # the kernel completes connections; nobody ever reads or answers
        url = f"http://127.0.0.1:{hole.getsockname()[1]}"
        start = time.monotonic()
        result = _child("blackhole", url, "1.0", timeout_s=40)
        total = time.monotonic() - start
    assert result["shutdown_ok"] == 0.0
    assert result["shutdown_s"] < 1.5
    print(f"\nblack-holed shutdown returned after {result['shutdown_s']:.2f} s "
          f"(deadline 1.0 s); child process ran {total:.1f} s in all")


def test_shutdown_with_deadline_reports_success_and_failure() -> None:
    """A quick shutdown reports True; one that raises reports False without raising."""
    def boom() -> None:
        raise RuntimeError("native failure")

    assert shutdown_with_deadline(1.0, shutdown=lambda: None)
    assert not shutdown_with_deadline(1.0, shutdown=boom)


class _FakeLib:
    """Records the tag calls the profiler makes (the native library is tested above)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.config: dict[str, Any] = {}

    def configure(self, **kwargs: Any) -> None:
        self.config = kwargs

    def add_thread_tag(self, key: str, value: str) -> None:
        self.calls.append(("add", key, value))

    def remove_thread_tag(self, key: str, value: str) -> None:
        self.calls.append(("remove", key, value))

    def shutdown(self) -> None:
        self.calls.append(("shutdown",))


def test_nested_tools_swap_and_restore_the_tag() -> None:
    """An inner tool replaces the outer tag for its duration; the outer one comes back."""
    lib = _FakeLib()
    prof = PyroscopeProfiler(PyroscopeOptions("http://127.0.0.1:1", "svc", "a1"),
                             load=lambda: lib).start()
    assert prof.tagger() is prof
    outer = prof.enter_tool("outer")
    prof.exit_tool(prof.enter_tool("inner"))
    prof.exit_tool(outer)
    assert lib.calls == [("add", "tool", "outer"), ("remove", "tool", "outer"),
                         ("add", "tool", "inner"), ("remove", "tool", "inner"),
                         ("add", "tool", "outer"), ("remove", "tool", "outer")]
    assert lib.config["tags"] == {"agent": "a1"} and lib.config["application_name"] == "svc"
    assert prof.shutdown_with_deadline(1.0) and lib.calls[-1] == ("shutdown",)


def test_tagger_is_a_no_op_until_started() -> None:
    """Before start() (or with Pyroscope off) the tagger does nothing."""
    prof = PyroscopeProfiler(PyroscopeOptions("http://127.0.0.1:1", "svc", "a1"))
    assert isinstance(prof.tagger(), NoToolTags)
    token = prof.enter_tool("x")
    prof.exit_tool(token)
    assert prof.shutdown_with_deadline(0.1)


def test_missing_pyroscope_io_is_collector_unavailable() -> None:
    """Without pyroscope-io, start() says how to install it."""
    def missing() -> Any:
        raise CollectorUnavailable("Install it with `pip install pyroscope-io`.")

    with pytest.raises(CollectorUnavailable, match="pip install pyroscope-io"):
        PyroscopeProfiler(PyroscopeOptions("http://x:1", "s", "a"), load=missing).start()


def test_options_validate_and_come_from_env() -> None:
    """A non-HTTP address is refused; KAIZEN_PERF_PYROSCOPE_URL gives options when set."""
    with pytest.raises(ConfigError, match="not an http"):
        PyroscopeOptions("localhost:4040", "s", "a")
    assert options_from_env({}, agent_id="a") is None
    opts = options_from_env({"KAIZEN_PERF_PYROSCOPE_URL": "http://127.0.0.1:4040"},
                            agent_id="researcher")
    assert opts is not None and opts.service_name == "researcher"
    assert opts.configure_kwargs()["tags"] == {"agent": "researcher"}
