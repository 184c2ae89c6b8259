"""The LLM calls of a Claude Agent SDK session, recorded on the monitor once and priced.

Apart from the observer, which decides *when* a call is complete (message ids,
``message_stop``, retries), this decides *what* is recorded: tokens, cost, and for
a model no price source knows, the SDK's own cost, which arrives only with the
query's result, so such calls are held until then and share it by token weight.
"""

from __future__ import annotations

from kaizen_perf.integrations.claude_agent_sdk import _usage as u
from kaizen_perf.integrations.claude_agent_sdk._state import Held, Session
from kaizen_perf.monitor import Monitor

PROVIDER = "anthropic"


class Accounting:
    """Records one observer's LLM calls on ``monitor`` and keeps each session's query totals."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor
        self._priced: dict[str, bool] = {}  # model → a price source knows it

    def record(self, s: Session, model: str, tokens: u.Tokens, duration_s: float, *,
               ttft: float | None = None, error: str | None = None,
               status: int | None = None, tools: tuple[str, ...] = ()) -> None:
        """One complete call: recorded now, or held until the result when it is unpriced."""
        if error is None:
            s.query_calls += 1
            u.add(s.query_tokens.setdefault(model, {}), tokens)
            if not self.is_priced(model):  # recorded at the result, with the SDK's cost
                s.held.append(Held(model, tokens, duration_s, ttft))
                return
        self.emit(s, model, tokens, duration_s, ttft, error, status, None, tools)

    def emit(self, s: Session, model: str, tokens: u.Tokens, duration_s: float,
             ttft: float | None, error: str | None, status: int | None,
             provider_cost: float | None, tools: tuple[str, ...] = ()) -> None:
        """Record one call on the monitor and add its cost to the session's query."""
        get = tokens.get
        cost = self.monitor.record_api_call(
            PROVIDER, model, get("input", 0), get("output", 0), get("cache_read", 0),
            get("cache_write", 0), max(0.0, duration_s), error,
            cache_write_1h_tokens=get("cache_write_1h", 0), ttft_s=ttft, status_code=status,
            provider_cost_usd=provider_cost, tool_calls=tools)
        if error is not None:
            return
        if cost is None:
            s.query_unpriced = True
        else:
            s.query_cost += cost

    def is_priced(self, model: str) -> bool:
        """Whether a price source knows ``model`` (asked once per model)."""
        known = self._priced.get(model)
        if known is None:
            try:
                known = self.monitor.pricing.lookup(model, PROVIDER) is not None
            except Exception:  # cannot tell: record as usual (counted as unpriced if so)
                known = True
            self._priced[model] = known
        return known

    def release(self, s: Session, costs: dict[str, float]) -> None:
        """Record the held calls, each with its share of its model's cost for this query."""
        held, s.held = s.held, []
        for model in dict.fromkeys(h.model for h in held):
            mine = [h for h in held if h.model == model]
            total = costs.get(model)
            weights = [u.weight(h.tokens) for h in mine]
            whole = sum(weights)
            for h, w in zip(mine, weights, strict=True):
                share = None if total is None else \
                    total * (w / whole if whole else 1 / len(mine))
                self.emit(s, model, h.tokens, h.duration, h.ttft, None, None, share)

    def settle(self, s: Session, truth: dict[str, u.Tokens]) -> None:
        """Record the answers seen without final usage, completed by the result's truth.

        ``modelUsage`` counts subagents' calls, which the CLI shows only as assistant
        messages with the ``message_start`` snapshot. What the query used beyond the
        calls already recorded goes to those messages (the last one of a model takes
        the rest); usage with no message to carry it is one call of its own.
        """
        pending, s.pending = s.pending, []
        for model in dict.fromkeys([p.model for p in pending] + list(truth)):
            mine = [p for p in pending if p.model == model]
            if model not in truth:  # no result figure (older CLI): the snapshots as they are
                for p in mine:
                    self.record(s, model, p.tokens, p.duration)
                continue
            rest = u.minus(truth[model], s.query_tokens.get(model, {}))
            for p in mine[:-1]:
                self.record(s, model, p.tokens, p.duration)
                rest = u.minus(rest, p.tokens)
            if mine or any(rest.values()):
                self.record(s, model, rest, mine[-1].duration if mine else 0.0)
