"""Monitors for cost and budget tests: fake clock, no alert thread unless asked."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kaizen_perf import Monitor
from kaizen_perf.testing import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_monitor(clock: FakeClock) -> Iterator[Callable[..., Monitor]]:
    made: list[Monitor] = []

    def make(**kwargs: Any) -> Monitor:
        kwargs.setdefault("alerts_enabled", False)
        mon = Monitor(kwargs.pop("agent_id", "coster"), clock=clock, environ={}, strict=True,
                      **kwargs)
        made.append(mon)
        return mon

    yield make
    for mon in made:
        mon.shutdown(2.0)
