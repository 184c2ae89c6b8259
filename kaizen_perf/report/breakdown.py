"""Where did the time go: an agent's wall time split into LLM calls, each tool and the rest.

The parts come from the hooks (the sums of LLM call and tool durations, in the run
summary's ``time``), the whole from the run's wall time; the agent's CPU, from process
metrics, is shown beside them. Calls that overlap (concurrent tools, an LLM call made
inside a tool) count in each part, so the parts can add up to more than the wall time:
then "elsewhere" is 0 and the page says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any


@dataclass(frozen=True)
class Part:
    """One share of the wall time."""

    label: str
    seconds: float
    cost_usd: float | None = None


def parts(agent: dict[str, Any], wall_s: float | None) -> list[Part]:
    """LLM calls, each tool (longest first), then what the hooks do not cover."""
    time = agent.get("time") or {}
    out = [Part("LLM calls", float(time.get("llm_s", 0.0)),
                agent.get("priced_cost_usd", agent.get("cost_usd")))]
    tools = sorted((time.get("tools") or {}).items(), key=lambda kv: -kv[1]["seconds"])
    out += [Part(f"tool {name}", float(t["seconds"]), t.get("cost_usd") or None)
            for name, t in tools]
    if wall_s:
        out.append(Part("elsewhere (agent code between hooks, waits outside them)",
                        max(0.0, wall_s - sum(p.seconds for p in out))))
    return [p for p in out if p.seconds > 0]


def _share(seconds: float, wall_s: float | None) -> str:
    return f"{100 * seconds / wall_s:.0f} %" if wall_s else ""


def text_lines(agent: dict[str, Any], wall_s: float | None, *, most: int = 4) -> list[str]:
    """The summary's line: ``time (30.1 s wall): LLM calls 12.3 s (41 %), tool web_search …``."""
    found = parts(agent, wall_s)
    if not any(not p.label.startswith("elsewhere") for p in found):
        return []
    named = [p for p in found if not p.label.startswith("elsewhere")]
    rest = [p for p in found if p.label.startswith("elsewhere")]
    shown = named[:most] + rest
    items = [f"{p.label.split(' (')[0]} {p.seconds:.1f} s"
             + (f" ({_share(p.seconds, wall_s)})" if wall_s else "") for p in shown]
    if len(named) > most:
        items.insert(most, f"{len(named) - most} more tools")
    wall = f" ({wall_s:.1f} s wall)" if wall_s else ""
    return [f"  time{wall}: " + ", ".join(items)
            + f"; CPU {agent.get('cpu_seconds', 0.0):.1f} s"]


_COLOURS = ("#d9534f", "#5b8def", "#50b37a", "#e0a030", "#9b6bd3", "#40b0c0", "#c06090")


def render(agent: dict[str, Any], wall_s: float | None) -> str:
    """The report's "Where the time went" block for one agent (empty without hook data)."""
    found = parts(agent, wall_s)
    if not any(not p.label.startswith("elsewhere") for p in found):
        return ""
    total = wall_s or sum(p.seconds for p in found)
    bar = "".join(
        f'<div title="{escape(p.label)}: {p.seconds:.2f} s" style="width:'
        f'{100 * p.seconds / total:.2f}%;background:{_colour(i, p)}"></div>'
        for i, p in enumerate(found))
    rows = "".join(
        f'<tr><td><span class="swatch" style="background:{_colour(i, p)}"></span>'
        f"{escape(p.label)}</td><td>{p.seconds:.2f} s</td><td>{_share(p.seconds, wall_s)}</td>"
        f"<td>{'' if p.cost_usd is None else f'${p.cost_usd:.4f}'}</td></tr>"
        for i, p in enumerate(found))
    overlap = wall_s and sum(p.seconds for p in found) > wall_s * 1.001
    note = (" Calls overlapped (concurrent tools, or LLM calls inside tools), so the parts "
            "add up to more than the wall time." if overlap else "")
    cpu = float(agent.get("cpu_seconds", 0.0))
    return ('<div class="breakdown"><h3>Where the time went</h3>'
            f'<div class="bar">{bar}</div><table><tr><th>part</th><th>time</th>'
            f"<th>share of wall</th><th>cost</th></tr>{rows}</table>"
            f'<p class="muted">Wall time {_fmt(wall_s)}; the agent\'s CPU {cpu:.2f} s'
            f"{' (' + _share(cpu, wall_s) + ' of one core)' if wall_s else ''}. LLM and tool "
            f"times are the sums of the hooks' durations.{note}</p></div>")


def _fmt(wall_s: float | None) -> str:
    return "unknown" if not wall_s else f"{wall_s:.2f} s"


def _colour(i: int, p: Part) -> str:
    return "#cccccc" if p.label.startswith("elsewhere") else _COLOURS[i % len(_COLOURS)]
