"""Alert rules as data: what to watch, the threshold, the window; and the same rule in PromQL.

A rule spec is a frozen dataclass, validated at construction (in code or from a
TOML file), so a bad threshold fails at start-up rather than at 3 a.m. Each spec
builds its in-process evaluator (:mod:`kaizen_perf.alerts.evaluators`) and
renders itself as Prometheus alerting rules (:meth:`prometheus`), so the alerts
fired in-process and by Prometheus mean the same thing.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from kaizen_perf.config import STUCK_AFTER_S
from kaizen_perf.errors import ConfigError
from kaizen_perf.metrics import METRICS

#: duration histograms a latency rule can watch, and their default alert names
LATENCY_METRICS = {"kaizen_tool_duration_seconds": "KaizenToolLatencyHigh",
                   "kaizen_api_request_duration_seconds": "KaizenApiLatencyHigh",
                   "kaizen_agent_loop_duration_seconds": "KaizenLoopLatencyHigh"}
#: counters with a ``status`` label an error-rate rule can watch
ERROR_METRICS = {"kaizen_tool_calls_total": "KaizenToolErrorRateHigh",
                 "kaizen_api_requests_total": "KaizenApiErrorRateHigh",
                 "kaizen_agent_loop_iterations_total": "KaizenLoopErrorRateHigh"}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class PromRule:
    """One Prometheus alerting rule."""

    alert: str
    expr: str
    for_: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]


def _fail(rule: str, field_: str, value: object, expected: str) -> ConfigError:
    return ConfigError(f"Alert rule {rule!r}: {field_} = {value!r} is not valid: "
                       f"expected {expected}.")


def _number(rule: str, field_: str, value: object, *, low: float = 0.0,
            inclusive: bool = False, high: float = math.inf, expected: str = "") -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) \
        and math.isfinite(value) and (value >= low if inclusive else value > low) \
        and value <= high
    if not ok:
        raise _fail(rule, field_, value, expected or f"a number greater than {low:g}")
    return float(value)  # type: ignore[arg-type]


def prom_duration(seconds: float) -> str:
    """A PromQL duration for a number of seconds (``300`` → ``5m``)."""
    # Whole milliseconds: PromQL has no fractional durations, and the largest unit that
    # divides evenly keeps generated rules readable (and equal to hand-written ones).
    ms = round(seconds * 1000)
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def num(x: float) -> str:
    """A number for PromQL and messages: integral values without a decimal point."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))


def _matchers(match: Mapping[str, str], extra: str = "") -> str:
    parts = [f"{k}={json.dumps(v)}" for k, v in sorted(match.items())]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


@dataclass(frozen=True)
class _Base:
    kind: ClassVar[str] = ""
    default_name: ClassVar[str] = ""
    name: str = ""
    severity: str = "warning"

    def _check_common(self) -> None:
        if not self.name:
            # Frozen, but the default name depends on the watched metric, known only here.
            object.__setattr__(self, "name", self._default_name())
        if not _NAME.match(self.name):
            raise _fail(self.name, "name", self.name,
                        "a Prometheus alert name: letters, digits and _, such as SlowSearch")
        if self.severity not in ("info", "warning", "critical"):
            raise _fail(self.name, "severity", self.severity, "info, warning or critical")

    def _default_name(self) -> str:
        return self.default_name

    def _annotations(self, summary: str) -> dict[str, str]:
        return {"summary": summary, "source": f"kaizen-perf {self.kind} rule"}


def _check_match(rule: str, metric: str, match: Mapping[str, Any]) -> None:
    labels = set(METRICS[metric].labels) - {"status"}
    for label, value in match.items():
        if label not in labels:
            raise _fail(rule, f"match.{label}", value,
                        f"a label of {metric}: one of {', '.join(sorted(labels))}")
        if not isinstance(value, str) or not value:
            raise _fail(rule, f"match.{label}", value, "a non-empty string")


def _check_metric(rule: str, metric: str, allowed: Mapping[str, str]) -> None:
    if metric not in allowed:
        where = "is not a kaizen-perf metric" if metric not in METRICS else \
            "cannot be watched by this rule kind"
        msg = (f"Alert rule {rule!r}: metric {metric!r} {where}. Expected one of: "
               f"{', '.join(sorted(allowed))}.")
        raise ConfigError(msg)


@dataclass(frozen=True)
class LatencyRule(_Base):
    """Fires when a quantile (p95) of a duration over ``window_s`` exceeds ``threshold_s``."""

    kind: ClassVar[str] = "latency"
    metric: str = "kaizen_api_request_duration_seconds"
    threshold_s: float = 60.0
    quantile: float = 0.95
    window_s: float = 300.0
    min_count: int = 5
    match: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_metric(self.name or "latency", self.metric, LATENCY_METRICS)
        self._check_common()
        top = METRICS[self.metric].buckets[-1]
        # a bucketed quantile never exceeds the highest finite bucket: such a rule never fires
        _number(self.name, "threshold_s", self.threshold_s, high=top * 0.999,
                expected=f"seconds greater than 0 and below {num(top)} (the highest histogram "
                         f"bucket of {self.metric})")
        _number(self.name, "quantile", self.quantile, high=0.999999,
                expected="a quantile between 0 and 1, such as 0.95")
        _number(self.name, "window_s", self.window_s, expected="seconds greater than 0")
        if type(self.min_count) is not int or self.min_count < 1:
            raise _fail(self.name, "min_count", self.min_count, "a whole number of at least 1")
        _check_match(self.name, self.metric, self.match)

    def _default_name(self) -> str:
        return LATENCY_METRICS[self.metric]

    def group_labels(self) -> tuple[str, ...]:
        """The labels one alert instance is per (the metric's labels)."""
        return METRICS[self.metric].labels

    def prometheus(self) -> list[PromRule]:
        """The same condition in PromQL."""
        by, win = ", ".join(self.group_labels()), prom_duration(self.window_s)
        sel = _matchers(self.match)
        # The `and on (...) increase(_count) >= min_count` half is the in-process rule's
        # min_count: without it, one slow call in a quiet window would page.
        expr = (f"histogram_quantile({num(self.quantile)}, sum by (le, {by}) "
                f"(rate({self.metric}_bucket{sel}[{win}]))) > {num(self.threshold_s)}\n"
                f"and on ({by}) sum by ({by}) (increase({self.metric}_count{sel}[{win}])) "
                f">= {self.min_count}")
        what = self.metric.removeprefix("kaizen_").removesuffix("_seconds").replace("_", " ")
        summary = (f"p{num(round(self.quantile * 100, 4))} {what} of {{{{ $labels.agent }}}} is "
                   f"{{{{ $value | humanize }}}}s over {win} (threshold {num(self.threshold_s)}s)")
        return [PromRule(self.name, expr, "0s", {"severity": self.severity},
                         self._annotations(summary))]


@dataclass(frozen=True)
class ErrorRateRule(_Base):
    """Fires when the share of failed calls over ``window_s`` exceeds ``threshold``."""

    kind: ClassVar[str] = "error_rate"
    metric: str = "kaizen_api_requests_total"
    threshold: float = 0.2
    window_s: float = 300.0
    min_count: int = 10
    match: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_metric(self.name or "error_rate", self.metric, ERROR_METRICS)
        self._check_common()
        _number(self.name, "threshold", self.threshold, high=1.0,
                expected="a fraction of calls between 0 and 1, such as 0.2")
        _number(self.name, "window_s", self.window_s, expected="seconds greater than 0")
        if type(self.min_count) is not int or self.min_count < 1:
            raise _fail(self.name, "min_count", self.min_count, "a whole number of at least 1")
        _check_match(self.name, self.metric, self.match)

    def _default_name(self) -> str:
        return ERROR_METRICS[self.metric]

    def group_labels(self) -> tuple[str, ...]:
        """The labels one alert instance is per (the metric's labels but status)."""
        return tuple(x for x in METRICS[self.metric].labels if x != "status")

    def prometheus(self) -> list[PromRule]:
        """The same condition in PromQL."""
        by, win = ", ".join(self.group_labels()), prom_duration(self.window_s)
        total = f"sum by ({by}) (increase({self.metric}{_matchers(self.match)}[{win}]))"
        errors = (f"sum by ({by}) (increase("
                  f"{self.metric}{_matchers(self.match, 'status=' + chr(34) + 'error' + chr(34))}"
                  f"[{win}]))")
        expr = (f"{errors} / {total} > {num(self.threshold)}\n"
                f"and on ({by}) {total} >= {self.min_count}")
        summary = (f"{{{{ $value | humanizePercentage }}}} of {self.metric} calls of "
                   f"{{{{ $labels.agent }}}} failed over {win} (threshold "
                   f"{num(self.threshold * 100)}%)")
        return [PromRule(self.name, expr, "0s", {"severity": self.severity},
                         self._annotations(summary))]


@dataclass(frozen=True)
class StuckRule(_Base):
    """Fires when an agent that has run loop iterations finishes none for ``after_s``."""

    kind: ClassVar[str] = "stuck"
    default_name: ClassVar[str] = "KaizenAgentStuck"
    severity: str = "critical"
    after_s: float = STUCK_AFTER_S

    def __post_init__(self) -> None:
        self._check_common()
        _number(self.name, "after_s", self.after_s, expected="seconds greater than 0")

    def prometheus(self) -> list[PromRule]:
        """The same condition in PromQL (the gauge goes stale when the process dies)."""
        expr = (f"time() - kaizen_agent_last_progress_timestamp_seconds > {num(self.after_s)}")
        summary = (f"agent {{{{ $labels.agent }}}} finished no loop iteration for "
                   f"{{{{ $value | humanizeDuration }}}} (threshold {num(self.after_s)}s)")
        return [PromRule(self.name, expr, "0s", {"severity": self.severity},
                         self._annotations(summary))]


@dataclass(frozen=True)
class MemoryGrowthRule(_Base):
    """Fires when resident memory grew by more than ``threshold_bytes`` over ``window_s``."""

    kind: ClassVar[str] = "memory_growth"
    default_name: ClassVar[str] = "KaizenMemoryGrowth"
    threshold_bytes: float = 512 * 2**20
    window_s: float = 3600.0

    def __post_init__(self) -> None:
        self._check_common()
        _number(self.name, "threshold_bytes", self.threshold_bytes,
                expected="a number of bytes greater than 0, such as 536870912")
        _number(self.name, "window_s", self.window_s, expected="seconds greater than 0")

    def prometheus(self) -> list[PromRule]:
        """The same condition in PromQL."""
        win = prom_duration(self.window_s)
        expr = f"delta(kaizen_process_resident_memory_bytes[{win}]) > {num(self.threshold_bytes)}"
        summary = (f"resident memory of {{{{ $labels.agent }}}} grew by "
                   f"{{{{ $value | humanize1024 }}}}B over {win}")
        return [PromRule(self.name, expr, "0s", {"severity": self.severity},
                         self._annotations(summary))]


@dataclass(frozen=True)
class _CounterRule(_Base):
    threshold: float = 0.0
    window_s: float = 300.0
    metric: ClassVar[str] = ""
    by: ClassVar[str] = ""

    def __post_init__(self) -> None:
        self._check_common()
        _number(self.name, "threshold", self.threshold, inclusive=True,
                expected="a count of 0 or more (the alert fires above it)")
        _number(self.name, "window_s", self.window_s, expected="seconds greater than 0")

    def prometheus(self) -> list[PromRule]:
        """The same condition in PromQL."""
        win = prom_duration(self.window_s)
        expr = f"increase({self.metric}[{win}]) > {num(self.threshold)}"
        summary = (f"{{{{ $value }}}} {self.metric.removeprefix('kaizen_perf_')} "
                   f"({self.by} {{{{ $labels.{self.by} }}}}) over {win}")
        return [PromRule(self.name, expr, "0s", {"severity": self.severity},
                         self._annotations(summary))]


@dataclass(frozen=True)
class DroppedEventsRule(_CounterRule):
    """Fires when more than ``threshold`` events were dropped over ``window_s``."""

    kind: ClassVar[str] = "dropped_events"
    default_name: ClassVar[str] = "KaizenEventsDropped"
    metric: ClassVar[str] = "kaizen_perf_events_dropped_total"
    by: ClassVar[str] = "sink"


@dataclass(frozen=True)
class ExportErrorsRule(_CounterRule):
    """Fires when an exporter failed more than ``threshold`` times over ``window_s``."""

    kind: ClassVar[str] = "export_errors"
    default_name: ClassVar[str] = "KaizenExportErrors"
    metric: ClassVar[str] = "kaizen_perf_export_errors_total"
    by: ClassVar[str] = "exporter"


@dataclass(frozen=True)
class BudgetRule(_Base):
    """Fires once per budget and threshold reached (50/80/100 % by default)."""

    kind: ClassVar[str] = "budget"
    default_name: ClassVar[str] = "KaizenBudget"
    thresholds: tuple[float, ...] = (0.5, 0.8, 1.0)

    def __post_init__(self) -> None:
        self._check_common()
        if not isinstance(self.thresholds, tuple | list) or not self.thresholds:
            raise _fail(self.name, "thresholds", self.thresholds,
                        "a list of fractions such as [0.5, 0.8, 1.0]")
        for t in self.thresholds:
            _number(self.name, "thresholds", t, high=1.0,
                    expected="fractions between 0 and 1, such as [0.5, 0.8, 1.0]")
        object.__setattr__(self, "thresholds", tuple(sorted(self.thresholds)))

    def severity_of(self, threshold: float) -> str:
        """critical at 100 %, warning from 80 %, info below (unless a severity was set)."""
        if self.severity != "warning":
            return self.severity
        return "critical" if threshold >= 1 else "warning" if threshold >= 0.8 else "info"

    def prometheus(self) -> list[PromRule]:
        """One rule per threshold, all with the same alert name and a ``threshold`` label."""
        out = []
        for t in self.thresholds:
            expr = (f"kaizen_budget_spent_usd / kaizen_budget_usd >= {num(t)}\n"
                    f"and on (agent) kaizen_budget_usd > 0")
            summary = (f"agent {{{{ $labels.agent }}}} spent {{{{ $value | humanizePercentage }}}}"
                       f" of its budget (threshold {num(t * 100)}%)")
            out.append(PromRule(self.name, expr, "0s",
                                {"severity": self.severity_of(t), "threshold": f"{num(t * 100)}%"},
                                self._annotations(summary)))
        return out


@dataclass(frozen=True)
class LoopRule(_Base):
    """Fires when an agent called one tool with the same arguments ``repeats`` times in a row
    (``mon.tool(name, arguments=...)``) within ``window_s``: it is probably stuck in a loop."""

    kind: ClassVar[str] = "agent_loop"
    default_name: ClassVar[str] = "KaizenAgentLoop"
    repeats: int = 3
    window_s: float = 300.0

    def __post_init__(self) -> None:
        self._check_common()
        if isinstance(self.repeats, bool) or not isinstance(self.repeats, int) \
                or self.repeats < 2:
            raise _fail(self.name, "repeats", self.repeats, "a whole number of 2 or more")
        _number(self.name, "window_s", self.window_s, expected="seconds greater than 0")

    def prometheus(self) -> list[PromRule]:
        """The same condition in PromQL (the repeat count is applied in the monitor)."""
        win = prom_duration(self.window_s)
        expr = f"increase(kaizen_agent_loops_detected_total[{win}]) > 0"
        summary = (f"agent {{{{ $labels.agent }}}} called {{{{ $labels.tool }}}} with the same "
                   f"arguments {self.repeats} times in a row (a loop within {win})")
        return [PromRule(self.name, expr, "0s", {"severity": self.severity},
                         self._annotations(summary))]


RuleSpec = (LatencyRule | ErrorRateRule | StuckRule | MemoryGrowthRule | DroppedEventsRule
            | ExportErrorsRule | BudgetRule | LoopRule)
RULE_KINDS: dict[str, type[RuleSpec]] = {cls.kind: cls for cls in (
    LatencyRule, ErrorRateRule, StuckRule, MemoryGrowthRule, DroppedEventsRule,
    ExportErrorsRule, BudgetRule, LoopRule)}


def default_rules(*, stuck_after_s: float = STUCK_AFTER_S,
                  loop_repeats: int = 3) -> tuple[RuleSpec, ...]:
    """The rules a monitor evaluates when no rule file is given."""
    return (StuckRule(after_s=stuck_after_s), LoopRule(repeats=loop_repeats),
            LatencyRule(metric="kaizen_api_request_duration_seconds", threshold_s=60.0),
            LatencyRule(metric="kaizen_tool_duration_seconds", threshold_s=60.0),
            ErrorRateRule(metric="kaizen_api_requests_total", threshold=0.2),
            ErrorRateRule(metric="kaizen_tool_calls_total", threshold=0.5),
            BudgetRule(), MemoryGrowthRule(), DroppedEventsRule(), ExportErrorsRule())
