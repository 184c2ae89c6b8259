"""Cost: the price table (``prices``, ``model``, ``genai_prices``), budgets (``budget``,
``limits``), reservations before a request (``reserve``), per-tool and per-task attribution
(``attribution``, ``spend``).

What the former ``kaizen_perf.cost`` module had public is re-exported here.
"""

from __future__ import annotations

from kaizen_perf.cost.prices import (
    COST_LOCAL,
    COST_PROVIDER,
    PICO,
    SOURCE_BUNDLED,
    SOURCE_FILE,
    SOURCE_GENAI,
    Maintained,
    ModelPrice,
    PriceTable,
    Rates,
    parse_models,
    pico_of_usd,
    usd,
    usd_problem,
    usd_text,
)

__all__ = [
    "COST_LOCAL",
    "COST_PROVIDER",
    "PICO",
    "SOURCE_BUNDLED",
    "SOURCE_FILE",
    "SOURCE_GENAI",
    "Maintained",
    "ModelPrice",
    "PriceTable",
    "Rates",
    "parse_models",
    "pico_of_usd",
    "usd",
    "usd_problem",
    "usd_text",
]
