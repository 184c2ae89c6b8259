"""Fixtures for every test: no leaked kaizen-perf threads, a fresh global monitor.

Also the suite-wide policies: under ``KAIZEN_PERF_REQUIRE_E2E=1`` (CI) every skip,
wherever it comes from (``need()``, ``importorskip``, ``skipif``, a module-level skip),
is turned into a failure, so a component missing from CI cannot pass unnoticed; and
Hypothesis runs without its per-example deadline, which a loaded 2-core machine
breaks for reasons that have nothing to do with the code under test.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from kaizen_perf import monitor as monitor_module
from tests.e2e_policy import pytest_make_collect_report, pytest_runtest_makereport

settings.register_profile("kaizen-perf", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("kaizen-perf")

__all__ = ["pytest_make_collect_report", "pytest_runtest_makereport"]  # the skip policy


def _ours() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("kaizen-perf-")}


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves a kaizen-perf-* thread running (after a short grace period)."""
    before = _ours()
    yield
    glob = monitor_module._global
    if glob is not None:
        glob.shutdown(2.0)
        monitor_module._global = None
    deadline = time.monotonic() + 2.0
    leaked = _ours() - before
    while leaked and time.monotonic() < deadline:
        time.sleep(0.02)
        leaked = {t for t in leaked if t.is_alive()}
    assert not leaked, f"test leaked threads: {sorted(t.name for t in leaked)}"
