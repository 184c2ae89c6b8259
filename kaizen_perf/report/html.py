"""Render a run (or two) as one self-contained HTML file: inline CSS, JS, data and SVG.

No CDN, no network: the page opens from disk anywhere. Charts are inline SVG
drawn here; the flame graph is a small script (``assets/flame.js``) over a
JSON tree embedded in the page.
"""

from __future__ import annotations

import html
import json
import time
from importlib import resources
from typing import Any

from kaizen_perf.metrics.summary import cost_text
from kaizen_perf.report import breakdown
from kaizen_perf.report.data import KIND_NAMES, ReportData, Series
from kaizen_perf.report.flame import Node

_ASSETS = resources.files("kaizen_perf.report").joinpath("assets")


def _e(value: object) -> str:
    return html.escape(str(value))


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n:.0f} B"
        n /= 1024
    return f"{n:.1f} GiB"


def _fmt(value: float, unit: str) -> str:
    if unit.startswith("bytes"):
        return _bytes(value) + unit[5:]
    return f"{value:.3g} {unit}"


def svg_chart(series: Series, width: int = 380, height: int = 120) -> str:
    """A line chart as inline SVG with its maximum and time span labelled."""
    if not series.t:
        return ""
    t0, t1 = series.t[0], series.t[-1] if series.t[-1] > series.t[0] else series.t[0] + 1
    vmax = max(series.v) or 1.0
    pts = " ".join(f"{(t - t0) / (t1 - t0) * (width - 10) + 5:.1f},"
                   f"{height - 18 - v / vmax * (height - 30):.1f}"
                   for t, v in zip(series.t, series.v, strict=True))
    return (f'<div class="chart"><h3>{_e(series.name)}</h3><svg width="{width}" '
            f'height="{height}" role="img" aria-label="{_e(series.name)}">'
            f'<rect width="100%" height="100%" fill="#fafbfc"/>'
            f'<polyline fill="none" stroke="#0366d6" stroke-width="1.5" points="{pts}"/>'
            f'<text x="5" y="11" font-size="10" fill="#6a737d">max {_e(_fmt(vmax, series.unit))}'
            f'</text><text x="5" y="{height - 4}" font-size="10" fill="#6a737d">0 s</text>'
            f'<text x="{width - 5}" y="{height - 4}" font-size="10" fill="#6a737d" '
            f'text-anchor="end">{t1 - t0:.0f} s</text></svg></div>')


def _agent_section(agent: str, s: dict[str, Any], series: list[Series],
                   wall_s: float | None = None) -> str:
    cards = [("CPU", f"{s['cpu_seconds']:.2f} s"), ("Peak RSS", _bytes(s["peak_rss_bytes"])),
             ("Average RSS", _bytes(s["avg_rss_bytes"])),
             ("I/O read / write", f"{_bytes(s['io_read_bytes'])} / {_bytes(s['io_write_bytes'])}"),
             ("Loop iterations", s["loop_iterations"]), ("LLM requests", s["api_requests"]),
             ("Cost", cost_text(s.get("priced_cost_usd", s["cost_usd"]),
                                s.get("unpriced_requests", 0)))]
    card_html = "".join(f'<div class="card"><span class="muted">{_e(k)}</span><b>{_e(v)}</b>'
                        "</div>" for k, v in cards)
    rows = "".join(
        f"<tr><td>{_e(tool)}</td><td>{r['calls']}</td><td>{r['errors']}</td>"
        + "".join(f"<td>{'' if r[q] is None else f'{r[q] * 1e3:.2f}'}</td>"
                  for q in ("p50_s", "p95_s", "p99_s")) + "</tr>"
        for tool, r in sorted(s["tools"].items(), key=lambda kv: -kv[1]["calls"]))
    table = ("<table><tr><th>tool</th><th>calls</th><th>errors</th><th>p50 ms</th>"
             f"<th>p95 ms</th><th>p99 ms</th></tr>{rows}</table>") if rows else ""
    models = "".join(_model_row(m, r) for m, r in s.get("models", {}).items())
    model_table = ("<h3>LLM cost and tokens by model</h3><table><tr><th>model</th><th>requests"
                   "</th><th>input</th><th>output</th><th>cache read</th><th>cache write</th>"
                   f"<th>cost</th></tr>{models}</table>") if models else ""
    charts = "".join(svg_chart(x) for x in series)
    return (f'<section class="agent" data-agent="{_e(agent)}"><h2>Agent {_e(agent)}</h2>'
            f'<div class="cards">{card_html}</div>{breakdown.render(s, wall_s)}'
            f'<div class="charts">{charts}</div>{table}{model_table}{_tool_cost_table(s)}'
            '</section>')


def _tool_cost_table(s: dict[str, Any]) -> str:
    """LLM cost by tool: calls inside a tool, and each response's cost split across the
    tools it asked for; ``reasoning`` is the rest (the rows add up to the priced cost)."""
    costs = s.get("tool_cost") or {}
    whole = sum(costs.values())
    rows = "".join(f'<tr data-tool="{_e(t)}"><td>{_e(t)}</td><td>${c:.4f}</td>'
                   f"<td>{c / whole * 100:.1f} %</td></tr>" for t, c in costs.items())
    return ('<h3>LLM cost by tool</h3><p class="muted">A response that asks for tools is '
            "split across them; calls made inside a tool are that tool's; the rest is "
            "reasoning.</p><table class=\"tool-cost\"><tr><th>tool</th><th>cost</th>"
            f"<th>share</th></tr>{rows}</table>") if rows and whole > 0 else ""


def _model_row(model: str, r: dict[str, Any]) -> str:
    cost = cost_text(r.get("priced_cost_usd", r["cost_usd"]), r.get("unpriced_requests", 0))
    if r["cost_usd"] is None and not r.get("unpriced_requests"):  # older run dirs: no count
        cost = "unknown (unpriced)"
    cells = "".join(f"<td>{r[k]}</td>" for k in ("requests", "input", "output", "cache_read",
                                                  "cache_write"))
    return f"<tr><td>{_e(model)}</td>{cells}<td>{cost}</td></tr>"


def _flame_section(flames: dict[str, Node], agents: list[str], diff: bool, title: str) -> str:
    kinds = "".join(f'<option value="{k}">{_e(KIND_NAMES.get(k, k))}</option>'
                    for k in flames if ":" not in k)
    agent_opts = "".join(f'<option value="{_e(a)}">{_e(a)}</option>' for a in agents)
    return (f'<section><h2>{_e(title)}</h2><div class="controls">'
            f'<label>profile <select id="flame-kind">{kinds}</select></label>'
            f'<label>agent <select id="flame-agent"><option value="">all</option>{agent_opts}'
            '</select></label><input id="flame-search" placeholder="search functions">'
            '<span id="flame-matches" class="muted"></span>'
            '<button id="flame-reset">reset zoom</button></div>'
            '<div id="flame-info" class="muted"></div><div id="flame"></div>'
            + ('<p class="muted">Red: functions that gained samples in B; blue: lost.</p>'
               if diff else "") + "</section>")


def _page(title: str, header: str, body: str, data: dict[str, Any]) -> str:
    css = _ASSETS.joinpath("report.css").read_text("utf-8")
    js = _ASSETS.joinpath("flame.js").read_text("utf-8")
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}'
            f'</title><meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<style>{css}</style></head><body><header>{header}</header><main>{body}</main>"
            f'<script id="kp-data" type="application/json">{payload}</script>'
            f"<script>{js}</script></body></html>")


def _header(d: ReportData) -> str:
    run = d.run
    start, end = run.get("start"), run.get("end")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(start)) if start else "?"
    duration = f"{end - start:.1f} s" if start and end else "?"
    host = run.get("host", {})
    return (f"<h1>kaizen-perf run {_e(run.get('run_id', ''))}</h1><div class=meta>"
            f"<code>{_e(' '.join(run.get('command', [])))}</code><br>started {_e(when)}, "
            f"duration {_e(duration)}, {_e(_exit(run))}, "
            f"{_e(run.get('mode', ''))} on {_e(host.get('hostname', '?'))} "
            f"({_e(host.get('cpus', '?'))} CPUs, kernel {_e(host.get('kernel', '?'))}), "
            f"Python {_e(run.get('versions', {}).get('python', '?'))}, kaizen-perf "
            f"{_e(run.get('versions', {}).get('kaizen_perf', '?'))}</div>")


def _own_note(meta: dict[str, Any]) -> str:
    """How many samples of kaizen-perf's own threads and start-up the profile leaves out."""
    own = meta.get("own_samples")
    if not own:
        return ""
    if meta.get("own_included"):
        return (f'<p class="muted" id="own-samples">Including {own} samples of kaizen-perf\'s '
                "own threads and start-up (run --profile-own).</p>")
    return (f'<p class="muted" id="own-samples">{own} samples of kaizen-perf\'s own threads and '
            "start-up are left out (profiles/kaizen-perf-own.folded; run --profile-own keeps "
            "them).</p>")


def _hottest(tops: dict[str, list[tuple[str, int]]], meta: dict[str, Any]) -> str:
    """One table of hottest functions per kind of profile; the flame graph's profile menu
    shows the one of the kind it draws (the first kind's without script)."""
    tables = "".join(
        f'<table class="hottest" data-kind="{_e(kind)}"{"" if i == 0 else " hidden"}>'
        f'<caption>{_e(KIND_NAMES.get(kind, kind))}</caption>'
        + "".join(f"<tr><td>{_e(n)}</td><td>{c}</td></tr>" for n, c in top) + "</table>"
        for i, (kind, top) in enumerate(tops.items()))
    return (f"<section><h2>Hottest functions (self samples)</h2>{tables}{_own_note(meta)}"
            "</section>")


def _exit(run: dict[str, Any]) -> str:
    """The exit status, when the run knows it (attach watches a process it did not start)."""
    status = run.get("exit_status")
    return "exit status not known (attached)" if status is None else f"exit status {status}"


def render_run(d: ReportData) -> str:
    """The report of one run."""
    agents = d.hooks.get("agents", {})
    start, end = d.run.get("start"), d.run.get("end")
    wall = end - start if start and end else None
    body = "".join(_agent_section(a, s, d.series.get(a, []), wall) for a, s in agents.items())
    if d.flames:
        split = sorted({k.split(":", 1)[1] for k in d.flames if ":" in k})
        body += _flame_section(d.flames, split, False, "Flame graph")
    if d.top or d.tops:
        body += _hottest(d.tops or {"cpu": d.top}, d.profile_meta)
    body += _alerts(d.alerts, start)
    if d.run.get("warnings"):
        body += "<section><h2>Warnings</h2><ul>" + "".join(
            f"<li>{_e(w)}</li>" for w in d.run["warnings"]) + "</ul></section>"
    data = {"flames": d.flames, "diff": False}
    return _page(f"kaizen-perf run {d.run.get('run_id', '')}", _header(d), body, data)


def _alerts(alerts: list[dict[str, Any]], start: float | None = None) -> str:
    """One row per notification of alerts.jsonl (firing, then resolved), in order."""
    if not alerts:
        return ("<section><h2>Alerts</h2><p class=muted>No alert fired during this run.</p>"
                "</section>")
    rows = "".join(
        f"<tr class=\"alert-{_e(a.get('status', ''))}\"><td>{_e(_since(a.get('at'), start))}</td>"
        f"<td>{_e(a.get('rule', ''))}</td><td>{_e(a.get('severity', ''))}</td>"
        f"<td>{_e(a.get('status', ''))}</td><td>{_e((a.get('labels') or {}).get('agent', ''))}"
        f"</td><td>{_e(a.get('summary', ''))}</td></tr>" for a in alerts)
    return ("<section id=alerts><h2>Alerts</h2><table><tr><th>at</th><th>alert</th>"
            "<th>severity</th><th>state</th><th>agent</th><th>summary</th></tr>"
            f"{rows}</table></section>")


def _since(at: Any, start: float | None) -> str:
    """Seconds into the run (the notification's Unix time when the start is unknown)."""
    if not isinstance(at, (int, float)):
        return ""
    return f"+{at - start:.1f}s" if isinstance(start, (int, float)) else f"{at:.0f}"


def render_compare(a: ReportData, b: ReportData, diff: Node | None) -> str:
    """Two runs side by side, with a differential flame graph (B relative to A)."""
    agents = sorted(set(a.hooks.get("agents", {})) | set(b.hooks.get("agents", {})))
    rows = "".join(_compare_rows(agent, a.hooks.get("agents", {}).get(agent),
                                 b.hooks.get("agents", {}).get(agent)) for agent in agents)
    body = ("<section><h2>A vs B</h2><table><tr><th>agent / figure</th><th>A</th><th>B</th>"
            f"<th>B / A</th></tr>{rows}</table></section>")
    flames = {"cpu": diff} if diff else {}
    if diff:
        body += _flame_section(flames, [], True, "Differential flame graph (B relative to A)")
    header = (f"<h1>kaizen-perf: {_e(a.run.get('run_id'))} (A) vs {_e(b.run.get('run_id'))} (B)"
              f"</h1><div class=meta>A: <code>{_e(' '.join(a.run.get('command', [])))}</code>"
              f"<br>B: <code>{_e(' '.join(b.run.get('command', [])))}</code></div>")
    return _page("kaizen-perf comparison", header, body, {"flames": flames, "diff": True})


def _compare_rows(agent: str, sa: dict[str, Any] | None, sb: dict[str, Any] | None) -> str:
    figures = [("CPU s", "cpu_seconds"), ("peak RSS MiB", "peak_rss_bytes"),
               ("loop iterations", "loop_iterations"), ("cost $", "cost_usd")]
    out = []
    for label, key in figures:
        va = (sa or {}).get(key)
        vb = (sb or {}).get(key)
        if key == "peak_rss_bytes":
            va = None if va is None else va / 2**20
            vb = None if vb is None else vb / 2**20
        ratio = f"{vb / va:.2f}×" if va and vb is not None else ""
        cls = ' class="bad"' if va and vb and vb / va > 1.05 else ""
        out.append(f"<tr><td>{_e(agent)}: {label}</td><td>{_num(va)}</td><td>{_num(vb)}</td>"
                   f"<td{cls}>{ratio}</td></tr>")
    return "".join(out)


def _num(v: float | None) -> str:
    return "—" if v is None else f"{v:.4g}"
