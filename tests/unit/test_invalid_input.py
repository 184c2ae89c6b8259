"""Bad hook input: counted and logged once per reason, or a ValueError under strict mode."""

from __future__ import annotations

import math

import pytest

from kaizen_perf import Monitor
from tests.unit.metrics_util import value

BAD_CALLS = [
    ("negative_duration", lambda m: m.permission_check("bash", "approved", duration_s=-1.0)),
    ("nan_value", lambda m: m.hook_executed("pre", duration_s=math.nan)),
    ("nan_value", lambda m: m.record_api_call("anthropic", "claude-haiku-4-5", math.nan, 1)),
    ("negative_count", lambda m: m.record_api_call("anthropic", "claude-haiku-4-5", -5, 1)),
    ("unknown_value", lambda m: m.permission_check("bash", "maybe")),
    ("unknown_value", lambda m: m.checkpoint("delete")),
    ("unknown_value", lambda m: m.interrupt("polite")),
    ("unknown_value", lambda m: m.control_request("approval", 0.1, outcome="lost")),
    ("invalid_label", lambda m: m.tool(42)),
    ("invalid_label", lambda m: m.task(None, "high", 1.0)),
]


@pytest.mark.parametrize(("reason", "call"), BAD_CALLS)
def test_bad_values_are_counted_not_raised(reason: str, call, caplog) -> None:  # type: ignore[no-untyped-def]
    """Each kind of bad value is counted under its reason and never raises into the agent."""
    mon = Monitor("a", environ={})
    try:
        call(mon)
        call(mon)
        assert value(mon, "kaizen_perf_invalid_events_total", reason=reason) == 2
        assert sum("unusable value" in r.getMessage() for r in caplog.records) == 1
    finally:
        mon.shutdown(2.0)


@pytest.mark.parametrize(("reason", "call"), BAD_CALLS)
def test_strict_mode_raises_a_full_sentence(reason: str, call) -> None:  # type: ignore[no-untyped-def]
    """With KAIZEN_PERF_STRICT=1 a bad value raises ValueError with a full sentence."""
    mon = Monitor("a", environ={"KAIZEN_PERF_STRICT": "1"})
    try:
        sentence = r"^kaizen-perf hook called with an unusable value: .+\.$"
        with pytest.raises(ValueError, match=sentence):
            call(mon)
    finally:
        mon.shutdown(2.0)


def test_bad_tool_name_still_runs_the_body() -> None:
    """Even with an unusable tool name, the agent's code inside the scope runs normally."""
    mon = Monitor("a", environ={})
    ran = []
    try:
        with mon.tool(""):  # type: ignore[arg-type]
            ran.append(True)
    finally:
        mon.shutdown(2.0)
    assert ran == [True]
