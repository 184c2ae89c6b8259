"""Numeric settings: one rule per variable, the same message for junk and for out-of-range."""

from __future__ import annotations

import pytest

from kaizen_perf.config import Settings
from kaizen_perf.errors import ConfigError

# variable, field, smallest accepted text, a rejected number, the expected form
CASES = [
    ("KAIZEN_PERF_BUFFER_SIZE", "buffer_size", "1", "0", "a whole number greater than 0"),
    ("KAIZEN_PERF_LOOP_REPEATS", "loop_repeats", "2", "1", "a whole number of 2 or more"),
    ("KAIZEN_PERF_FLUSH_INTERVAL", "flush_interval_s", "0.001", "inf",
     "a number of seconds greater than 0"),
    ("KAIZEN_PERF_BUDGET_USD", "budget_usd", "0.01", "0", "a number of US dollars greater than 0"),
    ("KAIZEN_PERF_READY_BACKLOG", "ready_backlog", "1", "0", "a fraction between 0 and 1"),
    ("KAIZEN_PERF_TRACE_SAMPLE_RATIO", "trace_sample_ratio", "0", "1.5",
     "a fraction from 0 to 1"),
]


@pytest.mark.parametrize(("env", "name", "edge", "out", "form"), CASES, ids=[c[0] for c in CASES])
def test_junk_and_out_of_range_get_the_same_expected_form(
        env: str, name: str, edge: str, out: str, form: str) -> None:
    """Text that is no number and a number outside the range both name the expected form."""
    for raw in ("lots", out, "nan"):
        with pytest.raises(ConfigError, match=form) as err:
            Settings.load({env: raw})
        assert f"{env}={raw!r}" in str(err.value)
    assert getattr(Settings.load({env: edge}), name) == float(edge)


@pytest.mark.parametrize(("name", "out", "form"), [(c[1], c[3], c[4]) for c in CASES],
                         ids=[c[1] for c in CASES])
def test_arguments_follow_the_variable_rule(name: str, out: str, form: str) -> None:
    """A keyword argument out of range is rejected by the same rule as its variable."""
    value = int(out) if isinstance(getattr(Settings(), name), int) else float(out)
    with pytest.raises(ConfigError, match=f"Argument {name}=.*expected {form}"):
        Settings.load({}, **{name: value})
