"""What the observer hands out: per-query results, and the error names of tool calls."""

from __future__ import annotations

from dataclasses import dataclass, field

from kaizen_perf.errors import PermissionDenied, ToolUnfinished, ToolUseFailure
from kaizen_perf.integrations._calls import Usage

# The error names live in the one exception tree; re-exported here, where they were defined.
__all__ = ["PermissionDenied", "QueryResult", "ToolUnfinished", "ToolUseFailure"]


@dataclass(frozen=True)
class QueryResult:
    """One query (one ``ResultMessage``): how it ended, and its cost by the SDK and by us.

    Figures are for this query alone, also in a ``ClaudeSDKClient`` session, where the
    SDK's ``total_cost_usd`` and ``model_usage`` are running totals.
    """

    session_id: str
    subtype: str
    is_error: bool
    num_turns: int
    duration_s: float
    duration_api_s: float
    sdk_cost_usd: float | None  #: the SDK's own price table, this query's share
    cost_usd: float | None  #: kaizen-perf's prices; None if a model is unpriced
    llm_calls: int = 0
    model_usage: dict[str, Usage] = field(default_factory=dict)
    subagents: int = 0

    @property
    def budget_exceeded(self) -> bool:
        """The run was stopped by ``max_budget_usd``."""
        return self.subtype == "error_max_budget_usd"
