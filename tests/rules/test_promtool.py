"""The Prometheus rule file: valid for promtool, committed up to date, every alert unit-tested."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path

import pytest

from kaizen_perf.cli.main import main
from kaizen_perf.rules import prometheus_rules
from tests.helpers import need_binary
from tests.rules.cases import CASES

COMMITTED = Path(__file__).resolve().parents[2] / "dashboards" / "kaizen-alerts.rules.yml"


@pytest.fixture(scope="module")
def rule_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rules") / "kaizen-alerts.rules.yml"
    assert main(["rules", "export", "-o", str(path)]) == 0
    return path


def _promtool_test(rule_file: Path, group: dict[str, object]) -> subprocess.CompletedProcess[str]:
    promtool = need_binary("promtool", "prometheus")
    test = rule_file.parent / f"test-{id(group)}.json"  # JSON is YAML: promtool reads it
    test.write_text(json.dumps({"rule_files": [rule_file.name], "evaluation_interval": "1m",
                                "tests": [group]}))
    return subprocess.run([promtool, "test", "rules", str(test)], capture_output=True,
                          text=True, timeout=60, check=False)


def test_exported_rule_file_passes_promtool_check(rule_file: Path) -> None:
    """`kaizen-perf rules export` writes a file that `promtool check rules` accepts."""
    promtool = need_binary("promtool", "prometheus")
    done = subprocess.run([promtool, "check", "rules", str(rule_file)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(prometheus_rules())} rules found" in done.stdout


def test_committed_rule_file_is_up_to_date(rule_file: Path) -> None:
    """dashboards/kaizen-alerts.rules.yml is exactly what the export writes today."""
    assert COMMITTED.read_text() == rule_file.read_text(), (
        "regenerate: kaizen-perf rules export -o dashboards/kaizen-alerts.rules.yml")


def test_every_alert_has_a_promtool_case() -> None:
    """Each alert name in the exported file is covered by a promtool unit test below."""
    assert {r.alert for r in prometheus_rules()} == set(CASES)


@pytest.mark.parametrize("alert", sorted(CASES))
def test_alert_fires_for_its_series_only(rule_file: Path, alert: str) -> None:
    """promtool test rules: the alert fires for the series that breach it, not the others."""
    done = _promtool_test(rule_file, CASES[alert])
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_case_fails_when_the_expectation_is_wrong(rule_file: Path) -> None:
    """The harness can fail: expecting the healthy agent to be stuck is reported by promtool."""
    case = copy.deepcopy(CASES["KaizenAgentStuck"])
    case["alert_rule_test"][1]["exp_alerts"][0]["exp_labels"]["agent"] = "busy"
    done = _promtool_test(rule_file, case)
    assert done.returncode != 0
    assert "KaizenAgentStuck" in done.stdout + done.stderr
