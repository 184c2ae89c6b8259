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
    budget = 1.0                      # seconds (or bytes for value benchmarks)
    quantile = 0.5
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kaizen_perf.errors import ConfigError

DEFAULT_GATE = 0.03
TARGETS_FILE = Path("baselines") / "parity-targets.toml"
KINDS = ("overhead", "absolute")


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


@dataclass(frozen=True)
class Targets:
    """Everything the targets file says: default gate, per-benchmark gates, targets."""

    gate: float = DEFAULT_GATE
    gates: Mapping[str, float] = field(default_factory=dict)
    targets: tuple[Target, ...] = ()
    source: str | None = None

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
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        msg = f"Parity targets file {str(path)!r} does not exist. Check the --targets path."
        raise ConfigError(msg) from exc
    except tomllib.TOMLDecodeError as exc:
        msg = f"Parity targets file {str(path)!r} is not valid TOML: {exc}."
        raise ConfigError(msg) from exc


def parse_targets(data: Mapping[str, Any], source: str) -> Targets:
    """Validate a parsed targets table."""
    gate = _fraction(data.get("gate", DEFAULT_GATE), "gate", source)
    gates = {str(k): _fraction(v, f"gates.{k}", source)
             for k, v in dict(data.get("gates", {})).items()}
    targets = tuple(_target(t, source) for t in data.get("target", []))
    return Targets(gate=gate, gates=gates, targets=targets, source=source)


def _target(raw: Mapping[str, Any], source: str) -> Target:
    name = str(raw.get("name", ""))
    kind = raw.get("kind")
    if not name or kind not in KINDS or not raw.get("benchmark"):
        msg = (f"Parity target {dict(raw)!r} in {source} needs a name, a kind in {KINDS} "
               "and a benchmark name.")
        raise ConfigError(msg)
    if kind == "overhead" and not raw.get("reference"):
        msg = f"Overhead target {name!r} in {source} needs a reference benchmark (the 'off' run)."
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
                  description=str(raw.get("description", "")))


def _fraction(value: Any, key: str, source: str) -> float:
    if isinstance(value, str) and value.strip().endswith("%"):
        value = float(value.strip()[:-1]) / 100
    if not isinstance(value, int | float) or not 0 < value < 1:
        msg = (f"Gate {key} = {value!r} in {source} is not a fraction in (0, 1); "
               "write 3 % as 0.03 or \"3%\".")
        raise ConfigError(msg)
    return float(value)
