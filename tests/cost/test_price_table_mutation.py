"""Edges of the price table that a mutation run of the cost modules found untested."""

from __future__ import annotations

from kaizen_perf.cost import (
    SOURCE_BUNDLED,
    SOURCE_FILE,
    ModelPrice,
    PriceTable,
    Rates,
    parse_models,
)


def test_a_table_built_in_code_has_no_date_no_sources_and_no_prices() -> None:
    """A PriceTable made from nothing claims no as-of date (pricing show prints it), asks no
    maintained source, has no fallback and prices nothing."""
    table = PriceTable({})
    assert (table.as_of, table.maintained, dict(table.fallback)) == ("", None, {})
    assert table.lookup("claude-sonnet-4-5", "anthropic") is None


def test_a_price_made_in_code_is_a_bundled_flat_price_with_no_date() -> None:
    """ModelPrice's defaults: no patterns, no long-context tier, the bundled source, no as-of
    date; so a hand-made price never claims to come from a user's file or genai-prices."""
    rates = Rates(1, 2, 3, 4, 5)
    price = ModelPrice("m", "p", rates)
    assert (price.patterns, price.long_context_threshold, price.long_context) == ((), None, None)
    assert (price.source, price.as_of) == (SOURCE_BUNDLED, "")
    assert price.cost_pico(10**9, 10**9) == 3 * 10**9  # no tier, however many tokens
    assert price.cost_pico(0, 0, 1, 1, 1) == 3 + 4 + 5


def test_a_cached_lookup_returns_the_price_it_found() -> None:
    """The second lookup of a model (served from the cache) is the same price as the first,
    from every source: a cache that forgot what it found would make known models unknown."""
    table = PriceTable.load(maintained=False)
    first = table.lookup("claude-sonnet-4-5-20250929", "anthropic")
    assert first is not None
    assert table.lookup("claude-sonnet-4-5-20250929", "anthropic") is first
    mine = PriceTable({"m": ModelPrice("m", "p", Rates(1, 1, 1, 1, 1))})
    assert mine.lookup("m") is mine.lookup("m") is mine.models["m"]


def test_parsed_prices_default_to_the_pricing_file_with_no_date() -> None:
    """parse_models marks prices as from a pricing file with no as-of date unless told."""
    models = parse_models({"models": {"m": {"input": 1, "output": 2, "cache_read": 0,
                                            "cache_write": 1}}}, "test")
    assert (models["m"].source, models["m"].as_of) == (SOURCE_FILE, "")
    assert models["m"].rates == Rates(1_000_000, 2_000_000, 0, 1_000_000, 1_000_000)
