"""Fixtures for every test: no leaked kaizen-perf threads, a fresh global monitor."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from kaizen_perf import monitor as monitor_module


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
