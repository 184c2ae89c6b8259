"""Parity targets and gates: the project's file, pyproject, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaizen_perf.errors import ConfigError
from kaizen_perf.regression.targets import load_targets

ROOT = Path(__file__).resolve().parents[2]


def test_project_targets_include_the_original_budgets() -> None:
    """baselines/parity-targets.toml carries every original budget and ours."""
    targets = load_targets(ROOT)
    by_name = {t.name: t for t in targets.targets}
    assert by_name["metrics collection overhead"].budget == 0.02
    assert by_name["logging overhead"].budget == 0.05
    assert by_name["tracing overhead"].budget == 0.01
    assert by_name["metrics export"].budget == 1.0
    assert by_name["audit write"].budget == 0.010
    assert any(n.startswith("hook hot path") for n in by_name)
    assert any(t.unit == "bytes" for t in targets.targets)
    assert targets.gate == 0.03


def test_pyproject_section_is_the_fallback(tmp_path: Path) -> None:
    """Without a targets file, [tool.kaizen-perf] in pyproject.toml is read (gates as "2%")."""
    (tmp_path / "pyproject.toml").write_text(
        '[tool.kaizen-perf]\ngate = "2%"\n[tool.kaizen-perf.gates]\n"b.bench_x" = 0.1\n'
        '[[tool.kaizen-perf.target]]\nname = "x"\nkind = "absolute"\n'
        'benchmark = "b.bench_x"\nbudget = 0.5\n')
    targets = load_targets(tmp_path)
    assert targets.gate == pytest.approx(0.02)
    assert targets.gate_for("b.bench_x", None) == 0.1
    assert targets.gate_for("b.bench_y", 0.07) == 0.07
    assert targets.targets[0].budget == 0.5


def test_no_configuration_means_defaults(tmp_path: Path) -> None:
    """A project with no targets anywhere gets the 3 % gate and no targets."""
    targets = load_targets(tmp_path)
    assert targets.gate == 0.03 and targets.targets == ()


@pytest.mark.parametrize(("body", "message"), [
    ('gate = 3\n', "not a fraction"),
    ('[[target]]\nname = "x"\nkind = "weird"\nbenchmark = "b"\nbudget = 1\n', "kind"),
    ('[[target]]\nname = "x"\nkind = "overhead"\nbenchmark = "b"\nbudget = 1\n', "reference"),
    ('[[target]]\nname = "x"\nkind = "absolute"\nbenchmark = "b"\nbudget = -1\n', "budget"),
    ('gate = [', "not valid TOML"),
])
def test_bad_files_fail_with_the_value_and_the_fix(tmp_path: Path, body: str,
                                                   message: str) -> None:
    """Every malformed targets file raises ConfigError naming the problem."""
    path = tmp_path / "t.toml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=message):
        load_targets(tmp_path, path)
