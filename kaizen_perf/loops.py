"""Loop detection: an agent calling the same tool with the same arguments N times in a row.

Arguments never leave the caller's thread. ``mon.tool(name, arguments=...)`` reduces them
at once to a 64-bit digest (:func:`args_digest`) carried by the ``ToolEvent``; the
arguments themselves are not kept, and the digest reaches no output (metrics, spans, logs
and the audit trail carry only the agent and the tool).

On the dispatcher, :class:`LoopDetector` follows each agent's tool calls in the order they
finished. The N-th call in a row of one tool with one digest is a detected loop
(``kaizen_agent_loops_detected_total{agent,tool}``, once per run of repeats); further
repeats belong to the same loop. A different tool, different arguments, or a tool call
without arguments ends it.

The cost inside a loop (``kaizen_agent_loop_cost_usd_total{agent,tool}``) is the cost of
the agent's API calls that ended between the start of the first call of the run and the
end of its last call: the calls made inside the repeated tool calls and between them.
The call that asked for the first repeat (it ended before that repeat started) and the
call that ended the loop (it came after the last repeat) are outside. Unpriced calls add
nothing (their cost is unknown, and counted as such elsewhere).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Final

from kaizen_perf.events import ApiCallEvent, ToolEvent

DEFAULT_REPEATS: Final = 3
_MAX_AGENTS: Final = 10_000  # state per agent; past it the oldest agent's run is forgotten
_MAX_PENDING: Final = 1024  # API calls held between two tool calls of one agent
_crc32, _adler32 = zlib.crc32, zlib.adler32


def args_digest(arguments: object) -> int | None:
    """A stable 64-bit digest of a tool's arguments, or None if they cannot be read.

    The ``repr`` of the arguments, checksummed twice (CRC-32 and Adler-32 side by side):
    the same across processes and runs, and ~0.3 µs for a small dict where sorting the keys
    and a cryptographic hash cost four times that on this path (the caller's thread). It only
    has to tell consecutive calls apart, not resist an adversary. Keys count in the order
    they were written (a model's JSON keeps its order). Arguments whose ``repr`` differs on
    every call (objects shown by address) are never equal, so such a tool is never reported
    as looping. Never raises.
    """
    try:
        data = repr(arguments).encode("utf-8", "surrogatepass")
        return (_crc32(data) << 32) | _adler32(data)
    except Exception:  # a raising __repr__, deep recursion: no digest, no comparison
        return None


@dataclass(frozen=True)
class LoopUpdate:
    """What one tool call changed: a loop detected now, and cost newly inside a loop."""

    agent: str
    tool: str
    detected: bool
    cost_pico: int
    repeats: int


@dataclass
class _Run:
    """One agent's current run of identical tool calls, and API calls since its last call."""

    tool: str = ""
    digest: int | None = None
    count: int = 0
    cost_pico: int = 0  # inside the run so far (reported once the run is a loop)
    pending: list[tuple[int, int]] = field(default_factory=list)  # (end_ns, cost_pico)


class LoopDetector:
    """Follows tool calls and API calls per agent; reports loops of ``repeats`` calls."""

    def __init__(self, repeats: int = DEFAULT_REPEATS) -> None:
        if type(repeats) is not int or repeats < 2:
            msg = f"loop repeats must be an integer of 2 or more, got {repeats!r}"
            raise ValueError(msg)
        self.repeats = repeats
        self._runs: dict[str, _Run] = {}

    def _run(self, agent: str) -> _Run:
        run = self._runs.get(agent)
        if run is None:
            if len(self._runs) >= _MAX_AGENTS:
                self._runs.pop(next(iter(self._runs)))
            run = self._runs[agent] = _Run()
        return run

    def api(self, e: ApiCallEvent) -> None:
        """Hold an API call's cost until the agent's next tool call says where it belongs
        (the caller passes priced calls only)."""
        if e.cost_pico > 0:
            pending = self._run(e.agent).pending
            if len(pending) >= _MAX_PENDING:  # fold the oldest two: sums stay exact
                (_, c0), (end, c1) = pending[0], pending[1]
                pending[0:2] = [(end, c0 + c1)]
            pending.append((e.end_ns, e.cost_pico))

    def tool(self, e: ToolEvent) -> LoopUpdate | None:
        """Account one finished tool call; an update when it is (inside) a loop."""
        digest = e.args_hash
        if digest is None:  # arguments unknown: nothing to compare, any run ends (fast path)
            run = self._runs.get(e.agent)
            if run is not None and (run.count or run.pending):
                run.count, run.cost_pico, run.pending = 0, 0, []
            return None
        run = self._run(e.agent)
        pending, run.pending = run.pending, []
        if run.count and run.digest == digest and run.tool == e.tool:
            run.count += 1
            added = sum(cost for _, cost in pending)  # all after the run's first call started
        else:
            run.tool, run.digest, run.count = e.tool, digest, 1
            run.cost_pico = 0
            start = e.start_ns  # only calls made inside this (first) call are in the run
            added = sum(cost for end, cost in pending if end >= start)
        if run.count < self.repeats:
            run.cost_pico += added
            return None
        if run.count == self.repeats:
            added += run.cost_pico
            run.cost_pico = 0
            return LoopUpdate(e.agent, e.tool, True, added, run.count)
        return LoopUpdate(e.agent, e.tool, False, added, run.count)

    def clear(self) -> None:
        """Forget every run (a forked child starts afresh)."""
        self._runs.clear()
