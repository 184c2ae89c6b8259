"""In-process alerting: rules (code or TOML), an engine with de-duplication, notifiers.

Prometheus users get the same alerts as a rule file: see :mod:`kaizen_perf.rules`.
"""

from __future__ import annotations

from kaizen_perf.alerts.config import RuleConfig, load_rules, parse_rules
from kaizen_perf.alerts.engine import AlertEngine
from kaizen_perf.alerts.evaluators import Probe
from kaizen_perf.alerts.model import Alert, Finding, Notifier
from kaizen_perf.alerts.notify import CallbackNotifier, LogNotifier, WebhookNotifier
from kaizen_perf.alerts.specs import (
    BudgetRule,
    DroppedEventsRule,
    ErrorRateRule,
    ExportErrorsRule,
    LatencyRule,
    LoopRule,
    MemoryGrowthRule,
    RuleSpec,
    StuckRule,
    default_rules,
)

__all__ = [
    "Alert", "AlertEngine", "BudgetRule", "CallbackNotifier", "DroppedEventsRule",
    "ErrorRateRule", "ExportErrorsRule", "Finding", "LatencyRule", "LogNotifier", "LoopRule",
    "MemoryGrowthRule", "Notifier", "Probe", "RuleConfig", "RuleSpec", "StuckRule",
    "WebhookNotifier", "default_rules", "load_rules", "parse_rules",
]
