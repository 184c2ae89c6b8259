"""Prices from the maintained ``genai-prices`` package, turned once per model into our exact form.

``genai_prices.calc_price`` works in ``Decimal`` and decomposes the usage on every
call (tens of microseconds); ``record_api_call`` runs for every request. So the
package is asked once per model, and its per-million-token prices become a
:class:`~kaizen_perf.cost.model.ModelPrice` of whole pico-dollars per token, which the
table caches. The result equals ``calc_price`` for the token kinds kaizen-perf
records (a test checks this on every model of the package):

- genai-prices' ``input_tokens`` *include* cache reads and writes, ours do not: a
  price missing for a cache kind falls back as the package's decomposition does
  (cache read or write → input price; 1-hour write → 5-minute write price);
- a missing output price is $0, as the package charges;
- a tier (``TieredPrices``) applies to every token once the total input,
  cache included, exceeds its start: our long-context tier.

Not taken from the package (the next source is asked instead): models without an
input price (embeddings by characters, images, audio), models with a per-request
fee (``requests_kcount``), and models with more than one tier or with tiers that
start at different sizes. Prices with more digits than a pico-dollar per token
(float artefacts in the package's data, such as ``0.18000000000000002``) round to
the nearest pico-dollar per token.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from kaizen_perf.cost.model import SOURCE_GENAI, Maintained, ModelPrice, Rates

_KEYS = (("input", "input_mtok"), ("output", "output_mtok"), ("cache_read", "cache_read_mtok"),
         ("cache_write", "cache_write_mtok"), ("cache_write_1h", "cache_write_1h_mtok"))
_UNSUPPORTED = ("requests_kcount",)
logger = logging.getLogger("kaizen_perf")  # a per-request fee our per-token rates cannot carry


def genai_prices(*, wait_s: float = 30.0) -> Maintained | None:
    """The lookup backed by genai-prices, or None when the package is not installed.

    Importing the package and its data takes 0.15-0.6 s here, so it happens on a
    short-lived ``kaizen-perf-pricing`` thread, not in the monitor's constructor:
    a program's start is not delayed, and the first lookup (the first LLM call,
    usually later than that) waits for it at most ``wait_s``.
    """
    if importlib.util.find_spec("genai_prices") is None:
        return None
    ready = threading.Event()
    loaded: list[Any] = []

    def load() -> None:
        try:
            import genai_prices
            from genai_prices import data_snapshot

            data_snapshot.get_snapshot()  # the price data, now rather than in a lookup
            loaded.extend((str(genai_prices.__version__), data_snapshot))
        except Exception as exc:  # a broken install: the next source prices instead
            logger.warning("kaizen-perf: genai-prices could not be loaded (%r); prices come "
                           "from the pricing file and the bundled table", exc)
        finally:
            ready.set()

    threading.Thread(target=load, name="kaizen-perf-pricing", daemon=True).start()

    def lookup(model: str, provider: str | None) -> ModelPrice | None:
        if not ready.wait(wait_s) or not loaded:
            return None
        version, data_snapshot = loaded
        snapshot = data_snapshot.get_snapshot()
        found = _find(snapshot, model, provider)
        if found is None:
            return None
        prov, info = found
        # a snapshot fetched by genai_prices.UpdatePrices is dated; the bundled one is not
        as_of = (f"{snapshot.timestamp:%Y-%m-%d} (genai-prices {version}, updated)"
                 if snapshot.from_auto_update else f"genai-prices {version} data")
        return convert(info.id, prov.id, info.get_prices(datetime.now(UTC)), as_of=as_of)

    return lookup


def _find(snapshot: Any, model: str, provider: str | None) -> tuple[Any, Any] | None:
    """(provider, model info) from the snapshot: by our provider name first, then by model."""
    for provider_id in ((provider, None) if provider else (None,)):
        try:
            return snapshot.find_provider_model(model, None, provider_id, None)  # type: ignore[no-any-return]
        except LookupError:
            continue
    return None


def convert(model: str, provider: str, prices: Any, *, as_of: str) -> ModelPrice | None:
    """Our exact price from a genai-prices ``ModelPrice``, or None if it cannot be exact."""
    if any(getattr(prices, key, None) is not None for key in _UNSUPPORTED):
        return None
    raw = {kind: getattr(prices, key, None) for kind, key in _KEYS}
    if raw["input"] is None:
        return None
    starts: set[int] = set()
    for value in raw.values():
        tiers = getattr(value, "tiers", None)
        if tiers is not None:
            if len(tiers) != 1:
                return None
            starts.add(int(tiers[0].start))
    if len(starts) > 1:
        return None
    base = _rates({k: getattr(v, "base", v) for k, v in raw.items()})
    if not starts:
        return ModelPrice(model, provider, base, source=SOURCE_GENAI, as_of=as_of)
    long = _rates({k: _tier_price(v) for k, v in raw.items()})
    return ModelPrice(model, provider, base, long_context_threshold=starts.pop(),
                      long_context=long, source=SOURCE_GENAI, as_of=as_of)


def _tier_price(value: Any) -> Decimal | None:
    """The long-context price of one key: its tier's price, else its flat (or base) price."""
    tiers = getattr(value, "tiers", None)
    return tiers[0].price if tiers else getattr(value, "base", value)  # type: ignore[no-any-return]


def _rates(per_million: dict[str, Decimal | None]) -> Rates:
    """Pico-dollars per token, with the fallbacks of genai-prices' usage decomposition."""
    inp = _pico(per_million["input"])
    write = inp if per_million["cache_write"] is None else _pico(per_million["cache_write"])
    return Rates(
        input=inp,
        output=0 if per_million["output"] is None else _pico(per_million["output"]),
        cache_read=inp if per_million["cache_read"] is None else _pico(per_million["cache_read"]),
        cache_write=write,
        cache_write_1h=(write if per_million["cache_write_1h"] is None
                        else _pico(per_million["cache_write_1h"])),
    )


def _pico(per_million: Decimal | None) -> int:
    assert per_million is not None
    return int((Decimal(per_million) * 10**6).to_integral_value(ROUND_HALF_EVEN))
