"""Alert rules from a TOML file (``KAIZEN_PERF_ALERT_RULES``), validated when loaded.

::

    cooldown_s = 300          # optional: silence a re-fired alert this long
    include_defaults = true   # optional: keep the default rules (same name = replaced)

    [[rule]]
    kind = "latency"          # latency | error_rate | stuck | memory_growth | budget
    name = "SlowSearch"       #   | dropped_events | export_errors
    metric = "kaizen_tool_duration_seconds"
    match = { tool = "web_search" }
    quantile = 0.95
    threshold_s = 5
    window_s = 300

An unknown kind, field or metric, or a malformed threshold, is a
:class:`~kaizen_perf.errors.ConfigError` naming the file, the rule and the field.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kaizen_perf._toml import read_toml
from kaizen_perf.alerts.specs import RULE_KINDS, RuleSpec, default_rules
from kaizen_perf.config import STUCK_AFTER_S
from kaizen_perf.errors import ConfigError

_TOP = {"cooldown_s", "include_defaults", "rule"}


@dataclass(frozen=True)
class RuleConfig:
    """Rules and engine options, as loaded."""

    rules: tuple[RuleSpec, ...]
    cooldown_s: float = 300.0


def load_rules(path: str | Path, *, stuck_after_s: float = STUCK_AFTER_S,
               loop_repeats: int = 3) -> RuleConfig:
    """Read and validate a rule file."""
    data = read_toml(path, "alert rule file", "Check KAIZEN_PERF_ALERT_RULES.")
    return parse_rules(data, str(path), stuck_after_s=stuck_after_s, loop_repeats=loop_repeats)


def parse_rules(data: dict[str, Any], source: str, *,
                stuck_after_s: float = STUCK_AFTER_S, loop_repeats: int = 3) -> RuleConfig:
    """Validate a parsed rule document."""
    unknown = sorted(set(data) - _TOP)
    if unknown:
        msg = (f"{source}: unknown top-level key {unknown[0]!r}; expected {', '.join(sorted(_TOP))}"
               " (rules go in [[rule]] tables).")
        raise ConfigError(msg)
    cooldown = data.get("cooldown_s", 300.0)
    if isinstance(cooldown, bool) or not isinstance(cooldown, int | float) \
            or not math.isfinite(cooldown) or cooldown < 0:
        msg = f"{source}: cooldown_s = {cooldown!r} is not valid: expected seconds, 0 or more."
        raise ConfigError(msg)
    include = data.get("include_defaults", True)
    if not isinstance(include, bool):
        msg = f"{source}: include_defaults = {include!r} is not valid: expected true or false."
        raise ConfigError(msg)
    entries = data.get("rule", [])
    if not isinstance(entries, list):
        msg = f"{source}: 'rule' must be an array of tables: write each rule as [[rule]]."
        raise ConfigError(msg)
    rules = [_rule(i + 1, entry, source) for i, entry in enumerate(entries)]
    names = [r.name for r in rules]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        msg = f"{source}: two rules are named {dupes[0]!r}; give each rule its own name."
        raise ConfigError(msg)
    if include:
        rules = [r for r in default_rules(stuck_after_s=stuck_after_s, loop_repeats=loop_repeats)
                 if r.name not in names] + rules
    return RuleConfig(tuple(rules), float(cooldown))


def _rule(index: int, entry: Any, source: str) -> RuleSpec:
    where = f"{source}: rule #{index}"
    if not isinstance(entry, dict):
        msg = f"{where} must be a table."
        raise ConfigError(msg)
    kind = entry.get("kind")
    if kind not in RULE_KINDS:
        msg = (f"{where}: kind = {kind!r} is not valid: expected one of "
               f"{', '.join(sorted(RULE_KINDS))}.")
        raise ConfigError(msg)
    cls = RULE_KINDS[kind]
    allowed = {f.name for f in dataclasses.fields(cls)}
    fields = {k: v for k, v in entry.items() if k != "kind"}
    extra = sorted(set(fields) - allowed)
    if extra:
        msg = (f"{where} ({kind}): unknown field {extra[0]!r}; expected one of "
               f"{', '.join(sorted(allowed))}.")
        raise ConfigError(msg)
    if "thresholds" in fields and isinstance(fields["thresholds"], list):
        fields["thresholds"] = tuple(fields["thresholds"])
    try:
        return cls(**fields)
    except ConfigError as exc:
        msg = f"{where} ({kind}): {exc}"
        raise ConfigError(msg) from None
    except TypeError as exc:  # a field of the wrong shape for the dataclass
        msg = f"{where} ({kind}): {exc}."
        raise ConfigError(msg) from None
