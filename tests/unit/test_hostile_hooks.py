"""Hostile hook input: nothing raises into the agent, no good event is lost, /metrics parses."""

from __future__ import annotations

import math
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from kaizen_perf import Monitor
from kaizen_perf._validate import MAX_TEXT
from tests.unit.metrics_util import value


class _Raises:
    """A value whose dunder methods raise (a buggy or hostile caller's object)."""

    def __repr__(self) -> str:
        raise RuntimeError("repr")

    __str__ = __repr__

    def __hash__(self) -> int:
        raise RuntimeError("hash")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq")

    def __bool__(self) -> bool:
        raise RuntimeError("bool")

    def __len__(self) -> int:
        raise RuntimeError("len")

    def __float__(self) -> float:
        raise RuntimeError("float")

    def __index__(self) -> int:
        raise RuntimeError("index")


class _StrSub(str):
    """A str subclass whose methods raise."""

    def __str__(self) -> str:
        raise RuntimeError("str")

    def __hash__(self) -> int:
        raise RuntimeError("hash")

    def encode(self, *args: Any, **kwargs: Any) -> bytes:  # type: ignore[override]
        raise RuntimeError("encode")


HUGE = "x" * 1_000_000
HOSTILE = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=2**63, max_value=10**30),
    st.sampled_from([10**400, -(10**400), 2**64, -1, -0.0]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40), st.text(st.characters(codec=None), max_size=10),
    st.sampled_from(["\ud800", "a\udfffb", "", "\0", "\n\"\\", "fast", HUGE, "😀" * 300]),
    st.binary(max_size=8), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.builds(_Raises), st.builds(_StrSub, st.sampled_from(["denied", "save", "bash"])),
    st.builds(object), st.just(ValueError("boom")), st.just(KeyError),
)

def _args(*names: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=dict.fromkeys(names, HOSTILE))


#: every public hook, with its arguments drawn hostile (any may also be a good value)
HOOKS: list[tuple[str, st.SearchStrategy[dict[str, Any]]]] = [
    ("tool", st.fixed_dictionaries({"name": HOSTILE}, optional={"arguments": HOSTILE})),
    ("agent_loop", st.just({})),
    ("record_api_call", st.fixed_dictionaries(
        {"provider": HOSTILE, "model": HOSTILE},
        optional=dict.fromkeys((
            "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
            "duration_s", "error", "cache_write_1h_tokens", "ttft_s", "stop_reason",
            "status_code", "request_id"), HOSTILE))),
    ("permission_check", st.fixed_dictionaries({"tool": HOSTILE, "decision": HOSTILE},
                                               optional={"reason": HOSTILE,
                                                         "duration_s": HOSTILE})),
    ("checkpoint", st.fixed_dictionaries({"op": HOSTILE}, optional={
        "size_bytes": HOSTILE, "duration_s": HOSTILE, "error": HOSTILE})),
    ("hook_executed", st.fixed_dictionaries({"hook": HOSTILE}, optional={
        "duration_s": HOSTILE, "ok": HOSTILE})),
    ("interrupt", _args("kind")),
    ("control_request", st.fixed_dictionaries({"kind": HOSTILE}, optional={
        "duration_s": HOSTILE, "outcome": HOSTILE})),
    ("task", st.fixed_dictionaries({"task_type": HOSTILE}, optional={
        "complexity": HOSTILE, "duration_s": HOSTILE, "ok": HOSTILE})),
]
CALL = st.one_of(*[st.tuples(st.just(name), args) for name, args in HOOKS])


@pytest.fixture
def mon(tmp_path: Path) -> Iterator[Monitor]:
    """One monitor (metrics, spans in memory, JSON event log) serving /metrics on 127.0.0.1."""
    m = Monitor("fuzz", environ={"KAIZEN_PERF_TRACES": "memory",
                                 "KAIZEN_PERF_LOG_EVENTS": "all",
                                 "KAIZEN_PERF_LOG_FILE": str(tmp_path / "events.jsonl")})
    m.serve("127.0.0.1:0")
    yield m
    m.shutdown(5.0)


def _good(mon: Monitor) -> None:
    """One good event of each kind the counters below check."""
    with mon.tool("good"):
        pass
    mon.permission_check("good", "denied", reason="policy")
    mon.record_api_call("anthropic", "claude-haiku-4-5", 10, 2, duration_s=0.1)


def _good_counts(mon: Monitor) -> tuple[float, float, float]:
    text = mon.export_metrics()
    return (value(text, "kaizen_tool_calls_total", agent="fuzz", tool="good", status="ok"),
            value(text, "kaizen_permission_denials_total", agent="fuzz", tool="good",
                  reason="policy"),
            value(text, "kaizen_api_requests_total", agent="fuzz", provider="anthropic",
                  model="claude-haiku-4-5", status="ok"))


def _call(mon: Monitor, name: str, kwargs: dict[str, Any]) -> None:
    hook = getattr(mon, name)
    if name in ("tool", "agent_loop"):
        with hook(**kwargs):
            pass
    else:
        hook(**kwargs)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(calls=st.lists(CALL, min_size=1, max_size=6))
def test_no_hook_raises_loses_a_neighbour_or_breaks_metrics(
        mon: Monitor, calls: list[tuple[str, dict[str, Any]]]) -> None:
    """Hostile values in every public hook, mixed with good events in the same batches:
    nothing raises, every good event is counted, and the exposition still parses."""
    before = _good_counts(mon)
    for name, kwargs in calls:
        _good(mon)
        _call(mon, name, kwargs)
    _good(mon)
    after = _good_counts(mon)
    assert [a - b for a, b in zip(after, before, strict=True)] == [len(calls) + 1] * 3
    assert not mon.pipeline.sink_errors, mon.pipeline.sink_errors
    list(text_string_to_metric_families(mon.export_metrics()))


def test_metrics_endpoint_still_answers_after_the_hostile_calls(mon: Monitor) -> None:
    """After every call of the fuzz test, a real scrape answers 200 with parseable text."""
    mon.permission_check("bash", "denied", reason=123)  # type: ignore[arg-type]
    mon.record_api_call("anthropic", "claude-haiku-4-5", input_tokens=10**400)
    mon.permission_check("bash", "denied", reason="\ud800")
    with urllib.request.urlopen(f"{mon.server.url}/metrics", timeout=30) as resp:
        assert resp.status == 200
        families = {f.name for f in text_string_to_metric_families(resp.read().decode())}
    assert "kaizen_perf_invalid_events" in families


@pytest.mark.parametrize(("call", "reason"), [
    (lambda m: m.interrupt([]), "unknown_value"),
    (lambda m: m.permission_check("bash", {}), "unknown_value"),
    (lambda m: m.checkpoint("save", duration_s=10**400), "out_of_range"),
    (lambda m: m.checkpoint("save", size_bytes=10**400), "out_of_range"),
    (lambda m: m.permission_check("bash", "denied", reason=[1]), "invalid_text"),
    (lambda m: m.record_api_call("a", "m", ttft_s="fast"), "negative_duration"),
    (lambda m: m.record_api_call("a", "m", input_tokens=10**400), "out_of_range"),
    (lambda m: m.record_api_call("a", "m", duration_s=math.inf), "out_of_range"),
    (lambda m: m.record_api_call("a", "m", status_code="500"), "invalid_status"),
    (lambda m: m.interrupt(_Raises()), "unknown_value"),
])
def test_each_reported_hostile_call_is_one_counted_invalid_event(
        call: Callable[[Monitor], object], reason: str) -> None:
    """The calls that raised or broke scrapes before are now one invalid event each."""
    m = Monitor("a", environ={})
    try:
        call(m)
        assert value(m, "kaizen_perf_invalid_events_total", reason=reason) == 1
    finally:
        m.shutdown(2.0)


def test_long_strings_are_cut_before_any_work(caplog: pytest.LogCaptureFixture) -> None:
    """A 10 MB tool or model name is cut to the documented length in labels and logs."""
    m = Monitor("a", environ={})
    try:
        with m.tool("t" * 10_000_000):
            pass
        m.record_api_call("acme", "m" * 10_000_000, 1, 1)
        text = m.export_metrics()
        assert value(text, "kaizen_tool_calls_total", agent="a", tool="t" * MAX_TEXT,
                     status="ok") == 1
        assert value(text, "kaizen_api_unpriced_requests_total", agent="a", provider="acme",
                     model="m" * MAX_TEXT) == 1
        assert max(len(r.getMessage()) for r in caplog.records) < 2 * MAX_TEXT + 400
    finally:
        m.shutdown(2.0)


def test_an_unencodable_agent_id_cannot_break_the_scrape() -> None:
    """An agent id with a lone surrogate (an undecodable byte in the environment) is made
    encodable, so /metrics still encodes and parses."""
    m = Monitor(environ={"KAIZEN_PERF_AGENT_ID": "bot\udcff"})
    try:
        with m.tool("t"):
            pass
        text = m.export_metrics()
        list(text_string_to_metric_families(text.encode("utf-8").decode()))
        assert value(text, "kaizen_tool_calls_total", agent="bot?", tool="t", status="ok") == 1
    finally:
        m.shutdown(2.0)
