"""The price records (``Rates``, ``ModelPrice``) that every price source produces.

Apart from :mod:`kaizen_perf.cost` (which re-exports them) so that a source such as
:mod:`kaizen_perf.cost.genai_prices` can build them without importing the table that
asks it: the table imports its sources, never the other way round.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

PICO = 10**12  #: pico-dollars per dollar
SOURCE_FILE = "pricing file"  #: ModelPrice.source of a user's KAIZEN_PERF_PRICING_FILE entry
SOURCE_GENAI = "genai-prices"  #: ... of a price from the maintained genai-prices package
SOURCE_BUNDLED = "bundled table"  #: ... of kaizen-perf's own (fallback) table


@dataclass(frozen=True)
class Rates:
    """Pico-dollars per token for each token type."""

    input: int
    output: int
    cache_read: int
    cache_write: int
    cache_write_1h: int


@dataclass(frozen=True)
class ModelPrice:
    """Prices of one model, with an optional long-context tier."""

    model: str
    provider: str
    rates: Rates
    patterns: tuple[str, ...] = ()
    long_context_threshold: int | None = None
    long_context: Rates | None = None
    #: where the price comes from (SOURCE_FILE, SOURCE_GENAI, SOURCE_BUNDLED) and as of when
    source: str = SOURCE_BUNDLED
    as_of: str = ""

    def cost_pico(self, input_tokens: int, output_tokens: int, cache_read_tokens: int = 0,
                  cache_write_tokens: int = 0, cache_write_1h_tokens: int = 0) -> int:
        """Exact cost in pico-dollars; the long-context tier applies to every token."""
        r = self.rates
        total_in = input_tokens + cache_read_tokens + cache_write_tokens + cache_write_1h_tokens
        if self.long_context and self.long_context_threshold is not None \
                and total_in > self.long_context_threshold:
            r = self.long_context
        return (input_tokens * r.input + output_tokens * r.output
                + cache_read_tokens * r.cache_read + cache_write_tokens * r.cache_write
                + cache_write_1h_tokens * r.cache_write_1h)


Maintained = Callable[[str, str | None], ModelPrice | None]
"""``maintained(model, provider)``: a price from a maintained source, or None."""
