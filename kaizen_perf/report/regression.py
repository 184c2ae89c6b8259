"""``kaizen-perf check --html``: a comparison rendered as a chart of ratios with their CIs.

One row per benchmark: the estimated change (dot) with its 95 % confidence
interval (line) against the gate (shaded band), coloured by verdict; then the
parity targets, each bound against its budget. Self-contained like the run report.
"""

from __future__ import annotations

import math
import time

from kaizen_perf.regression.evaluate import Outcome, ParityRow, Row
from kaizen_perf.regression.reports import by_component, parity_cells
from kaizen_perf.report.html import _e, _page

_COLOURS = {"REGRESSION": "#b31d28", "IMPROVEMENT": "#22863a", "PASS": "#0366d6",
            "INCONCLUSIVE": "#b08800"}
_W, _ROW, _LABEL = 900, 26, 260


def _x(change: float, span: float) -> float:
    """Pixel position of a change (fraction) on an axis of ±span."""
    clamped = max(-span, min(span, change))
    return _LABEL + (clamped + span) / (2 * span) * (_W - _LABEL - 20)


def _span(rows: list[Row]) -> float:
    ends = [abs(v - 1) for r in rows if r.estimate for v in (r.estimate.low, r.estimate.high)
            if math.isfinite(v)] + [r.gate * 2 for r in rows]
    return min(1.0, max([*ends, 0.05]) * 1.1)


def forest_svg(rows: list[Row]) -> str:
    """Ratios with CIs, one row per benchmark, the gate band shaded, zero marked."""
    span = _span(rows)
    h = _ROW * len(rows) + 40
    out = [f'<svg width="{_W}" height="{h}" role="img" aria-label="ratios with confidence '
           f'intervals"><line x1="{_x(0, span):.1f}" x2="{_x(0, span):.1f}" y1="0" y2="{h - 25}"'
           ' stroke="#999"/>']
    for i, r in enumerate(rows):
        y = 15 + i * _ROW
        out.append(f'<rect x="{_x(-r.gate, span):.1f}" y="{y - 9}" width="'
                   f'{_x(r.gate, span) - _x(-r.gate, span):.1f}" height="18" fill="#eef3f8"/>'
                   f'<text x="4" y="{y + 4}" font-size="12">{_e(r.name)}</text>')
        colour = _COLOURS.get(r.verdict.value, "#555")
        if r.estimate is not None and math.isfinite(r.estimate.low):
            e = r.estimate
            out.append(f'<line class="ci" x1="{_x(e.low - 1, span):.1f}" x2="'
                       f'{_x(e.high - 1, span):.1f}" y1="{y}" y2="{y}" stroke="{colour}" '
                       f'stroke-width="2"/><circle class="est" data-bench="{_e(r.name)}" '
                       f'data-verdict="{r.verdict.value}" cx="{_x(e.ratio - 1, span):.1f}" '
                       f'cy="{y}" r="4" fill="{colour}"><title>{_e(r.name)}: '
                       f'{(e.ratio - 1) * 100:+.2f}% [{(e.low - 1) * 100:+.2f}%, '
                       f'{(e.high - 1) * 100:+.2f}%] {r.verdict.value}</title></circle>')
    for frac in (-span, -span / 2, 0.0, span / 2, span):
        out.append(f'<text x="{_x(frac, span):.1f}" y="{h - 8}" font-size="11" '
                   f'text-anchor="middle" fill="#6a737d">{frac * 100:+.0f}%</text>')
    return "".join(out) + "</svg>"


def _row_html(r: Row) -> str:
    e = r.estimate
    change = "" if e is None else f"{(e.ratio - 1) * 100:+.2f}%"
    ci = "" if e is None else f"[{(e.low - 1) * 100:+.2f}%, {(e.high - 1) * 100:+.2f}%]"
    mde = "" if e is None or not math.isfinite(e.mde) else f"{e.mde * 100:.1f}%"
    colour = _COLOURS.get(r.verdict.value, "#555")
    return (f"<tr><td>{_e(r.name)}</td><td>{_e(r.measure)}</td><td>{change}</td><td>{ci}</td>"
            f"<td>{r.gate * 100:.1f}%"
            f"</td><td>{mde}</td><td style='color:{colour};font-weight:600'>{r.verdict.value}"
            f"</td><td>{_e(r.note)}</td></tr>")


def _parity_html(p: ParityRow) -> str:
    cells = parity_cells(p)  # the same wording as the text and Markdown reports
    value = f"{cells[3]} {cells[4]}".strip()
    return (f"<tr><td>{_e(p.target.name)}</td><td>{_e(p.target.origin)}</td>"
            f"<td>{_e(p.target.benchmark)}</td><td>{_e(value)}</td><td>{_e(cells[2])}</td>"
            f"<td>{p.status.value}</td><td>{_e(cells[6])}</td><td>{_e(cells[8])}</td></tr>")


def render_check_html(outcome: Outcome, *, title: str = "kaizen-perf check") -> str:
    """The comparison as one self-contained HTML page."""
    rows = list(outcome.rows)
    body = ("<section><h2>Change per benchmark (95 % confidence interval, gate shaded)</h2>"
            + (forest_svg(rows) if rows else "<p class=muted>No benchmark compared.</p>")
            + "<table><tr><th>benchmark</th><th>measure</th><th>change</th><th>interval</th>"
            "<th>gate</th>"
            "<th>smallest detectable</th><th>verdict</th><th>note</th></tr>"
            + "".join(_row_html(r) for r in rows) + "</table></section>")
    for component, group in by_component(outcome.parity):
        body += (f"<section><h2>Parity targets: {_e(component)}</h2><table><tr><th>target</th>"
                 "<th>origin</th><th>benchmark</th><th>measured [95 % bounds]</th><th>budget</th>"
                 "<th>status</th><th>baseline</th><th>note</th></tr>"
                 + "".join(_parity_html(p) for p in group) + "</table></section>")
    low = ("<br>Low confidence: compared against a stored run, not interleaved pairs."
           if outcome.low_confidence else "")
    compared = "".join(f"<br>{_e(line)}" for line in outcome.header)
    header = (f"<h1>{_e(title)}</h1><p class=verdict><b>{_e(outcome.summary())}</b></p>"
              f"<div class=meta>written {time.strftime('%Y-%m-%d %H:%M:%S')}{compared}{low}"
              f"</div>")
    return _page(title, header, body, {"flames": {}, "diff": False})
