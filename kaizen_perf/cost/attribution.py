"""Every dollar to exactly one (agent, tool or ``reasoning``) pair.

The rule, applied to each priced API call (integer pico-dollars, so the parts add up to
the call's cost exactly):

1. A call made **inside a tool** (``with mon.tool("x"):``, a tool that runs a sub-agent
   or its own LLM call) belongs to that tool: the tool spent it.
2. Otherwise a response that **asks for tools** (Anthropic ``tool_use`` blocks, OpenAI
   ``tool_calls`` or ``function_call`` items, Kaizen and Claude Agent SDK tool calls)
   is split across the k tools it asked for, in the response's order: each gets
   ``cost // k``, and the first ``cost % k`` of them one pico-dollar more. A tool asked
   for twice in one response gets two shares.
3. Otherwise (an answer, a plan, a summary: no tool asked for) it is ``reasoning``.

So the model's cost of deciding to call a tool is charged to that tool, and the sum of
``kaizen_tool_cost_usd_total`` over its ``tool`` label (``reasoning`` included) equals
``kaizen_api_cost_usd_total`` of the agent, to the pico-dollar. A tool whose name is
``reasoning`` shares the label.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kaizen_perf._validate import MAX_TEXT

REASONING = "reasoning"  #: the ``tool`` label of cost no tool is charged for
MAX_TOOL_CALLS = 128  #: tool requests kept per response (the rest share nothing)


def split(cost_pico: int, tool: str | None, tool_calls: Sequence[str]) -> list[tuple[str, int]]:
    """``(tool, pico)`` parts of one call's cost by the rule above; they sum to ``cost_pico``."""
    if cost_pico <= 0:
        return []
    if tool is not None:
        return [(tool, cost_pico)]
    k = len(tool_calls)
    if k == 0:
        return [(REASONING, cost_pico)]
    share, extra = divmod(cost_pico, k)
    parts: dict[str, int] = {}
    for i, name in enumerate(tool_calls):
        amount = share + (1 if i < extra else 0)
        if amount:
            parts[name] = parts.get(name, 0) + amount
    return list(parts.items())


def tool_names(tool_calls: object, cut: Callable[[str], str]) -> tuple[str, ...] | None:
    """The tool names of ``record_api_call(tool_calls=...)`` (each cut to a label's length,
    at most :data:`MAX_TOOL_CALLS`), or None when it is not a sequence of non-empty strings."""
    if isinstance(tool_calls, str) or not isinstance(tool_calls, Sequence):
        return None
    names = tuple(tool_calls[:MAX_TOOL_CALLS])
    if not all(type(n) is str and n for n in names):
        return None
    return tuple(n if len(n) <= MAX_TEXT and n.isascii() else cut(n) for n in names)
