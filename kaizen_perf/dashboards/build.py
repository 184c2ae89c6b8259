"""Grafana JSON from :class:`~kaizen_perf.dashboards.model.DashboardSpec` with the
grafana-foundation-sdk builders (Grafana's own typed models).

Every dashboard gets the same variables (``datasource``, ``pyroscope``, ``agent``,
``model``, ``tool``), a link menu to the other kaizen-perf dashboards (by tag,
keeping time range and variables), and a unit on every panel.
"""

from __future__ import annotations

import json

from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import grafanapyroscope, heatmap, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import HeatmapCellLayout
from grafana_foundation_sdk.models.dashboard import (
    DashboardLinkType,
    DataSourceRef,
    Threshold,
    ThresholdsMode,
    VariableOption,
    VariableRefresh,
    VariableSort,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from kaizen_perf.dashboards.model import DashboardSpec, PanelSpec
from kaizen_perf.dashboards.promql import selector, spec
from kaizen_perf.dashboards.resources import PYROSCOPE_PROFILE
from kaizen_perf.errors import ConfigError

TAG = "kaizen-perf"
PROMETHEUS = DataSourceRef(type_val="prometheus", uid="${datasource}")
PYROSCOPE = DataSourceRef(type_val="grafana-pyroscope-datasource", uid="${pyroscope}")
#: label_values() sources: families that always carry the label when the feature is used.
#: Agents come from hooks (loop iterations) or from run/attach (process CPU, no hooks needed).
_VARIABLE_SOURCES = {
    "agent": (("kaizen_agent_loop_iterations_total", "kaizen_process_cpu_seconds_total"), "Agent"),
    "model": (("kaizen_api_requests_total",), "Model"),
    "tool": (("kaizen_tool_calls_total",), "Tool"),
}
_ALL = VariableOption(selected=True, text="All", value="$__all")
Panel = timeseries.Panel | stat.Panel | heatmap.Panel | db.Panel


def _variables() -> list[db.DatasourceVariable | db.QueryVariable]:
    out: list[db.DatasourceVariable | db.QueryVariable] = [
        db.DatasourceVariable("datasource").label("Prometheus").type("prometheus"),
        db.DatasourceVariable("pyroscope").label("Pyroscope").type("grafana-pyroscope-datasource"),
    ]
    for name, (families, label) in _VARIABLE_SOURCES.items():
        if len(families) > 1:  # validate each name, then select them all by __name__
            names = "|".join(spec(f).name for f in families)
            source = f'{{__name__=~"{names}"}}'
        else:  # model and tool lists follow the selected agents
            source = selector(families[0], unfiltered=set(_VARIABLE_SOURCES) - {"agent"})
        out.append(db.QueryVariable(name).label(label).datasource(PROMETHEUS)
                   .query(f"label_values({source}, {name})").current(_ALL)
                   .multi(True).include_all(True).all_value(".*")
                   .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
                   .sort(VariableSort.ALPHABETICAL_ASC))
    return out


def _targets(spec: PanelSpec, builder: Panel) -> None:
    for i, query in enumerate(spec.queries):
        ref = chr(ord("A") + i)
        if spec.kind == "flamegraph":
            builder.with_target(grafanapyroscope.Dataquery().ref_id(ref).datasource(PYROSCOPE)
                                .label_selector(query.expr).profile_type_id(PYROSCOPE_PROFILE)
                                .query_type("profile"))
            continue
        target = (prometheus.Dataquery().ref_id(ref).expr(query.expr)
                  .legend_format(query.legend or "__auto").datasource(PROMETHEUS))
        if spec.kind == "heatmap":
            target = target.format(PromQueryFormat.HEATMAP)
        builder.with_target(target)


def _panel(spec: PanelSpec, panel_id: int) -> Panel:
    builder: Panel
    if spec.kind == "stat":
        builder = stat.Panel().reduce_options(common_b.ReduceDataOptions().calcs(["lastNotNull"]))
    elif spec.kind == "heatmap":
        builder = (heatmap.Panel().calculate(False)
                   .rows_frame(heatmap.RowsHeatmapOptions().layout(HeatmapCellLayout.LE))
                   .y_axis(heatmap.YAxisConfig().unit(spec.unit)))
    elif spec.kind == "flamegraph":
        builder = db.Panel().type("flamegraph")  # no typed builder for this panel yet
    else:
        builder = timeseries.Panel()
    builder = (builder.id(panel_id).title(spec.title).description(spec.question).unit(spec.unit)
               .span(spec.width).height(spec.height)
               .datasource(PYROSCOPE if spec.kind == "flamegraph" else PROMETHEUS))
    if spec.red_above is not None:
        builder = builder.thresholds(db.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps([
            Threshold(value=None, color="green"), Threshold(value=spec.red_above, color="red")]))
    _targets(spec, builder)
    return builder


def build(spec: DashboardSpec) -> db.Dashboard:
    """The SDK dashboard builder of ``spec``."""
    if any(not p.unit for p in spec.panels()):
        missing = [p.title for p in spec.panels() if not p.unit]
        msg = f"Panels {missing} of {spec.uid!r} have no unit; every panel must set one."
        raise ConfigError(msg)
    dash = (db.Dashboard(spec.title).uid(spec.uid).description(spec.description).tags([TAG])
            .time("now-6h", "now").refresh("30s").timezone("browser").editable())
    for variable in _variables():
        dash = dash.with_variable(variable)
    dash = dash.link(db.DashboardLink("kaizen-perf dashboards").type(DashboardLinkType.DASHBOARDS)
                     .tags([TAG]).as_dropdown(True).include_vars(True).keep_time(True))
    panel_id = 1
    for row in spec.rows:
        dash = dash.with_row(db.Row(row.title).id(panel_id))
        panel_id += 1
        for panel_spec in row.panels:
            dash = dash.with_panel(_panel(panel_spec, panel_id))
            panel_id += 1
    return dash


def to_json(spec: DashboardSpec) -> str:
    """The dashboard as Grafana JSON text (stable: sorted keys, trailing newline)."""
    model = build(spec).build()
    return json.dumps(model, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"
