"""Token counts as the ``claude`` CLI reports them, in kaizen-perf's accounting.

The CLI passes the Anthropic API's usage through as JSON (snake_case per message,
camelCase per model in ``modelUsage``). Counts are plain dicts keyed by :data:`KINDS`
so a per-model total is one ``dict`` and differences are cheap.
"""

from __future__ import annotations

from typing import Any

from kaizen_perf.integrations._calls import as_int

#: input (uncached), output, cache reads, 5-minute cache writes, 1-hour cache writes
KINDS = ("input", "output", "cache_read", "cache_write", "cache_write_1h")
_CAMEL = {"input": "inputTokens", "output": "outputTokens",
          "cache_read": "cacheReadInputTokens", "cache_write": "cacheCreationInputTokens"}
Tokens = dict[str, int]


def from_api(usage: object) -> Tokens:
    """Counts from an API ``usage`` object (``message_start``/``message_delta``/assistant)."""
    if not isinstance(usage, dict):
        return {}
    out: Tokens = {}
    for kind, key in (("input", "input_tokens"), ("output", "output_tokens"),
                      ("cache_read", "cache_read_input_tokens")):
        if usage.get(key) is not None:
            out[kind] = as_int(usage.get(key))
    created = usage.get("cache_creation_input_tokens")
    if created is not None:
        detail = usage.get("cache_creation")
        one_hour = as_int(detail.get("ephemeral_1h_input_tokens")) \
            if isinstance(detail, dict) else 0
        one_hour = min(as_int(created), one_hour)
        out["cache_write"], out["cache_write_1h"] = as_int(created) - one_hour, one_hour
    return out


def from_model_usage(entry: object) -> Tokens:
    """Counts from one ``modelUsage`` entry of a result (camelCase, cache writes not split)."""
    if not isinstance(entry, dict):
        return {}
    return {kind: as_int(entry.get(key)) for kind, key in _CAMEL.items()}


def add(total: Tokens, more: Tokens) -> None:
    """``total += more``, kind by kind (1-hour writes folded into cache_write for totals)."""
    for kind, value in more.items():
        key = "cache_write" if kind == "cache_write_1h" else kind
        total[key] = total.get(key, 0) + value


def minus(a: Tokens, b: Tokens) -> Tokens:
    """What ``a`` holds beyond ``b``, never negative."""
    return {kind: max(0, a.get(kind, 0) - b.get(kind, 0)) for kind in _CAMEL}


def per_model(model_usage: object) -> dict[str, Tokens]:
    """A result's ``modelUsage`` as counts per model."""
    if not isinstance(model_usage, dict):
        return {}
    return {str(m): from_model_usage(u) for m, u in model_usage.items()}


def cost_per_model(model_usage: object) -> dict[str, float]:
    """A result's ``modelUsage`` cost (``costUSD``) per model."""
    if not isinstance(model_usage, dict):
        return {}
    return {str(m): v for m, e in model_usage.items()
            if isinstance(e, dict) and (v := as_float(e.get("costUSD"))) is not None}


def weight(tokens: Tokens) -> float:
    """A call's share of its model's cost, in input-token equivalents.

    Anthropic's usual proportions (output 5x input, cache read 0.1x, 5-minute write
    1.25x, 1-hour write 2x): a split by these weights is exact for a model priced so,
    close otherwise, and always sums to the reported cost.
    """
    get = tokens.get
    return (get("input", 0) + 5 * get("output", 0) + 0.1 * get("cache_read", 0)
            + 1.25 * get("cache_write", 0) + 2 * get("cache_write_1h", 0))


def as_float(value: Any) -> float | None:
    """A number the CLI reported, or None."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else None
