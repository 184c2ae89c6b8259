"""Model prices from three sources, and exact cost computation.

A model's price comes from the first source that knows it:

1. the user's file (``KAIZEN_PERF_PRICING_FILE``, TOML, USD per million tokens);
2. the maintained ``genai-prices`` package (:mod:`kaizen_perf.cost.genai_prices`), when
   installed (the ``pricing`` extra);
3. the table bundled with kaizen-perf (``kaizen_perf/data/pricing.toml``), a
   fallback that goes stale: it is used only for models neither source knows.

A price of $X per million tokens is X·10⁶ pico-dollars per token, so costs are
computed and summed as integers (no float drift over a 30-hour run) and turned
into dollars only for display, always by :func:`usd`. In a TOML table a model is
matched by exact name, then by the longest matching glob pattern (dated ids such
as ``claude-sonnet-4-5-20250929``). The lookup is decided once per model and
cached. An unknown model has no price: the caller counts it, it is never $0.
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from decimal import ROUND_HALF_EVEN, Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from kaizen_perf._toml import read_toml
from kaizen_perf._validate import show
from kaizen_perf.cost.model import (
    PICO,
    SOURCE_BUNDLED,
    SOURCE_FILE,
    SOURCE_GENAI,
    Maintained,
    ModelPrice,
    Rates,
)
from kaizen_perf.errors import ConfigError

__all__ = ["COST_LOCAL", "COST_PROVIDER", "PICO", "SOURCE_BUNDLED", "SOURCE_FILE",
           "SOURCE_GENAI", "Maintained", "ModelPrice", "PriceTable", "Rates", "parse_models",
           "pico_of_usd", "usd", "usd_problem", "usd_text"]

#: ``gen_ai.usage.cost.source``: computed here from a price, or reported by the provider
COST_LOCAL = "local"
COST_PROVIDER = "provider"


def usd(pico: int) -> float:
    """Dollars of an exact pico-dollar amount: the one conversion every output uses.

    ``int / int`` is correctly rounded, so Prometheus, spans, StatsD, the event log
    and the summary print the same float for the same integer (``pico * 1e-12``
    differs from it in the last digit for about one amount in seven).
    """
    return pico / PICO


def pico_of_usd(dollars: float) -> int:
    """The pico-dollars of a dollar figure a provider reported (its shortest decimal, rounded)."""
    return int((Decimal(repr(float(dollars))) * PICO).to_integral_value(ROUND_HALF_EVEN))


_MAX_USD = 10**12  #: a provider's figure above a trillion dollars per call is not a cost


def usd_problem(value: object) -> str | None:
    """Why ``value`` is not a usable dollar amount (finite, 0 or more, not a bool), or None.

    Runs on the agent's thread, so it never raises: a huge int is compared, not converted.
    """
    if type(value) is int and 0 <= value < _MAX_USD:
        return None
    if type(value) is float and 0 <= value < _MAX_USD:  # NaN fails both comparisons
        return None
    return ("invalid_cost: provider_cost_usd must be a finite number of dollars >= 0, "
            f"got {show(value)}")


def usd_text(pico: int) -> str:
    """The exact decimal dollars of a pico-dollar amount, without exponent (``"0.000003"``).

    Text outputs (StatsD lines) carry this, so a reader parsing it gets :func:`usd`.
    """
    return format(Decimal(pico).scaleb(-12).normalize(), "f")


_KINDS = ("input", "output", "cache_read", "cache_write", "cache_write_1h")
_REQUIRED = ("input", "output", "cache_read", "cache_write")
_UNIT = "usd_per_million_tokens"


class PriceTable:
    """Looks up model prices: the first table, then the maintained source, then the fallback.

    Lookups are cached per (model, provider): the first call decides, later calls are a
    dict lookup (``record_api_call`` runs it for every request).
    """

    def __init__(self, models: dict[str, ModelPrice], *, as_of: str = "",
                 maintained: Maintained | None = None,
                 fallback: Mapping[str, ModelPrice] | None = None) -> None:
        self.models, self.as_of = models, as_of
        self.fallback: Mapping[str, ModelPrice] = fallback or {}
        self.maintained = maintained
        self._patterns = _by_pattern(models)
        self._fallback_patterns = _by_pattern(self.fallback)
        self._cache: dict[tuple[str, str | None], ModelPrice | None] = {}

    @classmethod
    def load(cls, extra_file: str | Path | None = None, *,
             maintained: Maintained | bool | None = True) -> PriceTable:
        """The user's ``extra_file`` first, then genai-prices (``maintained=True``: when
        installed; or a callable of your own; False: none), then the bundled table."""
        text = resources.files("kaizen_perf.data").joinpath("pricing.toml").read_text("utf-8")
        data = tomllib.loads(text)
        as_of = str(data.get("as_of", ""))
        bundled = parse_models(data, "built-in pricing.toml", source=SOURCE_BUNDLED,
                               as_of=as_of)
        user: dict[str, ModelPrice] = {}
        if extra_file is not None:
            extra = read_toml(extra_file, "pricing file", "Check KAIZEN_PERF_PRICING_FILE.")
            as_of = str(extra.get("as_of", as_of))
            user = parse_models(extra, str(extra_file), source=SOURCE_FILE,
                                as_of=str(extra.get("as_of", "")))
        if maintained is True:
            from kaizen_perf.cost.genai_prices import genai_prices
            maintained = genai_prices()
        return cls(user, as_of=as_of, maintained=maintained or None, fallback=bundled)

    def lookup(self, model: str, provider: str | None = None) -> ModelPrice | None:
        """The price of ``model`` (``provider`` helps the maintained source), or None."""
        key = (model, provider)
        try:
            return self._cache[key]
        except KeyError:
            pass
        found = _match(self.models, self._patterns, model)
        if found is None and self.maintained is not None:
            found = self.maintained(model, provider)
        if found is None:
            found = _match(self.fallback, self._fallback_patterns, model)
        if len(self._cache) < 10_000:
            self._cache[key] = found
        return found


def _by_pattern(models: Mapping[str, ModelPrice]) -> list[tuple[str, ModelPrice]]:
    # longest pattern first, so the most specific family wins
    return sorted(((p, m) for m in models.values() for p in m.patterns),
                  key=lambda pm: -len(pm[0]))


def _match(models: Mapping[str, ModelPrice], patterns: list[tuple[str, ModelPrice]],
           model: str) -> ModelPrice | None:
    found = models.get(model)
    if found is None:
        found = next((m for p, m in patterns if fnmatch.fnmatchcase(model, p)), None)
    return found


def parse_models(data: dict[str, Any], where: str, *, source: str = SOURCE_FILE,
                 as_of: str = "") -> dict[str, ModelPrice]:
    """Validate a parsed pricing document (``where`` names it in errors, which name the
    model and the field); every price is marked with ``source`` and ``as_of``."""
    unit = data.get("unit", _UNIT)
    if unit != _UNIT:
        msg = f"{where}: unit {unit!r} is not supported; expected {_UNIT!r}."
        raise ConfigError(msg)
    models = data.get("models", {})
    if not isinstance(models, dict):
        msg = f"{where}: [models] must be a table of model names."
        raise ConfigError(msg)
    return {name: replace(_parse_model(name, entry, where), source=source, as_of=as_of)
            for name, entry in models.items()}


def _parse_model(name: str, entry: Any, source: str) -> ModelPrice:
    if not isinstance(entry, dict):
        msg = f"{source}: model {name!r} must be a table of prices."
        raise ConfigError(msg)
    rates = _rates(name, entry, source, "")
    patterns = entry.get("patterns", [])
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        msg = f"{source}: model {name!r} field 'patterns' must be a list of glob strings."
        raise ConfigError(msg)
    tier, threshold = None, None
    if "long_context" in entry:
        lc = entry["long_context"]
        threshold = lc.get("threshold") if isinstance(lc, dict) else None
        if type(threshold) is not int or threshold <= 0:  # bool is an int: not a threshold
            msg = (f"{source}: model {name!r} field 'long_context.threshold' must be a "
                   "positive number of input tokens, such as 200000.")
            raise ConfigError(msg)
        tier = _rates(name, lc, source, "long_context.")
    return ModelPrice(name, str(entry.get("provider", "unknown")), rates, tuple(patterns),
                      threshold, tier)


def _rates(name: str, entry: dict[str, Any], source: str, prefix: str) -> Rates:
    values: dict[str, int] = {}
    for kind in _KINDS:
        if kind not in entry:
            if kind in _REQUIRED:
                msg = (f"{source}: model {name!r} is missing field '{prefix}{kind}' "
                       f"(USD per million tokens).")
                raise ConfigError(msg)
            continue
        values[kind] = _pico_per_token(name, f"{prefix}{kind}", entry[kind], source)
    values.setdefault("cache_write_1h", values["cache_write"])
    return Rates(**values)


def _pico_per_token(name: str, field_: str, raw: Any, source: str) -> int:
    # a TOML number is an int or a float (never a bool, which is an int too); str() of one
    # always parses as a Decimal (nan and inf included, refused below)
    price = Decimal(str(raw)) if type(raw) is int or type(raw) is float else None
    if price is None or not price.is_finite() or price < 0:
        msg = (f"{source}: model {name!r} field '{field_}' = {raw!r} is not valid: expected a "
               "price of 0 or more in USD per million tokens, such as 3.0.")
        raise ConfigError(msg)
    # a whole pico-dollar per token: prices finer than $0.000001 per million round (half even)
    return int((price * 10**6).to_integral_value(ROUND_HALF_EVEN))
