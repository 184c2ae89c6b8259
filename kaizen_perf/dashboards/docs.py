"""The panel reference of ``docs/dashboards.md``, generated from the same declarations as the
dashboards (a test checks the page holds exactly this text)."""

from __future__ import annotations

from kaizen_perf.dashboards.model import DashboardSpec, PanelSpec

BEGIN = "<!-- BEGIN GENERATED PANEL REFERENCE: kaizen_perf.dashboards.docs -->"
END = "<!-- END GENERATED PANEL REFERENCE -->"


def _panel(p: PanelSpec) -> list[str]:
    lang = "text" if p.kind == "flamegraph" else "promql"
    out = [f"#### {p.title}", "", f"{p.question} *({p.kind}, unit `{p.unit}`)*", "", f"```{lang}"]
    out += [f"{q.expr}" for q in p.queries]
    return [*out, "```", ""]


def reference_markdown(dashboards: tuple[DashboardSpec, ...]) -> str:
    """Markdown: per dashboard, per row, each panel's question, unit and queries."""
    out = [BEGIN, ""]
    for dash in dashboards:
        out += [f"### {dash.title} (`{dash.filename}`)", "", dash.description, ""]
        for row in dash.rows:
            out += [f"**{row.title}**", ""]
            for p in row.panels:
                out += _panel(p)
    return "\n".join([*out, END]) + "\n"
