"""kaizen-perf: the performance monitor for long-running autonomous Python agents.

Importing this package has no side effects: no threads, no environment reads,
no registration. Call :func:`configure` (or build a :class:`Monitor`) to start.
"""

from __future__ import annotations

from kaizen_perf._version import __version__
from kaizen_perf.config import Settings
from kaizen_perf.errors import (
    AuditDenied,
    AuditStoreError,
    BaselineError,
    BudgetExceeded,
    CollectorUnavailable,
    ConfigError,
    HarnessError,
    KaizenPerfError,
)
from kaizen_perf.monitor import Monitor, configure, get_monitor

__all__ = [
    "AuditDenied",
    "AuditStoreError",
    "BaselineError",
    "BudgetExceeded",
    "CollectorUnavailable",
    "ConfigError",
    "HarnessError",
    "KaizenPerfError",
    "Monitor",
    "Settings",
    "__version__",
    "configure",
    "get_monitor",
]
