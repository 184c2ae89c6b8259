"""Cost figures against hand-computed prices, per token type and tier; cost per tool and task."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from kaizen_perf import Monitor
from kaizen_perf.testing import FakeClock
from tests.unit.metrics_util import value

# Sonnet 4.5 at $3 / $15 / $0.30 / $3.75 / $6 per million tokens (input, output, cache read,
# 5-minute write, 1-hour write); above 200k input tokens $6 / $22.50 / $0.60 / $7.50 / $12.
SONNET = "claude-sonnet-4-5-20250929"


def test_each_token_type_costs_its_own_price(make_monitor: Callable[..., Monitor]) -> None:
    """Input, output, cache read and both cache writes are each charged at their rate."""
    mon = make_monitor()
    cases = [  # (kwargs, dollars worked out by hand)
        ({"input_tokens": 1000}, "0.003"),            # 1000 × 3 / 1e6
        ({"output_tokens": 500}, "0.0075"),           # 500 × 15 / 1e6
        ({"cache_read_tokens": 2000}, "0.0006"),      # 2000 × 0.30 / 1e6
        ({"cache_write_tokens": 400}, "0.0015"),      # 400 × 3.75 / 1e6
        ({"cache_write_1h_tokens": 100}, "0.0006"),   # 100 × 6 / 1e6
    ]
    for kwargs, dollars in cases:
        cost = mon.record_api_call("anthropic", SONNET, **kwargs)  # type: ignore[arg-type]
        assert cost is not None and Decimal(repr(cost)) == Decimal(dollars), kwargs
    total = value(mon, "kaizen_api_cost_usd_total", agent="coster", provider="anthropic",
                  model=SONNET)
    assert abs(total - 0.0132) < 1e-15


def test_long_context_tier_charges_every_token_at_the_higher_rate(
        make_monitor: Callable[..., Monitor]) -> None:
    """190k input + 20k cache read is over 200k: all tokens move to the long-context rates."""
    mon = make_monitor()
    cost = mon.record_api_call("anthropic", SONNET, input_tokens=190_000, output_tokens=1000,
                               cache_read_tokens=20_000)
    # 190000 × 6 + 1000 × 22.5 + 20000 × 0.6 = 1 174 500 micro-dollars
    assert cost == 1.1745
    below = mon.record_api_call("anthropic", SONNET, input_tokens=200_000)
    assert below == 0.6  # exactly at the threshold: standard rate, 200000 × 3 / 1e6


def test_openai_and_google_prices_by_hand(make_monitor: Callable[..., Monitor]) -> None:
    """gpt-4.1 ($2 / $8 / $0.50) and gemini-2.5-pro ($1.25 / $10, $2.50 / $15 above 200k)."""
    mon = make_monitor()
    assert mon.record_api_call("openai", "gpt-4.1-2025-04-14", input_tokens=10_000,
                               output_tokens=1_000, cache_read_tokens=4_000) == 0.030
    assert mon.record_api_call("google", "gemini-2.5-pro", input_tokens=1_000_000,
                               output_tokens=100_000) == 2.5 + 1.5


def test_unpriced_model_is_counted_not_zero(make_monitor: Callable[..., Monitor]) -> None:
    """An unknown model returns None and counts in kaizen_api_unpriced_requests_total."""
    mon = make_monitor()
    assert mon.record_api_call("acme", "mystery-1", input_tokens=10) is None
    assert value(mon, "kaizen_api_unpriced_requests_total", agent="coster", provider="acme",
                 model="mystery-1") == 1
    assert value(mon, "kaizen_api_cost_usd_total", agent="coster", provider="acme",
                 model="mystery-1") == 0


def test_cost_is_attributed_to_the_active_tool(make_monitor: Callable[..., Monitor]) -> None:
    """API calls made inside a tool count in kaizen_tool_cost_usd_total for that tool only."""
    mon = make_monitor()
    with mon.tool("summarise"):
        mon.record_api_call("anthropic", SONNET, input_tokens=1000)   # $0.003
        mon.record_api_call("anthropic", SONNET, output_tokens=1000)  # $0.015
    with mon.tool("search"):
        mon.record_api_call("anthropic", SONNET, input_tokens=2000)   # $0.006
    mon.record_api_call("anthropic", SONNET, input_tokens=5000)       # no tool: not attributed
    assert abs(value(mon, "kaizen_tool_cost_usd_total", agent="coster", tool="summarise")
               - 0.018) < 1e-15
    assert abs(value(mon, "kaizen_tool_cost_usd_total", agent="coster", tool="search")
               - 0.006) < 1e-15


def test_task_cost_counts_calls_made_while_the_task_ran(
        make_monitor: Callable[..., Monitor], clock: FakeClock) -> None:
    """kaizen_task_cost_usd_total sums the API cost between a task's start and its end."""
    mon = make_monitor()
    mon.record_api_call("anthropic", SONNET, input_tokens=9000)  # before the task: $0.027
    clock.advance(10)
    mon.record_api_call("anthropic", SONNET, input_tokens=1000)  # $0.003
    clock.advance(20)
    mon.record_api_call("anthropic", SONNET, output_tokens=100)  # $0.0015
    clock.advance(5)
    mon.task("code_review", complexity="high", duration_s=30.0, ok=True)  # started 5 s before
    assert abs(value(mon, "kaizen_task_cost_usd_total", agent="coster", task_type="code_review",
                     complexity="high") - 0.0045) < 1e-15


def test_thirty_hours_of_calls_sum_exactly(make_monitor: Callable[..., Monitor]) -> None:
    """100 000 calls of 0.1 cent each sum to exactly $100 (integer pico-dollars, no drift)."""
    mon = make_monitor(buffer_size=200_000)  # room for every event: this test is about sums
    for _ in range(100_000):
        mon.record_api_call("anthropic", "claude-haiku-4-5", input_tokens=1000)  # $0.001
    mon.flush()
    fam = mon.metrics.families["kaizen_api_cost_usd_total"]
    assert fam.series[("coster", "anthropic", "claude-haiku-4-5")][0] == 100 * 10**12
