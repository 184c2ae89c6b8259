"""Edges of the price table that a mutation run of the cost modules found untested."""

from __future__ import annotations

from kaizen_perf.cost import PriceTable


def test_a_table_built_in_code_has_no_date_no_sources_and_no_prices() -> None:
    """A PriceTable made from nothing claims no as-of date (pricing show prints it), asks no
    maintained source, has no fallback and prices nothing."""
    table = PriceTable({})
    assert (table.as_of, table.maintained, dict(table.fallback)) == ("", None, {})
    assert table.lookup("claude-sonnet-4-5", "anthropic") is None
