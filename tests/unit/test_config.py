"""Settings: precedence, validation messages, and the documented variable list."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kaizen_perf.config import Settings, env_vars
from kaizen_perf.errors import ConfigError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_argument_beats_environment_beats_default() -> None:
    """An explicit argument wins over the variable, which wins over the default."""
    env = {"KAIZEN_PERF_AGENT_ID": "from-env", "KAIZEN_PERF_SERIES_CAP": "50"}
    assert Settings.load(env).agent_id == "from-env"
    assert Settings.load(env, agent_id="from-arg").agent_id == "from-arg"
    assert Settings.load(env).series_cap == 50
    assert Settings.load({}).series_cap == 10_000


def test_bad_environment_value_names_variable_value_and_form() -> None:
    """A bad variable raises ConfigError naming the variable, the value and what is expected."""
    with pytest.raises(ConfigError) as err:
        Settings.load({"KAIZEN_PERF_BUFFER_SIZE": "lots"})
    assert "KAIZEN_PERF_BUFFER_SIZE='lots'" in str(err.value)
    assert "whole number greater than 0" in str(err.value)


@pytest.mark.parametrize(("name", "raw"), [
    ("KAIZEN_PERF_ENABLED", "maybe"), ("KAIZEN_PERF_FLUSH_INTERVAL", "-1"),
    ("KAIZEN_PERF_FLUSH_INTERVAL", "nan"), ("KAIZEN_PERF_METRICS_ADDR", "localhost"),
    ("KAIZEN_PERF_READY_BACKLOG", "2"), ("KAIZEN_PERF_SERIES_CAP", "0"),
])
def test_each_parser_rejects_bad_values(name: str, raw: str) -> None:
    """Every kind of setting rejects an unusable value with a message naming it."""
    with pytest.raises(ConfigError, match=re.escape(f"{name}={raw!r}")):
        Settings.load({name: raw})


def test_bad_argument_is_a_config_error() -> None:
    """A bad keyword argument is reported as an argument, not as a variable."""
    with pytest.raises(ConfigError, match="Argument series_cap=-5"):
        Settings.load({}, series_cap=-5)
    with pytest.raises(ConfigError, match="Unknown setting 'seriescap'"):
        Settings.load({}, seriescap=5)


def test_booleans_accept_the_usual_spellings() -> None:
    """1/0, true/false, yes/no and on/off all work for boolean variables."""
    for raw, expected in [("1", True), ("off", False), ("YES", True), ("False", False)]:
        assert Settings.load({"KAIZEN_PERF_STRICT": raw}).strict is expected


def test_every_variable_is_documented() -> None:
    """docs/configuration.md lists every variable that Settings reads, and no others."""
    documented = set(re.findall(r"`(KAIZEN_PERF_[A-Z0-9_]+)`", DOCS.read_text()))
    assert set(env_vars()) <= documented
    settings_vars = set(env_vars())
    extra = {v for v in documented - settings_vars if v != "KAIZEN_PERF_REQUIRE_E2E"}
    assert not extra, f"documented but not read by Settings: {sorted(extra)}"


def test_settings_are_frozen() -> None:
    """Settings cannot be changed after construction (decide once)."""
    s = Settings.load({})
    with pytest.raises(AttributeError):
        s.agent_id = "x"  # type: ignore[misc]
    assert s.replace(agent_id="y").agent_id == "y"
