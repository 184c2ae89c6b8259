"""Our exact per-token form of genai-prices equals genai_prices.calc_price, model by model."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from genai_prices import Usage, data_snapshot
from hypothesis import given, settings
from hypothesis import strategies as st

from kaizen_perf.cost import PICO, ModelPrice
from kaizen_perf.cost.genai_prices import convert

NOW = datetime.now(UTC)
_KEYS = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok",
         "cache_write_1h_mtok")


def _models() -> list[tuple[Any, Any, ModelPrice, bool]]:
    """(provider, model info, our price, every price a whole pico-dollar per token)."""
    out = []
    for provider in data_snapshot.get_snapshot().providers:
        for info in provider.models:
            prices = info.get_prices(NOW)
            ours = convert(info.id, provider.id, prices, as_of="test")
            if ours is not None:
                out.append((provider, info, ours, _whole(prices)))
    return out


def _whole(prices: Any) -> bool:
    values = []
    for key in _KEYS:
        v = getattr(prices, key, None)
        if v is not None:
            values += [v.base, *(t.price for t in v.tiers)] if hasattr(v, "tiers") else [v]
    return all((Decimal(v) * 10**6) % 1 == 0 for v in values)


MODELS = _models()


def test_nearly_every_token_priced_model_converts() -> None:
    """Most of the package's models are taken (only the exceptions the module names are not)."""
    total = sum(len(p.models) for p in data_snapshot.get_snapshot().providers)
    assert len(MODELS) > 0.8 * total, (len(MODELS), total)


tokens = st.integers(min_value=0, max_value=2_000_000)


@settings(max_examples=400)
@given(st.integers(min_value=0, max_value=len(MODELS) - 1), tokens, tokens, tokens, tokens,
       tokens)
def test_our_cost_equals_calc_price(index: int, inp: int, out: int, read: int, write: int,
                                    write_1h: int) -> None:
    """For any usage, our integer pico-dollars equal genai-prices' Decimal total exactly (to
    half a pico-dollar per token where the package's data has float artefacts); its
    input_tokens include the cache, ours do not."""
    provider, info, ours, whole = MODELS[index]
    usage = Usage(input_tokens=inp + read + write + write_1h, output_tokens=out,
                  cache_read_tokens=read, cache_write_tokens=write + write_1h,
                  cache_write_1h_tokens=write_1h)
    theirs = info.calc_price(usage, provider, genai_request_timestamp=NOW).total_price * PICO
    got = ours.cost_pico(inp, out, read, write, write_1h)
    tolerance = 0 if whole else (inp + out + read + write + write_1h) / 2
    assert abs(got - theirs) <= tolerance, (provider.id, info.id, got, theirs)


def test_the_long_context_boundary_matches_calc_price() -> None:
    """At and one token past a tier's start, ours and calc_price agree (tiered Sonnet 4.5)."""
    [(provider, info, ours, _)] = [m for m in MODELS if m[0].id == "anthropic"
                                   and m[1].id == "claude-sonnet-4-5"]
    assert ours.long_context_threshold == 200_000
    for inp, write_1h in ((199_000, 1_000), (199_000, 1_001)):
        usage = Usage(input_tokens=inp + write_1h, output_tokens=10,
                      cache_write_tokens=write_1h, cache_write_1h_tokens=write_1h)
        theirs = info.calc_price(usage, provider, genai_request_timestamp=NOW).total_price
        assert ours.cost_pico(inp, 10, 0, 0, write_1h) == theirs * PICO
