"""Alert rules from TOML: validated when loaded, so a typo fails at start-up, not at 3 a.m."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaizen_perf import Monitor
from kaizen_perf.alerts import LatencyRule, load_rules
from kaizen_perf.errors import ConfigError

GOOD = '''
cooldown_s = 60
[[rule]]
kind = "latency"
name = "SlowSearch"
metric = "kaizen_tool_duration_seconds"
match = { tool = "web_search" }
threshold_s = 5
window_s = 120

[[rule]]
kind = "budget"
thresholds = [0.9, 0.5]
'''


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    return path


def test_rule_file_loads_with_the_defaults(tmp_path: Path) -> None:
    """Rules from the file join the defaults; one with a default's name replaces it."""
    config = load_rules(_write(tmp_path, GOOD))
    by_name = {r.name: r for r in config.rules}
    assert config.cooldown_s == 60
    assert by_name["SlowSearch"] == LatencyRule(name="SlowSearch",
                                                metric="kaizen_tool_duration_seconds",
                                                match={"tool": "web_search"}, threshold_s=5,
                                                window_s=120)
    assert by_name["KaizenBudget"].thresholds == (0.5, 0.9)  # type: ignore[union-attr]
    assert "KaizenAgentStuck" in by_name


@pytest.mark.parametrize(("body", "message"), [
    ('kind = "latency"\nmetric = "kaizen_tool_latency"\nthreshold_s = 5',
     "metric 'kaizen_tool_latency' is not a kaizen-perf metric"),
    ('kind = "latency"\nmetric = "kaizen_tool_calls_total"\nthreshold_s = 5',
     "cannot be watched by this rule kind"),
    ('kind = "latency"\nmetric = "kaizen_tool_duration_seconds"\nthreshold_s = "5s"',
     "threshold_s = '5s' is not valid: expected seconds greater than 0"),
    ('kind = "latency"\nmetric = "kaizen_tool_duration_seconds"\nthreshold_s = 500',
     "below 81.92"),
    ('kind = "error_rate"\nthreshold = 20', "expected a fraction of calls between 0 and 1"),
    ('kind = "stuck"\nafter_s = -5', "after_s = -5 is not valid"),
    ('kind = "memory_growth"\nthreshold_bytes = nan', "threshold_bytes = nan"),
    ('kind = "latency"\nmetric = "kaizen_tool_duration_seconds"\nmatch = { model = "x" }',
     "match.model"),
    ('kind = "slow"', "kind = 'slow' is not valid"),
    ('kind = "stuck"\nafter = 5', "unknown field 'after'"),
    ('kind = "stuck"\nname = "has space"', "a Prometheus alert name"),
    ('kind = "budget"\nthresholds = [0.5, 2]', "fractions between 0 and 1"),
])
def test_bad_rules_fail_at_load_naming_rule_and_field(tmp_path: Path, body: str,
                                                      message: str) -> None:
    """Unknown metrics, kinds and fields, and malformed thresholds are ConfigErrors."""
    path = _write(tmp_path, "[[rule]]\n" + body + "\n")
    with pytest.raises(ConfigError) as info:
        load_rules(path)
    assert message in str(info.value)
    assert str(path) in str(info.value) and "rule #1" in str(info.value)


def test_monitor_refuses_a_bad_rule_file_at_construction(tmp_path: Path) -> None:
    """KAIZEN_PERF_ALERT_RULES pointing at a broken file stops start-up with the reason."""
    path = _write(tmp_path, "[[rule]]\nkind = \"stuck\"\nafter_s = \"soon\"\n")
    with pytest.raises(ConfigError, match="after_s = 'soon'"):
        Monitor(environ={"KAIZEN_PERF_ALERT_RULES": str(path)})
    with pytest.raises(ConfigError, match="Cannot read alert rule file"):
        Monitor(environ={"KAIZEN_PERF_ALERT_RULES": str(tmp_path / "missing.toml")})


def test_rules_export_translates_the_rule_file(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """`rules export --rules FILE` writes the user's rules as PromQL, matcher included."""
    from kaizen_perf.cli.main import main
    assert main(["rules", "export", "--rules", str(_write(tmp_path, GOOD))]) == 0
    out = capsys.readouterr().out
    assert "alert: SlowSearch" in out
    assert 'kaizen_tool_duration_seconds_bucket{tool="web_search"}[2m]' in out
