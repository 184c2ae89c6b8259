"""Parity targets and per-benchmark gates: ``baselines/parity-targets.toml`` or
``[tool.kaizen-perf]`` in ``pyproject.toml``.

::

    gate = 0.03                       # default practical gate (3 %)
    [gates]                           # per-benchmark gates
    "bench_memory.bench_peak_100k_events" = 0.01
    [[target]]
    name = "metrics collection overhead"
    kind = "overhead"                 # paired: benchmark vs reference in one worker
    benchmark = "bench_agent.bench_agent_metrics"
    reference = "bench_agent.bench_agent_off"
    budget = 0.02                     # < 2 % of execution time
    [[target]]
    name = "metrics export"
    kind = "absolute"                 # a quantile of the samples vs a budget
    benchmark = "bench_export.bench_export_at_caps"
    budget = 1.0                      # seconds (or the value benchmark's unit)
    quantile = 0.5
    [[target]]
    name = "control protocol throughput"
    component = "control protocol"    # reports group rows by component
    origin = "ADR-011"
    kind = "absolute"
    benchmark = "bench_adr011_control.bench_throughput"
    unit = "msg/s"
    bound = "min"                     # the value must stay at or above the budget
    budget = 500
    [[target]]
    name = "specialist invocation overhead"
    kind = "absolute"
    benchmark = "bench_adr013_specialists.bench_invocation"
    budget = 0.005
    not_run = "why it cannot be measured"   # reported NOT_RUN with this reason

Absolute targets are judged with a machine margin (``absolute_margin`` in the
file, or ``margin`` per target): MEETS when the 95 % bound is inside the
budget, VIOLATES only when the opposite bound is past the budget widened by the
margin, UNDETERMINED in between; see ``verdicts.absolute_check``. ``suite``
ties a target to one suite directory: other suites do not list it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kaizen_perf._toml import read_toml
from kaizen_perf.errors import ConfigError

DEFAULT_GATE = 0.03
TARGETS_FILE = Path("baselines") / "parity-targets.toml"
KINDS = ("overhead", "absolute", "ratio")
BOUNDS = ("max", "min")


@dataclass(frozen=True)
class Target:
    """One budget, tested as non-inferiority (MEETS only if the confidence bound is inside)."""

    name: str
    kind: str
    benchmark: str
    budget: float
    reference: str | None = None
    quantile: float = 0.5
    unit: str = "s"
    origin: str = "ours"
    description: str = ""
    component: str = ""
    bound: str = "max"  # "max": stay under the budget; "min": stay at or above it
    margin: float | None = None  # machine margin for absolute targets (None: the file's)
    not_run: str = ""  # why this row cannot be measured (reported NOT_RUN)
    suite: str | None = None  # the suite directory this row belongs to (None: any)

    def runs_in(self, suite: str) -> bool:
        """True when the target belongs to ``suite`` (or to every suite)."""
        return self.suite is None or _norm(self.suite) == _norm(suite)


@dataclass(frozen=True)
class Targets:
    """Everything the targets file says: default gate, per-benchmark gates, targets."""

    gate: float = DEFAULT_GATE
    gates: Mapping[str, float] = field(default_factory=dict)
    targets: tuple[Target, ...] = ()
    source: str | None = None
    absolute_margin: float = 0.0

    def margin_for(self, target: Target) -> float:
        """The machine margin an absolute target is judged with."""
        return self.absolute_margin if target.margin is None else target.margin

    def for_suite(self, suite: str) -> Targets:
        """Only the targets that belong to ``suite``."""
        return replace(self, targets=tuple(t for t in self.targets if t.runs_in(suite)))

    def gate_for(self, bench: str, declared: float | None) -> float:
        """The file's per-benchmark gate, else the decorator's, else the default."""
        if bench in self.gates:
            return self.gates[bench]
        return declared if declared is not None else self.gate


def load_targets(project: Path, explicit: Path | None = None) -> Targets:
    """Targets from ``explicit``, else the project's targets file, else its pyproject."""
    if explicit is not None:
        return parse_targets(_read_toml(explicit), str(explicit))
    path = project / TARGETS_FILE
    if path.is_file():
        return parse_targets(_read_toml(path), str(path))
    pyproject = project / "pyproject.toml"
    if pyproject.is_file():
        section = _read_toml(pyproject).get("tool", {}).get("kaizen-perf")
        if isinstance(section, dict):
            return parse_targets(section, f"{pyproject} [tool.kaizen-perf]")
    return Targets()


def _read_toml(path: Path) -> dict[str, Any]:
    return read_toml(path, "parity targets file", "Check the --targets path.")


def parse_targets(data: Mapping[str, Any], source: str) -> Targets:
    """Validate a parsed targets table."""
    gate = _fraction(data.get("gate", DEFAULT_GATE), "gate", source)
    gates = {str(k): _fraction(v, f"gates.{k}", source)
             for k, v in dict(data.get("gates", {})).items()}
    targets = tuple(_target(t, source) for t in data.get("target", []))
    margin = _margin(data.get("absolute_margin", 0.0), "absolute_margin", source)
    return Targets(gate=gate, gates=gates, targets=targets, source=source,
                   absolute_margin=margin)


def _target(raw: Mapping[str, Any], source: str) -> Target:
    name = str(raw.get("name", ""))
    kind = raw.get("kind")
    if not name or kind not in KINDS or not raw.get("benchmark"):
        msg = (f"Parity target {dict(raw)!r} in {source} needs a name, a kind in {KINDS} "
               "and a benchmark name.")
        raise ConfigError(msg)
    if kind in ("overhead", "ratio") and not raw.get("reference"):
        msg = (f"{str(kind).capitalize()} target {name!r} in {source} needs a reference "
               "benchmark (the 'off' run, or the other framework).")
        raise ConfigError(msg)
    bound = str(raw.get("bound", "max"))
    if bound not in BOUNDS:
        msg = f"Parity target {name!r} in {source} has bound {bound!r}; expected one of {BOUNDS}."
        raise ConfigError(msg)
    budget = raw.get("budget")
    if not isinstance(budget, int | float) or budget <= 0:
        msg = f"Parity target {name!r} in {source} has budget {budget!r}; expected a number > 0."
        raise ConfigError(msg)
    quantile = float(raw.get("quantile", 0.5))
    if not 0 < quantile < 1:
        msg = f"Parity target {name!r} in {source} has quantile {quantile}; expected 0 < q < 1."
        raise ConfigError(msg)
    return Target(name=name, kind=str(kind), benchmark=str(raw["benchmark"]),
                  budget=float(budget), reference=raw.get("reference"), quantile=quantile,
                  unit=str(raw.get("unit", "s")),
                  origin=str(raw.get("origin", "ours")),
                  description=str(raw.get("description", "")),
                  component=str(raw.get("component", "")), bound=bound,
                  margin=(None if raw.get("margin") is None
                          else _margin(raw["margin"], f"{name}.margin", source)),
                  not_run=str(raw.get("not_run", "")),
                  suite=None if raw.get("suite") is None else str(raw["suite"]))


def _fraction(value: Any, key: str, source: str) -> float:
    if isinstance(value, str) and value.strip().endswith("%"):
        value = float(value.strip()[:-1]) / 100
    if not isinstance(value, int | float) or not 0 < value < 1:
        msg = (f"Gate {key} = {value!r} in {source} is not a fraction in (0, 1); "
               "write 3 % as 0.03 or \"3%\".")
        raise ConfigError(msg)
    return float(value)


def _margin(value: Any, key: str, source: str) -> float:
    if isinstance(value, str) and value.strip().endswith("%"):
        value = float(value.strip()[:-1]) / 100
    if not isinstance(value, int | float) or not 0 <= value < 10:
        msg = (f"Margin {key} = {value!r} in {source} is not a fraction >= 0; "
               "write 20 % as 0.2 or \"20%\".")
        raise ConfigError(msg)
    return float(value)


def _norm(suite: str) -> str:
    return Path(suite).as_posix().strip("/").removeprefix("./")
