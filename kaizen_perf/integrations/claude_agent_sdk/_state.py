"""What the observer keeps per session between the CLI's messages."""

from __future__ import annotations

from dataclasses import dataclass, field

from kaizen_perf.integrations.claude_agent_sdk import _usage as u


@dataclass
class Call:
    """An answer being streamed."""

    message_id: str
    model: str
    tokens: u.Tokens
    started: float
    ttft: float
    tools: list[str] = field(default_factory=list)  #: tools the answer asks for, in order


@dataclass
class Pending:
    """An answer seen only as an assistant message (a subagent's): final usage unknown."""

    model: str
    tokens: u.Tokens
    duration: float


@dataclass
class Held:
    """A call of a model no price source knows, kept until the result reports its cost."""

    model: str
    tokens: u.Tokens
    duration: float
    ttft: float | None


@dataclass
class Session:
    model: str = ""
    requesting_at: float | None = None
    calls: dict[str | None, Call] = field(default_factory=dict)  # by parent_tool_use_id
    pending: list[Pending] = field(default_factory=list)
    query_tokens: dict[str, u.Tokens] = field(default_factory=dict)
    query_calls: int = 0
    query_cost: float = 0.0
    query_unpriced: bool = False
    total_usage: dict[str, u.Tokens] = field(default_factory=dict)  # cumulative, last result
    total_cost: float = 0.0
    total_model_cost: dict[str, float] = field(default_factory=dict)  # cumulative
    held: list[Held] = field(default_factory=list)
    subagents: int = 0
