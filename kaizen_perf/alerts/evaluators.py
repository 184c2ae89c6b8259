"""In-process evaluation of rule specs: bounded sliding windows fed by events and probes.

An evaluator receives the events its rule watches on the dispatcher thread
(``observe``) and is asked, on the alert thread, which instances of its condition
hold now (``evaluate``). The engine serialises both with one lock. Windows are
kept as ten time slices of aggregated counts, so memory does not grow with the
event rate and the window edge is exact to a tenth of the window
(:mod:`kaizen_perf.alerts.windows`).

Thread safety: none here on purpose. ``observe`` runs on the dispatcher and
``evaluate`` on the alert thread, always under the engine's lock, so an evaluator
is single-threaded by construction and its hot ``observe`` takes no lock of its own.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from kaizen_perf.alerts.model import Finding
from kaizen_perf.alerts.specs import (
    BudgetRule,
    DroppedEventsRule,
    ErrorRateRule,
    ExportErrorsRule,
    LatencyRule,
    LoopRule,
    MemoryGrowthRule,
    RuleSpec,
    StuckRule,
    num,
)
from kaizen_perf.alerts.windows import MAX_KEYS, Key, Samples, SlicedWindow
from kaizen_perf.cost import usd
from kaizen_perf.cost.budget import BudgetStatus
from kaizen_perf.events import ApiCallEvent, Event, LoopEvent, ProcessSample, ToolEvent
from kaizen_perf.loops import LoopDetector
from kaizen_perf.metrics import METRICS
from kaizen_perf.metrics.summary import histogram_quantile

__all__ = ["BudgetEvaluator", "CounterIncreaseEvaluator", "ErrorRateEvaluator", "Evaluator",
           "Key", "LatencyEvaluator", "LoopEvaluator", "MemoryGrowthEvaluator", "Probe",
           "SlicedWindow", "StuckEvaluator", "build"]



@dataclass(frozen=True)
class Probe:
    """Process-level readings taken at each evaluation (not carried by events)."""

    dropped: int = 0
    export_errors: Mapping[str, int] = field(default_factory=dict)
    rss_bytes: int | None = None
    budgets: tuple[BudgetStatus, ...] = ()
    agent: str = "agent"


class Evaluator(Protocol):
    """The state of one rule."""

    @property
    def spec(self) -> RuleSpec: ...

    @property
    def events(self) -> tuple[type, ...]: ...

    def observe(self, event: Event, now_ns: int) -> None: ...

    def evaluate(self, now_ns: int, probe: Probe) -> list[Finding]: ...


def _extract(event: Event) -> tuple[Key, float, int, str | None]:
    """(label values, duration s, end time ns, error) of a tool, API or loop event."""
    if type(event) is ToolEvent:
        return ((event.agent, event.tool), (event.end_ns - event.start_ns) / 1e9, event.end_ns,
                event.error)
    if type(event) is ApiCallEvent:
        return ((event.agent, event.provider, event.model), event.duration_s, event.end_ns,
                event.error)
    assert type(event) is LoopEvent
    return ((event.agent,), (event.end_ns - event.start_ns) / 1e9, event.end_ns, event.error)


_EVENT_OF = {"kaizen_tool_duration_seconds": ToolEvent, "kaizen_tool_calls_total": ToolEvent,
             "kaizen_api_request_duration_seconds": ApiCallEvent,
             "kaizen_api_requests_total": ApiCallEvent,
             "kaizen_agent_loop_duration_seconds": LoopEvent,
             "kaizen_agent_loop_iterations_total": LoopEvent}


def _matcher(labels: tuple[str, ...], match: Mapping[str, str]) -> Callable[[Key], bool] | None:
    """A label filter, or None when the rule watches every series (the common, fast case)."""
    if not match:
        return None
    pairs = [(labels.index(k), v) for k, v in match.items()]
    return lambda key: all(key[i] == v for i, v in pairs)


class LatencyEvaluator:
    """Quantile of a duration from histogram buckets, as Prometheus computes it."""

    def __init__(self, spec: LatencyRule) -> None:
        self.spec, self.events = spec, (_EVENT_OF[spec.metric],)
        self._labels = spec.group_labels()
        self._buckets = METRICS[spec.metric].buckets
        self._window = SlicedWindow(spec.window_s, len(self._buckets) + 1)
        self._match = _matcher(self._labels, spec.match)

    def observe(self, event: Event, now_ns: int) -> None:
        """Count the event's duration in its bucket."""
        key, duration, end_ns, _ = _extract(event)
        if self._match is None or self._match(key):
            self._window.add(end_ns, key, bisect_left(self._buckets, duration))

    def evaluate(self, now_ns: int, probe: Probe) -> list[Finding]:
        """Series whose quantile is above the threshold."""
        spec, out = self.spec, []
        for key, counts in self._window.totals(now_ns).items():
            if sum(counts) < spec.min_count:
                continue
            value = histogram_quantile(spec.quantile, self._buckets, counts)
            if value > spec.threshold_s:
                labels = dict(zip(self._labels, key, strict=True))
                out.append(Finding(key, labels, value, spec.threshold_s, (
                    f"p{num(round(spec.quantile * 100, 4))} of {spec.metric} "
                    f"{_fmt_labels(labels)} is {value:.3g}s over the last {num(spec.window_s)}s "
                    f"(threshold {num(spec.threshold_s)}s, {sum(counts)} calls)")))
        return out


class ErrorRateEvaluator:
    """Share of failed calls per series over the window."""

    def __init__(self, spec: ErrorRateRule) -> None:
        self.spec, self.events = spec, (_EVENT_OF[spec.metric],)
        self._labels = spec.group_labels()
        self._window = SlicedWindow(spec.window_s, 2)
        self._match = _matcher(self._labels, spec.match)

    def observe(self, event: Event, now_ns: int) -> None:
        """Count the call, and the error if any."""
        key, _, end_ns, error = _extract(event)
        if self._match is None or self._match(key):
            self._window.add(end_ns, key, 0)
            if error is not None:
                self._window.add(end_ns, key, 1)

    def evaluate(self, now_ns: int, probe: Probe) -> list[Finding]:
        """Series whose error share is above the threshold."""
        spec, out = self.spec, []
        for key, (total, errors) in self._window.totals(now_ns).items():
            if total >= spec.min_count and errors / total > spec.threshold:
                labels = dict(zip(self._labels, key, strict=True))
                out.append(Finding(key, labels, errors / total, spec.threshold, (
                    f"{errors} of {total} {spec.metric} {_fmt_labels(labels)} failed over the "
                    f"last {num(spec.window_s)}s (threshold {num(spec.threshold * 100)}%)")))
        return out


class StuckEvaluator:
    """Time since each agent's last finished loop iteration (armed by its first one)."""

    def __init__(self, spec: StuckRule) -> None:
        self.spec, self.events = spec, (LoopEvent, ToolEvent, ApiCallEvent)
        self.last_progress: dict[str, int] = {}
        self.last_tool: dict[str, tuple[str, int]] = {}
        self.last_api: dict[str, tuple[str, str, int]] = {}

    def observe(self, event: Event, now_ns: int) -> None:
        """Note progress (loop iterations) and the last tool and API call (for snapshots)."""
        if type(event) is LoopEvent:
            if event.end_ns > self.last_progress.get(event.agent, 0):
                self.last_progress[event.agent] = event.end_ns
        elif event.agent in self.last_progress or len(self.last_tool) < MAX_KEYS:
            if type(event) is ToolEvent:
                self.last_tool[event.agent] = (event.tool, event.end_ns)
            elif type(event) is ApiCallEvent:
                self.last_api[event.agent] = (event.provider, event.model, event.end_ns)

    def evaluate(self, now_ns: int, probe: Probe) -> list[Finding]:
        """Agents without progress for longer than ``after_s``."""
        limit, out = self.spec.after_s, []
        for agent, last in self.last_progress.items():
            idle = (now_ns - last) / 1e9
            if idle > limit:
                out.append(Finding((agent,), {"agent": agent}, idle, limit, (
                    f"agent {agent!r} finished no loop iteration for {idle:.0f}s "
                    f"(threshold {num(limit)}s)")))
        return out

    def recent(self, agent: str, now_ns: int) -> dict[str, Any]:
        """The last tool and API call the agent finished, with how long ago."""
        out: dict[str, Any] = {}
        if agent in self.last_tool:
            tool, t = self.last_tool[agent]
            out["last_tool"] = {"tool": tool, "finished_s_ago": round((now_ns - t) / 1e9, 3)}
        if agent in self.last_api:
            provider, model, t = self.last_api[agent]
            out["last_api_call"] = {"provider": provider, "model": model,
                                    "finished_s_ago": round((now_ns - t) / 1e9, 3)}
        return out


class MemoryGrowthEvaluator:
    """Resident memory growth over the window, from process samples or the own process."""

    def __init__(self, spec: MemoryGrowthRule) -> None:
        self.spec, self.events = spec, (ProcessSample,)
        self._samples = Samples(spec.window_s)
        self._own = False  # sample the own process when no ProcessSample covers its agent

    def observe(self, event: Event, now_ns: int) -> None:
        """Record an RSS reading of an agent's processes."""
        assert type(event) is ProcessSample
        self._samples.add((event.agent,), now_ns, event.rss_bytes)

    def evaluate(self, now_ns: int, probe: Probe) -> list[Finding]:
        """Agents whose memory grew by more than the threshold over a full window."""
        if probe.rss_bytes is not None and (probe.agent,) not in self._samples.series:
            self._own = True
        if self._own and probe.rss_bytes is not None:
            self._samples.add((probe.agent,), now_ns, probe.rss_bytes)
        out = []
        for key, samples in self._samples.series.items():
            (t0, first), (_, last) = samples[0], samples[-1]
            # a full window of history, so start-up allocation is not taken for a leak
            if now_ns - t0 < self._samples.window_ns * 0.9:
                continue
            growth = last - first
            if growth > self.spec.threshold_bytes:
                out.append(Finding(key, {"agent": key[0]}, growth, self.spec.threshold_bytes, (
                    f"resident memory of {key[0]!r} grew by {growth / 2**20:.1f} MiB over the "
                    f"last {num(self.spec.window_s)}s (now {last / 2**20:.1f} MiB, threshold "
                    f"{self.spec.threshold_bytes / 2**20:.1f} MiB)")))
        return out


class CounterIncreaseEvaluator:
    """Increase of a kaizen-perf self counter (drops, export errors) over the window."""

    def __init__(self, spec: DroppedEventsRule | ExportErrorsRule) -> None:
        self.spec, self.events = spec, ()
        self._samples = Samples(spec.window_s, counter=True)
        self._label = spec.by

    def observe(self, event: Event, now_ns: int) -> None:
        """Self counters come from the probe, not from events."""

    def evaluate(self, now_ns: int, probe: Probe) -> list[Finding]:
        """Counters that grew by more than the threshold (they start at 0 with the monitor)."""
        readings = ({"buffer": probe.dropped} if isinstance(self.spec, DroppedEventsRule)
                    else probe.export_errors)
        for name, value in readings.items():
            key: Key = (name,)
            if key not in self._samples.series:
                self._samples.add(key, now_ns - self._samples.window_ns, 0)
            self._samples.add(key, now_ns, value)
        out = []
        for key, samples in self._samples.series.items():
            increase = samples[-1][1] - samples[0][1]
            if increase > self.spec.threshold:
                out.append(Finding(key, {self._label: key[0]}, increase, self.spec.threshold, (
                    f"{self.spec.metric}{{{self._label}={key[0]!r}}} increased by "
                    f"{num(increase)} over the last {num(self.spec.window_s)}s")))
        return out


class BudgetEvaluator:
    """Budgets whose spend reached each threshold."""

    def __init__(self, spec: BudgetRule) -> None:
        self.spec, self.events = spec, ()

    def observe(self, event: Event, now_ns: int) -> None:
        """Spend comes from the budget tracker through the probe."""

    def evaluate(self, now_ns: int, probe: Probe) -> list[Finding]:
        """One finding per budget and threshold reached."""
        out = []
        for status in probe.budgets:
            budget = status.budget
            for t in self.spec.thresholds:
                # ``crossed``: also the warnings a refused reservation reported before its stop
                if t in status.crossed or \
                        status.spent_pico * 10_000 >= budget.limit_pico * round(t * 10_000):
                    pct = f"{num(t * 100)}%"
                    out.append(Finding(
                        (budget.scope, budget.key, pct),
                        {"scope": budget.scope, "key": budget.key, "threshold": pct,
                         **({"agent": budget.key} if budget.scope == "agent" else {})},
                        status.fraction, t,
                        f"{budget.describe()} spent ${status.spent_usd:.4f} of "
                        f"${budget.limit_usd:.4f} ({status.fraction * 100:.1f}%, threshold "
                        f"{pct})", self.spec.severity_of(t)))
        return out


class LoopEvaluator:
    """Loops detected (:class:`kaizen_perf.loops.LoopDetector`, the same rule as the
    ``kaizen_agent_loops_detected_total`` metric) over the window, per agent and tool."""

    def __init__(self, spec: LoopRule) -> None:
        self.spec, self.events = spec, (ToolEvent, ApiCallEvent)
        self._detector = LoopDetector(spec.repeats)
        self._window_ns = int(spec.window_s * 1e9)
        # (when, (agent, tool), 1 for a new loop else 0, pico-dollars spent inside)
        self._seen: deque[tuple[int, Key, int, int]] = deque(maxlen=MAX_KEYS)

    def observe(self, event: Event, now_ns: int) -> None:
        """Feed the detector; remember each detection and the cost spent inside loops."""
        if type(event) is ApiCallEvent:
            if event.cost_pico > 0:
                self._detector.api(event)
        elif type(event) is ToolEvent:
            update = self._detector.tool(event)
            if update is not None:
                self._seen.append((now_ns, (update.agent, update.tool), int(update.detected),
                                   update.cost_pico))

    def evaluate(self, now_ns: int, probe: Probe) -> list[Finding]:
        """One finding per agent and tool with a loop detected within the window."""
        seen = self._seen
        while seen and seen[0][0] < now_ns - self._window_ns:
            seen.popleft()
        loops: dict[Key, list[int]] = {}
        for _, key, new, pico in seen:
            acc = loops.setdefault(key, [0, 0])
            acc[0] += new
            acc[1] += pico
        out = []
        for key, (count, pico) in loops.items():
            if count:
                out.append(Finding(key, {"agent": key[0], "tool": key[1]}, count, 0, (
                    f"agent {key[0]!r} called tool {key[1]!r} with the same arguments "
                    f"{self.spec.repeats} times in a row ({count} loop(s) in the last "
                    f"{num(self.spec.window_s)}s, ${usd(pico):.6f} of API calls inside)")))
        return out


def build(spec: RuleSpec) -> Evaluator:
    """The evaluator of a rule spec."""
    builders: dict[type, Callable[[Any], Evaluator]] = {
        LatencyRule: LatencyEvaluator, ErrorRateRule: ErrorRateEvaluator,
        StuckRule: StuckEvaluator, MemoryGrowthRule: MemoryGrowthEvaluator,
        DroppedEventsRule: CounterIncreaseEvaluator, ExportErrorsRule: CounterIncreaseEvaluator,
        BudgetRule: BudgetEvaluator, LoopRule: LoopEvaluator}
    return builders[type(spec)](spec)


def _fmt_labels(labels: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"{k}={v!r}" for k, v in labels.items()) + "}"
