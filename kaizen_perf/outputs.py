"""The sinks a monitor gets from its settings besides metrics (traces, logs, StatsD…).

``default_sinks`` is called once by :class:`~kaizen_perf.monitor.Monitor` at
construction: decide once which outputs exist, so the dispatcher only loops
over the sinks that are really on.
"""

from __future__ import annotations

from collections.abc import Callable

from kaizen_perf.config import Settings
from kaizen_perf.pipeline import Sink


def default_sinks(settings: Settings, *, to_wall_ns: Callable[[int], int]) -> list[Sink]:
    """Sinks enabled by ``settings``; ``to_wall_ns`` converts event times to Unix ns."""
    return []
