"""Pricing table (a versioned data file) and exact cost computation.

Prices are USD per million tokens in ``kaizen_perf/data/pricing.toml``; users
extend or override models with their own file (``KAIZEN_PERF_PRICING_FILE``).
A price of $X per million tokens is X·10⁶ pico-dollars per token, so costs are
computed and summed as integers (no float drift over a 30-hour run) and turned
into dollars only for display. A model is matched by exact name, then by the
longest glob pattern (dated ids such as ``claude-sonnet-4-5-20250929``). An
unknown model has no price: the caller counts it, it is never $0.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

from kaizen_perf.errors import ConfigError

PICO = 10**12  #: pico-dollars per dollar


def usd(pico: int) -> float:
    """Dollars of an exact pico-dollar amount: the one conversion every output uses.

    ``int / int`` is correctly rounded, so Prometheus, spans, StatsD, the event log
    and the summary print the same float for the same integer (``pico * 1e-12``
    differs from it in the last digit for about one amount in seven).
    """
    return pico / PICO


def usd_text(pico: int) -> str:
    """The exact decimal dollars of a pico-dollar amount, without exponent (``"0.000003"``).

    Text outputs (StatsD lines) carry this, so a reader parsing it gets :func:`usd`.
    """
    return format(Decimal(pico).scaleb(-12).normalize(), "f")
_KINDS = ("input", "output", "cache_read", "cache_write", "cache_write_1h")
_REQUIRED = ("input", "output", "cache_read", "cache_write")
_UNIT = "usd_per_million_tokens"


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


class PriceTable:
    """Looks up model prices; lookups are cached per model name."""

    def __init__(self, models: dict[str, ModelPrice], *, as_of: str = "") -> None:
        self.models, self.as_of = models, as_of
        # longest pattern first, so the most specific family wins
        self._patterns = sorted(((p, m) for m in models.values() for p in m.patterns),
                                key=lambda pm: -len(pm[0]))
        self._cache: dict[str, ModelPrice | None] = {}

    @classmethod
    def load(cls, extra_file: str | Path | None = None) -> PriceTable:
        """The built-in table, extended or overridden by ``extra_file``."""
        text = resources.files("kaizen_perf.data").joinpath("pricing.toml").read_text("utf-8")
        data = tomllib.loads(text)
        models = parse_models(data, "built-in pricing.toml")
        as_of = str(data.get("as_of", ""))
        if extra_file is not None:
            path = Path(extra_file)
            try:
                extra = tomllib.loads(path.read_text("utf-8"))
            except OSError as exc:
                msg = (f"Cannot read pricing file {str(path)!r}: {exc.strerror}. "
                       "Check KAIZEN_PERF_PRICING_FILE.")
                raise ConfigError(msg) from None
            except tomllib.TOMLDecodeError as exc:
                msg = f"Pricing file {str(path)!r} is not valid TOML: {exc}."
                raise ConfigError(msg) from None
            models.update(parse_models(extra, str(path)))
            as_of = str(extra.get("as_of", as_of))
        return cls(models, as_of=as_of)

    def lookup(self, model: str) -> ModelPrice | None:
        """The price of ``model``, or None when it is not in the table."""
        try:
            return self._cache[model]
        except KeyError:
            pass
        found = self.models.get(model)
        if found is None:
            found = next((m for p, m in self._patterns if fnmatch.fnmatchcase(model, p)), None)
        if len(self._cache) < 10_000:
            self._cache[model] = found
        return found


def parse_models(data: dict[str, Any], source: str) -> dict[str, ModelPrice]:
    """Validate a parsed pricing document; errors name the model and the field."""
    unit = data.get("unit", _UNIT)
    if unit != _UNIT:
        msg = f"{source}: unit {unit!r} is not supported; expected {_UNIT!r}."
        raise ConfigError(msg)
    models = data.get("models", {})
    if not isinstance(models, dict):
        msg = f"{source}: [models] must be a table of model names."
        raise ConfigError(msg)
    return {name: _parse_model(name, entry, source) for name, entry in models.items()}


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
        if not isinstance(threshold, int) or threshold <= 0:
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
    try:
        price = Decimal(str(raw)) if isinstance(raw, int | float) and \
            not isinstance(raw, bool) else None
    except InvalidOperation:
        price = None
    if price is None or not price.is_finite() or price < 0:
        msg = (f"{source}: model {name!r} field '{field_}' = {raw!r} is not valid: expected a "
               "price of 0 or more in USD per million tokens, such as 3.0.")
        raise ConfigError(msg)
    return int(price * 10**6)
