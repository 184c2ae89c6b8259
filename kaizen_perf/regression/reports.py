"""Reports of an outcome: terminal table, Markdown (PR comment), JSON and JUnit XML.

Every row shows the ratio, its confidence interval, the verdict and the smallest
change this machine could detect for that benchmark (its MDE).
"""

from __future__ import annotations

import json
import math
from typing import Any
from xml.etree import ElementTree as ET

from rich.console import Console
from rich.table import Table

from kaizen_perf.regression.evaluate import Outcome, ParityRow, Row
from kaizen_perf.regression.verdicts import Parity, Verdict

LOW_CONFIDENCE = ("Low confidence: compared with a stored run from another job, not paired "
                  "in this one; machine-to-machine noise can exceed the gate.")
_STYLE: dict[str, str] = {
    "REGRESSION": "bold red", "VIOLATES": "bold red", "ERROR": "bold magenta",
    "INCONCLUSIVE": "yellow", "UNDETERMINED": "yellow", "NEW": "cyan", "NOT_RUN": "dim"}
ROW_HEAD = ["benchmark", "verdict", "measure", "change", "interval", "MDE", "pairs", "win",
            "gate", "note"]
PARITY_HEAD = ["parity target", "kind", "budget", "measured", "95% bounds", "status", "baseline",
               "origin", "note"]
PARITY_STATUS_COL = 5
NO_COMPONENT = "other"


def pct(v: float, sign: bool = True) -> str:
    """A fraction as a percentage (``+3.1%``)."""
    if not math.isfinite(v):
        return "n/a" if math.isnan(v) else ("+∞" if v > 0 else "-∞")
    return f"{v * 100:+.1f}%" if sign else f"{v * 100:.1f}%"


def quantity(v: float, unit: str) -> str:
    """A measured value in a readable unit."""
    if not math.isfinite(v):
        return "n/a" if math.isnan(v) else ("+∞" if v > 0 else "-∞")
    if unit == "bytes":
        if abs(v) < 2**10:  # per-item memory (bytes per hook, per connection) stays readable
            return f"{v:.0f} B"
        if abs(v) < 2**20:
            return f"{v / 2**10:.1f} KiB"
        return f"{v / 2**20:.2f} MiB"
    if unit != "s":
        return f"{v:.4g} {unit}"
    for scale, name in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if abs(v) >= scale:
            return f"{v / scale:.3g} {name}"
    return f"{v * 1e9:.3g} ns"


def row_cells(row: Row) -> list[str]:
    """Benchmark, verdict, measure, change, interval, MDE, pairs, win rate, gate, note.

    A PASS rests on the interval's upper end alone, so its cell says so: "≤ +1.2 %
    (one-sided)" is the claim, not the two-sided range.
    """
    est = row.estimate
    if est is None:
        return [row.name, row.verdict.value, row.measure, "", "", "", "", "",
                pct(row.gate, False), row.note]
    ci = f"[{pct(est.low - 1)}, {pct(est.high - 1)}]"
    if row.verdict is Verdict.PASS:
        ci = f"≤ {pct(est.high - 1)} (one-sided)"
    return [row.name, row.verdict.value, row.measure, pct(est.change), ci, pct(est.mde, False),
            str(est.n), f"{est.win_rate:.0%}", pct(row.gate, False), row.note]


def interval_notes(outcome: Outcome) -> list[str]:
    """How the intervals were made, once per method (with their real coverage)."""
    seen: dict[str, list[str]] = {}
    for r in outcome.rows:
        if r.estimate is not None:
            e = r.estimate
            cover = f", ≥ {e.coverage:.1%} coverage" if 0 < e.coverage < 1 else ""
            seen.setdefault(f"{e.method}{cover}", []).append(r.name)
    return [f"interval: {method} ({', '.join(names)})" for method, names in seen.items()]


def parity_cells(p: ParityRow) -> list[str]:
    """Target, kind, budget, measured, bounds, status, baseline status, origin, note."""
    t, c = p.target, p.check

    def fmt(v: float) -> str:
        if t.kind == "overhead":
            return pct(v)
        return f"{v:.3g}×" if t.kind == "ratio" and math.isfinite(v) else quantity(v, t.unit)

    budget = pct(t.budget, False) if t.kind == "overhead" else fmt(t.budget)
    if t.bound == "min":
        budget = "≥ " + budget
    base = "" if p.base is None else p.base.status.value
    note = p.note
    if p.status is Parity.VIOLATES and not p.gating and not note:
        note = "not gating"
    if c is None:
        return [t.name, t.kind, budget, "", "", p.status.value, base, t.origin, note]
    return [t.name, t.kind, budget, fmt(c.value), f"[{fmt(c.low)}, {fmt(c.high)}]",
            p.status.value, base, t.origin, note]


def by_component(parity: tuple[ParityRow, ...]) -> list[tuple[str, list[ParityRow]]]:
    """Rows grouped by component, components in the order they first appear."""
    groups: dict[str, list[ParityRow]] = {}
    for p in parity:
        groups.setdefault(p.target.component or NO_COMPONENT, []).append(p)
    return list(groups.items())


def _table(head: list[str], rows: list[list[str]], status_col: int) -> Table:
    table = Table()
    for h in head:
        table.add_column(h, overflow="fold")
    for cells in rows:
        style = _STYLE.get(cells[status_col], "green")
        cells = [*cells]
        cells[status_col] = f"[{style}]{cells[status_col]}[/]"
        table.add_row(*cells)
    return table


def render_text(outcome: Outcome, console: Console) -> None:
    """Rich tables on the terminal."""
    for line in outcome.header:
        console.print(line, highlight=False, markup=False)
    console.print(outcome.summary(), highlight=False, markup=False)
    if outcome.low_confidence:
        console.print(f"[yellow]{LOW_CONFIDENCE}[/yellow]")
    if outcome.rows:
        console.print(_table(ROW_HEAD, [row_cells(r) for r in outcome.rows], 1))
        for line in interval_notes(outcome):
            console.print(line, highlight=False, markup=False)
    for component, group in by_component(outcome.parity):
        table = _table(PARITY_HEAD, [parity_cells(p) for p in group], PARITY_STATUS_COL)
        table.title = f"parity: {component}"
        console.print(table)


def render_markdown(outcome: Outcome, *, title: str = "kaizen-perf check") -> str:
    """A pull-request comment."""
    counts = _counts(outcome)
    lines = [f"### {title}", "", f"**{outcome.summary()}**", "",
             ", ".join(f"{v} {k}" for k, v in counts.items()) or "no rows", ""]
    lines += [f"- {line}" for line in outcome.header] + ([""] if outcome.header else [])
    if outcome.low_confidence:
        lines += [f"> {LOW_CONFIDENCE}", ""]
    sections = [("", ROW_HEAD, [row_cells(r) for r in outcome.rows])]
    sections += [(f"#### Parity: {component}", PARITY_HEAD, [parity_cells(p) for p in group])
                 for component, group in by_component(outcome.parity)]
    for title, head, cells in sections:
        if cells:
            lines += [title, ""] if title else []
            lines += [_md_row(head), _md_row(["---"] * len(head))]
            lines += [_md_row(c) for c in cells] + [""]
            if head is ROW_HEAD:
                lines += [f"- {n}" for n in interval_notes(outcome)] + [""]
    return "\n".join(lines)


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _counts(outcome: Outcome) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in [r.verdict.value for r in outcome.rows] + [p.status.value for p in outcome.parity]:
        out[s] = out.get(s, 0) + 1
    return out


def to_json(outcome: Outcome, *, strict: bool = False) -> dict[str, Any]:
    """A machine-readable summary (the raw samples live in the results file)."""
    return {
        "exit_code": outcome.exit_code(strict=strict), "low_confidence": outcome.low_confidence,
        "compared": list(outcome.header), "summary": outcome.summary(),
        "undecided": list(outcome.undecided), "stopped": outcome.stopped,
        "benchmarks": [_row_json(r) for r in outcome.rows],
        "parity": [_parity_json(p) for p in outcome.parity],
    }


def _parity_json(p: ParityRow) -> dict[str, Any]:
    t = p.target
    out: dict[str, Any] = {
        "name": t.name, "component": t.component or NO_COMPONENT, "origin": t.origin,
        "kind": t.kind, "benchmark": t.benchmark, "reference": t.reference,
        "unit": "fraction" if t.kind == "overhead" else ("ratio" if t.kind == "ratio"
                                                         else t.unit),
        "bound": t.bound, "budget": t.budget, "status": p.status.value, "gating": p.gating,
        "note": p.note}
    if p.check:
        out |= {"value": _num(p.check.value), "low": _num(p.check.low),
                "high": _num(p.check.high), "margin": p.check.margin}
    if p.base:
        out |= {"baseline_status": p.base.status.value, "baseline_value": _num(p.base.value)}
    return out


def _row_json(r: Row) -> dict[str, Any]:
    out: dict[str, Any] = {"name": r.name, "unit": r.unit, "verdict": r.verdict.value,
                           "gate": r.gate, "note": r.note, "measure": r.measure,
                           "measure_why": r.measure_why}
    if r.estimate is not None:
        e = r.estimate
        out |= {"ratio": e.ratio, "ci_low": _num(e.low), "ci_high": _num(e.high), "pairs": e.n,
                "interval": e.method, "coverage": e.coverage,
                "win_rate": e.win_rate, "mde": _num(e.mde), "noise": _num(r.noise),
                "pytest_benchmark_mean_change": _num(r.pytest_mean_change)}
    return out


def _num(v: float) -> float | None:
    return v if math.isfinite(v) else None


def render_json(outcome: Outcome, *, strict: bool = False) -> str:
    """The JSON summary as text."""
    return json.dumps(to_json(outcome, strict=strict), indent=2)


def render_junit(outcome: Outcome) -> str:
    """JUnit XML: one test case per benchmark and per parity target."""
    suite = ET.Element("testsuite", name="kaizen-perf")
    failures = errors = skipped = 0
    for r in outcome.rows:
        case = ET.SubElement(suite, "testcase", classname="kaizen-perf.check", name=r.name)
        text = " ".join(c for c in row_cells(r)[2:] if c)
        if r.verdict is Verdict.REGRESSION:
            failures += 1
            ET.SubElement(case, "failure", message=f"REGRESSION {text}")
        elif r.verdict is Verdict.ERROR:
            errors += 1
            ET.SubElement(case, "error", message=r.note or "harness error")
        elif r.verdict in (Verdict.INCONCLUSIVE, Verdict.NEW):
            skipped += 1
            ET.SubElement(case, "skipped", message=f"{r.verdict.value} {text}")
        ET.SubElement(case, "system-out").text = f"{r.verdict.value} {text}"
    for p in outcome.parity:
        group = (p.target.component or NO_COMPONENT).replace(" ", "_")
        case = ET.SubElement(suite, "testcase", classname=f"kaizen-perf.parity.{group}",
                             name=p.target.name)
        text = " ".join(c for c in parity_cells(p)[2:] if c)
        if p.status is Parity.VIOLATES and p.gating:
            failures += 1
            ET.SubElement(case, "failure", message=text)
        elif p.status is Parity.VIOLATES:
            skipped += 1  # a known violation the baseline shares: reported, not failed
            ET.SubElement(case, "skipped", message=text)
        elif p.status is Parity.ERROR:
            errors += 1
            ET.SubElement(case, "error", message=p.note or "harness error")
        elif p.status in (Parity.UNDETERMINED, Parity.NOT_RUN):
            skipped += 1
            ET.SubElement(case, "skipped", message=text)
    suite.set("tests", str(len(outcome.rows) + len(outcome.parity)))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(skipped))
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)

