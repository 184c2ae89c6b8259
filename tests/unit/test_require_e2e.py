"""The CI skip policy: with KAIZEN_PERF_REQUIRE_E2E=1 a missing component fails the run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]

PROBE = '''
import pytest
mod = pytest.importorskip("{missing}")
'''
RUNTIME = '''
import pytest
def test_needs_component():
    """needs a component that is not installed"""
    pytest.skip("prometheus not found on PATH (apt-get install prometheus)")
'''


def _run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
         require: bool) -> pytest.RunResult:
    pytester.makepyfile(test_module_skip=PROBE.format(missing="kaizen_perf_no_such_package"),
                        test_runtime_skip=RUNTIME)
    monkeypatch.setenv("PYTHONPATH", f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    if require:
        monkeypatch.setenv("KAIZEN_PERF_REQUIRE_E2E", "1")
    else:
        monkeypatch.delenv("KAIZEN_PERF_REQUIRE_E2E", raising=False)
    return pytester.runpytest_subprocess("-p", "tests.e2e_policy", "-p", "no:cacheprovider",
                                         "--continue-on-collection-errors")


def test_skips_fail_under_require_e2e(pytester: pytest.Pytester,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A module-level importorskip and a runtime skip both fail, naming what is missing."""
    result = _run(pytester, monkeypatch, require=True)
    result.assert_outcomes(failed=1, errors=1)
    result.stdout.fnmatch_lines(["*KAIZEN_PERF_REQUIRE_E2E=1*"])
    assert "apt-get install prometheus" in result.stdout.str()


def test_skips_stay_skips_locally(pytester: pytest.Pytester,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the variable the same components skip, so a bare laptop still runs the suite."""
    result = _run(pytester, monkeypatch, require=False)
    result.assert_outcomes(skipped=2)
