"""``kaizen-perf top``: live per-agent figures computed from successive /metrics scrapes.

The arithmetic is kept apart from the terminal so it can be tested: a
:class:`Snapshot` is one parsed scrape; :func:`rows` turns the newest snapshot
and one about a minute older into per-agent rates (CPU %, loops per second,
cost per hour) and a tool p95 over that window.
"""

from __future__ import annotations

import math
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from prometheus_client.parser import text_string_to_metric_families

from kaizen_perf.metrics.summary import histogram_quantile
from kaizen_perf.report.breakdown import Part, parts

Labels = frozenset[tuple[str, str]]


@dataclass(frozen=True)
class Snapshot:
    """One scrape: when, and every sample as {(name, labels): value}."""

    t: float
    samples: dict[tuple[str, Labels], float]

    def by_agent(self, name: str, **match: str) -> dict[str, float]:
        """Sum of a metric's samples per agent, over samples matching ``match``.

        Summed as the decimals the exposition printed, then rounded once: a float sum of
        per-model dollars differs from the agent's exact total in the last digit.
        """
        out: dict[str, Decimal] = defaultdict(Decimal)
        for (n, labels), value in self.samples.items():
            if n != name:
                continue
            d = dict(labels)
            if all(d.get(k) == v for k, v in match.items()):
                out[d.get("agent", "")] += Decimal(repr(value))
        return {agent: float(total) for agent, total in out.items()}

    def by_label(self, name: str, agent: str, label: str) -> dict[str, float]:
        """One agent's samples of a metric per value of ``label`` (as printed)."""
        out: dict[str, float] = {}
        for (n, labels), value in self.samples.items():
            d = dict(labels)
            if n == name and d.get("agent") == agent and label in d:
                out[d[label]] = value
        return out

    def buckets(self, name: str, agent: str) -> dict[float, float]:
        """Cumulative bucket counts of a histogram for one agent, summed over other labels."""
        out: dict[float, float] = defaultdict(float)
        for (n, labels), value in self.samples.items():
            d = dict(labels)
            if n == name + "_bucket" and d.get("agent") == agent:
                out[float(d["le"])] += value
        return out


def parse(text: str, t: float) -> Snapshot:
    """A Snapshot of a Prometheus text exposition."""
    samples = {(s.name, frozenset(s.labels.items())): s.value
               for fam in text_string_to_metric_families(text) for s in fam.samples}
    return Snapshot(t, samples)


def fetch(url: str, timeout_s: float = 3.0) -> str:
    """GET a /metrics URL."""
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:
        return resp.read().decode("utf-8")  # type: ignore[no-any-return]


@dataclass(frozen=True)
class AgentRow:
    """What `top` shows for one agent."""

    agent: str
    cpu_percent: float | None
    rss_bytes: float | None
    loops_per_s: float | None
    tool_p95_s: float | None
    cost_usd: float  #: of the priced calls only: see ``unpriced_calls``
    cost_per_hour: float | None  #: None also when a call in the window had no price
    stuck_s: float | None
    unpriced_calls: int = 0  #: calls no source priced: the total cost is unknown
    #: dollars per tool (``reasoning`` included: they add up to ``cost_usd``), costliest first
    tool_costs: tuple[tuple[str, float], ...] = ()
    #: alerts the monitor reports firing for the agent (``kaizen_alerts_firing``), by name
    alerts: tuple[str, ...] = ()
    #: where the time went since the run started: LLM calls, then each tool (longest first),
    #: with their costs; the report's figures, from the same families
    time_parts: tuple[Part, ...] = ()
    cpu_seconds: float | None = None  #: the agent's own CPU since the run started


def time_of(snap: Snapshot, agent: str) -> dict[str, object]:
    """An agent's ``time`` as the run summary (and so the report) computes it: the sums of
    its LLM call and tool durations (histogram ``_sum``), each tool with its cost."""
    llm = snap.by_agent("kaizen_api_request_duration_seconds_sum").get(agent, 0.0)
    counts = snap.by_label("kaizen_tool_duration_seconds_count", agent, "tool")
    sums = snap.by_label("kaizen_tool_duration_seconds_sum", agent, "tool")
    costs = snap.by_label("kaizen_tool_cost_usd_total", agent, "tool")
    return {"llm_s": llm, "tools": {tool: {"seconds": sums.get(tool, 0.0),
                                           "cost_usd": costs.get(tool, 0.0)}
                                    for tool, n in counts.items() if n > 0}}


def _rate(new: dict[str, float], old: dict[str, float] | None, agent: str,
          dt: float) -> float | None:
    if old is None or dt <= 0:
        return None
    return max(0.0, new.get(agent, 0.0) - old.get(agent, 0.0)) / dt


def quantile_from_cumulative(q: float, cum: dict[float, float]) -> float | None:
    """histogram_quantile over cumulative buckets {le: count} (None when empty)."""
    les = sorted(cum)
    if not les or les[-1] != math.inf or cum[les[-1]] <= 0:
        return None
    counts = [cum[le] - (cum[les[i - 1]] if i else 0.0) for i, le in enumerate(les)]
    return histogram_quantile(q, les[:-1], counts)


def rows(new: Snapshot, old: Snapshot | None) -> list[AgentRow]:
    """Per-agent figures from the newest snapshot and an older one (rates need both)."""
    dt = new.t - old.t if old else 0.0

    def pair(name: str, **match: str) -> tuple[dict[str, float], dict[str, float] | None]:
        return new.by_agent(name, **match), old.by_agent(name, **match) if old else None

    cpu, cpu0 = pair("kaizen_process_cpu_seconds_total")
    loops, loops0 = pair("kaizen_agent_loop_iterations_total")
    cost, cost0 = pair("kaizen_api_cost_usd_total")
    unpriced, unpriced0 = pair("kaizen_api_unpriced_requests_total")
    rss = new.by_agent("kaizen_process_resident_memory_bytes")
    progress = new.by_agent("kaizen_agent_last_progress_timestamp_seconds")
    firing = new.by_agent("kaizen_alerts_firing")
    agents = sorted(set(cpu) | set(loops) | set(cost) | set(unpriced) | set(rss) | set(firing))
    out = []
    for a in agents:
        cpu_rate = _rate(cpu, cpu0, a, dt)
        cost_rate = _rate(cost, cost0, a, dt)
        if _rate(unpriced, unpriced0, a, dt):  # an unpriced call in the window: rate unknown
            cost_rate = None
        cum = new.buckets("kaizen_tool_duration_seconds", a)
        if old is not None:
            base = old.buckets("kaizen_tool_duration_seconds", a)
            cum = {le: c - base.get(le, 0.0) for le, c in cum.items()}
        out.append(AgentRow(
            a, None if cpu_rate is None or a not in cpu else cpu_rate * 100, rss.get(a),
            _rate(loops, loops0, a, dt), quantile_from_cumulative(0.95, cum), cost.get(a, 0.0),
            None if cost_rate is None else cost_rate * 3600,
            new.t - progress[a] if a in progress else None, int(unpriced.get(a, 0)),
            tuple(sorted(new.by_label("kaizen_tool_cost_usd_total", a, "tool").items(),
                         key=lambda kv: -kv[1])),
            tuple(sorted(n for n, v in new.by_label("kaizen_alerts_firing", a, "alertname")
                         .items() if v > 0)),
            tuple(parts({"time": time_of(new, a), "priced_cost_usd": cost.get(a, 0.0)}, None)),
            cpu.get(a)))
    return out


class Poller:
    """Keeps about a minute of snapshots so rates are smoothed over that window."""

    def __init__(self, url: str, *, window_s: float = 60.0,
                 get: Callable[[str], str] = fetch, clock: Callable[[], float] = time.time) -> None:
        self.url, self.window = url, window_s
        self._get, self._clock = get, clock
        self._history: list[Snapshot] = []
        self.error: str | None = None

    def poll(self) -> list[AgentRow]:
        """Scrape once; on failure keep the last figures and remember the error."""
        try:
            snap = parse(self._get(self.url), self._clock())
            self.error = None
        except (OSError, ValueError) as exc:
            self.error = f"cannot scrape {self.url}: {exc}"
            return rows(self._history[-1], self._older()) if self._history else []
        self._history.append(snap)
        while len(self._history) > 2 and snap.t - self._history[1].t >= self.window:
            self._history.pop(0)
        return rows(snap, self._older())

    def _older(self) -> Snapshot | None:
        return self._history[0] if len(self._history) > 1 else None
