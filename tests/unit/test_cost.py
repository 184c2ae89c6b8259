"""Pricing table: exact costs for every token type and tier, user files, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaizen_perf import ConfigError
from kaizen_perf.cost import PICO, PriceTable


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return PriceTable.load()


def test_anthropic_token_types_use_their_multipliers(table: PriceTable) -> None:
    """Cache reads cost 0.1x input, 5-minute writes 1.25x, 1-hour writes 2x (Sonnet 4.5)."""
    price = table.lookup("claude-sonnet-4-5")
    assert price is not None
    n = 100_000  # below the 200k long-context threshold: one tenth of the per-million price
    assert price.cost_pico(n, 0) == 3 * PICO // 10
    assert price.cost_pico(0, n) == 15 * PICO // 10
    assert price.cost_pico(0, 0, cache_read_tokens=n) == PICO * 3 // 100
    assert price.cost_pico(0, 0, cache_write_tokens=n) == PICO * 375 // 1000
    assert price.cost_pico(0, 0, cache_write_1h_tokens=n) == 6 * PICO // 10


def test_long_context_tier_applies_above_the_threshold(table: PriceTable) -> None:
    """Above 200k input tokens (cache included) every token is billed at the long-context rate."""
    price = table.lookup("claude-sonnet-4-5-20250929")
    assert price is not None
    assert price.cost_pico(200_000, 1000) == 200_000 * 3_000_000 + 1000 * 15_000_000
    assert price.cost_pico(150_000, 1000, cache_read_tokens=60_000) == (
        150_000 * 6_000_000 + 1000 * 22_500_000 + 60_000 * 600_000)


def test_openai_and_google_models_are_priced(table: PriceTable) -> None:
    """Current OpenAI and Google models have prices, including cached input."""
    for model in ("gpt-5", "gpt-4o-mini-2024-07-18", "o4-mini", "gemini-2.5-pro",
                  "gemini-2.5-flash"):
        assert table.lookup(model) is not None, model
    gpt = table.lookup("gpt-4.1")
    assert gpt is not None and gpt.cost_pico(0, 0, cache_read_tokens=4) == 4 * 500_000


def test_unknown_model_has_no_price(table: PriceTable) -> None:
    """A model that is not in the table is None, never a zero price."""
    assert table.lookup("totally-new-model") is None


def test_user_file_extends_and_overrides(tmp_path: Path) -> None:
    """A pricing file adds new models and replaces built-in prices."""
    path = tmp_path / "prices.toml"
    path.write_text('[models."my-model"]\nprovider = "local"\ninput = 1\noutput = 2\n'
                    'cache_read = 0\ncache_write = 1\n\n[models."gpt-5"]\nprovider = "openai"\n'
                    'input = 9\noutput = 9\ncache_read = 9\ncache_write = 9\n')
    table = PriceTable.load(path)
    mine, gpt = table.lookup("my-model"), table.lookup("gpt-5")
    assert mine is not None and mine.cost_pico(1, 1) == 3_000_000
    assert gpt is not None and gpt.rates.input == 9_000_000


@pytest.mark.parametrize(("body", "message"), [
    ('[models.m]\ninput = 1\noutput = 1\ncache_read = 1\n', "missing field 'cache_write'"),
    ('[models.m]\ninput = -1\noutput = 1\ncache_read = 1\ncache_write = 1\n',
     "field 'input' = -1 is not valid"),
    ('unit = "usd_per_token"\n', "unit 'usd_per_token' is not supported"),
    ('[models.m]\ninput = 1\noutput = 1\ncache_read = 1\ncache_write = 1\n'
     'long_context = { threshold = 0, input = 1 }\n', "long_context.threshold"),
    ('[models.m]\ninput = 1\noutput = "cheap"\ncache_read = 1\ncache_write = 1\n',
     "field 'output' = 'cheap'"),
    ("not toml [", "not valid TOML"),
])
def test_bad_pricing_files_name_model_and_field(tmp_path: Path, body: str, message: str) -> None:
    """Each kind of mistake in a pricing file is a ConfigError naming the model and field."""
    path = tmp_path / "bad.toml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        PriceTable.load(path)


def test_missing_pricing_file_is_a_config_error(tmp_path: Path) -> None:
    """A pricing file that does not exist names the variable to check."""
    with pytest.raises(ConfigError, match="KAIZEN_PERF_PRICING_FILE"):
        PriceTable.load(tmp_path / "nope.toml")
