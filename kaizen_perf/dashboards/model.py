"""Dashboards as data: what each panel answers, its unit and its queries.

The three dashboard modules declare :class:`DashboardSpec` values; :mod:`.build`
turns them into Grafana JSON with grafana-foundation-sdk, and :mod:`.docs`
into the reference table of ``docs/dashboards.md``. One declaration feeds both,
so the docs cannot drift from the panels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PanelKind = Literal["timeseries", "stat", "heatmap", "flamegraph"]


@dataclass(frozen=True)
class Query:
    """One PromQL target and its legend (``{{label}}`` placeholders)."""

    expr: str
    legend: str = ""


@dataclass(frozen=True)
class PanelSpec:
    """One panel: the question it answers, its unit (always set) and its queries."""

    title: str
    question: str
    unit: str
    queries: tuple[Query, ...]
    kind: PanelKind = "timeseries"
    width: int = 12
    height: int = 8
    #: colour values at or above this red (e.g. seconds since progress past the stuck limit)
    red_above: float | None = None


@dataclass(frozen=True)
class RowSpec:
    """A titled row of panels."""

    title: str
    panels: tuple[PanelSpec, ...]


@dataclass(frozen=True)
class DashboardSpec:
    """One dashboard: a stable uid (links and provisioning use it), a title and rows."""

    uid: str
    title: str
    description: str
    rows: tuple[RowSpec, ...]

    @property
    def filename(self) -> str:
        """The JSON file name under ``dashboards/``."""
        return f"{self.uid}.json"

    def panels(self) -> tuple[PanelSpec, ...]:
        """Every panel, row by row."""
        return tuple(p for row in self.rows for p in row.panels)


def q(expr: str, legend: str = "") -> Query:
    """Shorthand for a :class:`Query`."""
    return Query(expr, legend)


def panel(title: str, question: str, unit: str, *queries: Query,
          kind: PanelKind = "timeseries", width: int = 12, height: int = 8,
          red_above: float | None = None) -> PanelSpec:
    """Shorthand for a :class:`PanelSpec` with its queries as positional arguments."""
    return PanelSpec(title, question, unit, queries, kind, width, height, red_above)
