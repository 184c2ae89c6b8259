"""The suite's skip policy as a pytest plugin: under ``KAIZEN_PERF_REQUIRE_E2E=1`` no skip passes.

A skip means a real component (Prometheus, bpftrace, PostgreSQL, Chromium, a client
package) is missing. Locally that is fine; in CI it would let a green run hide an
untested integration, so every skip, whatever raised it (``need()``, ``importorskip``,
``skipif``, a module-level skip), becomes a failure that names the reason.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest


def _fail_skip(report: Any) -> None:
    if os.environ.get("KAIZEN_PERF_REQUIRE_E2E") != "1":
        return
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under KAIZEN_PERF_REQUIRE_E2E=1 (CI): {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Generator[None, Any, None]:
    outcome = yield
    _fail_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, None]:
    outcome = yield
    _fail_skip(outcome.get_result())
