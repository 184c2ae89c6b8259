"""Where a price comes from (pricing file, genai-prices, bundled table) and the table's edges."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from kaizen_perf import ConfigError
from kaizen_perf.cost import (
    PICO,
    SOURCE_BUNDLED,
    SOURCE_FILE,
    SOURCE_GENAI,
    ModelPrice,
    PriceTable,
)

#: the claude CLI's own rates for its default model, measured against it: $ per million tokens
OPUS_5_5 = {"input": 4, "output": 20, "cache_read": 0.2, "cache_write": 5}
_FIELDS = "input = 1\noutput = 2\ncache_read = 0.1\ncache_write = 1.25\n"


def _file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "prices.toml"
    path.write_text(body)
    return path


def test_genai_prices_knows_the_cli_default_model_at_its_measured_rates() -> None:
    """claude-opus-5-5, missing from the bundled table, is priced from genai-prices."""
    price = PriceTable.load().lookup("claude-opus-5-5", "anthropic")
    assert price is not None and price.source == SOURCE_GENAI
    assert price.as_of.startswith("genai-prices ")
    per_million = {k: getattr(price.rates, k) / 10**6 for k in OPUS_5_5}
    assert per_million == OPUS_5_5


def test_without_a_maintained_source_the_bundled_table_is_the_fallback() -> None:
    """With genai-prices off, known models come from the bundled table, others have no price."""
    table = PriceTable.load(maintained=False)
    sonnet = table.lookup("claude-sonnet-4-5-20250929")
    assert sonnet is not None and sonnet.source == SOURCE_BUNDLED
    assert sonnet.as_of == table.as_of != ""
    assert table.lookup("claude-opus-5-5-20261201") is not None  # bundled as a fallback too
    assert table.lookup("brand-new-model") is None


def test_the_pricing_file_comes_before_genai_prices(tmp_path: Path) -> None:
    """A model in the user's file is charged at the file's price even though genai-prices
    knows it; other models still come from genai-prices."""
    table = PriceTable.load(_file(tmp_path, f'[models."claude-opus-5-5"]\n{_FIELDS}'))
    mine, other = table.lookup("claude-opus-5-5", "anthropic"), table.lookup("gpt-5", "openai")
    assert mine is not None and mine.source == SOURCE_FILE and mine.rates.input == 1_000_000
    assert other is not None and other.source == SOURCE_GENAI


def test_genai_prices_come_before_the_bundled_table() -> None:
    """Only a model the maintained source does not know falls back to the bundled table."""
    asked: list[tuple[str, str | None]] = []
    known = ModelPrice("claude-sonnet-4-5", "anthropic", PriceTable.load(
        maintained=False).fallback["claude-sonnet-4-5"].rates, source="maintained")

    def maintained(model: str, provider: str | None) -> ModelPrice | None:
        asked.append((model, provider))
        return known if model == "claude-sonnet-4-5" else None

    table = PriceTable.load(maintained=maintained)
    first = table.lookup("claude-sonnet-4-5", "anthropic")
    fallback = table.lookup("claude-haiku-4-5", "anthropic")
    assert asked == [("claude-sonnet-4-5", "anthropic"), ("claude-haiku-4-5", "anthropic")]
    assert first is not None and first.source == "maintained"
    assert fallback is not None and fallback.source == SOURCE_BUNDLED


def test_each_model_is_looked_up_once_then_cached() -> None:
    """The maintained source is asked once per (model, provider), however many calls follow."""
    asked: list[str] = []

    def maintained(model: str, provider: str | None) -> ModelPrice | None:
        asked.append(model)
        return None

    table = PriceTable.load(maintained=maintained)
    for _ in range(5):
        table.lookup("unknown-a", "x")
        table.lookup("claude-haiku-4-5", "anthropic")
    assert asked == ["unknown-a", "claude-haiku-4-5"]


def test_the_longest_matching_glob_wins_whatever_the_file_order(tmp_path: Path) -> None:
    """Two families both match a dated id: the more specific (longer) pattern decides."""
    for first, second in (("short", "long"), ("long", "short")):
        pats = {"short": '"acme-*"', "long": '"acme-pro-*"'}
        body = "".join(f'[models."{n}"]\n{_FIELDS.replace("input = 1", f"input = {i}")}'
                       f"patterns = [{pats[n]}]\n\n"
                       for n, i in ((first, 1 if first == "short" else 2),
                                    (second, 1 if second == "short" else 2)))
        table = PriceTable.load(_file(tmp_path, body), maintained=False)
        pro, plain = table.lookup("acme-pro-2026"), table.lookup("acme-lite-2026")
        assert pro is not None and pro.model == "long" and pro.rates.input == 2_000_000
        assert plain is not None and plain.model == "short"


def test_an_exact_name_beats_any_pattern(tmp_path: Path) -> None:
    """A model listed under its own name is not shadowed by another model's glob."""
    body = (f'[models."acme-pro-1"]\n{_FIELDS}\n'
            f'[models."acme"]\n{_FIELDS.replace("input = 1", "input = 9")}'
            'patterns = ["acme-pro-*"]\n')
    price = PriceTable.load(_file(tmp_path, body), maintained=False).lookup("acme-pro-1")
    assert price is not None and price.model == "acme-pro-1"


def _tiered(tmp_path: Path) -> ModelPrice:
    body = (f'[models."tiered"]\n{_FIELDS}'
            "long_context = { threshold = 1000, input = 10, output = 20, cache_read = 1, "
            "cache_write = 12.5 }\n")
    price = PriceTable.load(_file(tmp_path, body), maintained=False).lookup("tiered")
    assert price is not None
    return price


def test_long_context_threshold_counts_every_input_kind_and_is_exclusive(
        tmp_path: Path) -> None:
    """Exactly the threshold stays standard; one more token of any input kind, a one-hour cache
    write included, moves every token to the long-context rates."""
    price = _tiered(tmp_path)
    standard = price.cost_pico(400, 10, 200, 200, 200)  # 1000 input tokens in all
    assert standard == 400 * 1_000_000 + 10 * 2_000_000 + 200 * 100_000 + 400 * 1_250_000
    for extra in ({"input_tokens": 401}, {"cache_read_tokens": 201},
                  {"cache_write_tokens": 201}, {"cache_write_1h_tokens": 201}):
        counts = {"input_tokens": 400, "output_tokens": 10, "cache_read_tokens": 200,
                  "cache_write_tokens": 200, "cache_write_1h_tokens": 200, **extra}
        long = price.cost_pico(**counts)
        assert long == (counts["input_tokens"] * 10_000_000 + 10 * 20_000_000
                        + counts["cache_read_tokens"] * 1_000_000
                        + (counts["cache_write_tokens"] + counts["cache_write_1h_tokens"])
                        * 12_500_000), extra


def test_a_one_hour_write_price_defaults_to_the_five_minute_price(tmp_path: Path) -> None:
    """Without cache_write_1h, one-hour writes cost the cache_write price (standard and long)."""
    price = _tiered(tmp_path)
    assert price.rates.cache_write_1h == price.rates.cache_write == 1_250_000
    assert price.long_context is not None
    assert price.long_context.cache_write_1h == price.long_context.cache_write == 12_500_000
    assert price.cost_pico(0, 0, cache_write_1h_tokens=8) == 8 * 1_250_000


@pytest.mark.parametrize("body", [
    "[models.m]\ninput = true\noutput = 1\ncache_read = 1\ncache_write = 1\n",
    "[models.m]\ninput = 1\noutput = 1\ncache_read = 1\ncache_write = 1\ncache_write_1h = false\n",
    "[models.m]\ninput = 1\noutput = 1\ncache_read = 1\ncache_write = 1\n"
    "long_context = { threshold = true, input = 1, output = 1, cache_read = 1, "
    "cache_write = 1 }\n",
])
def test_a_boolean_is_not_a_price_or_a_threshold(tmp_path: Path, body: str) -> None:
    """TOML true/false (a Python int subclass) is refused, naming the model."""
    with pytest.raises(ConfigError, match="model 'm' field"):
        PriceTable.load(_file(tmp_path, body), maintained=False)


def test_the_pricing_files_as_of_is_its_prices_as_of(tmp_path: Path) -> None:
    """Prices from a user's file carry that file's as_of; a file without one says nothing."""
    dated = PriceTable.load(_file(tmp_path, f'as_of = "2026-12-01"\n[models.m]\n{_FIELDS}'),
                            maintained=False)
    price = dated.lookup("m")
    assert price is not None and price.as_of == "2026-12-01" and dated.as_of == "2026-12-01"
    undated = PriceTable.load(_file(tmp_path, f"[models.m]\n{_FIELDS}"), maintained=False)
    price = undated.lookup("m")
    bundled = undated.lookup("claude-haiku-4-5")
    assert price is not None and bundled is not None
    assert price.as_of == "" and bundled.as_of == undated.as_of != ""


def test_prices_finer_than_a_pico_dollar_per_token_round_half_even(tmp_path: Path) -> None:
    """$0.0000005 per million tokens is half a pico-dollar a token: it rounds to even (0),
    $0.0000015 to 2; a price with a representable pico amount stays exact."""
    body = ("[models.m]\ninput = 0.0000005\noutput = 0.0000015\ncache_read = 0.000001\n"
            "cache_write = 3.000001\n")
    price = PriceTable.load(_file(tmp_path, body), maintained=False).lookup("m")
    assert price is not None
    assert (price.rates.input, price.rates.output, price.rates.cache_read,
            price.rates.cache_write) == (0, 2, 1, 3_000_001)
    assert price.cost_pico(10**6, 0) == 0 and PICO == 10**12


def test_source_names_are_the_documented_ones() -> None:
    """`kaizen-perf pricing` and docs/cost.md show these words: a rename is a visible change."""
    assert (SOURCE_FILE, SOURCE_GENAI, SOURCE_BUNDLED) == (
        "pricing file", "genai-prices", "bundled table")
    price = PriceTable.load(maintained=False).lookup("claude-haiku-4-5")
    assert price is not None and price.source == "bundled table"


@pytest.mark.parametrize("missing", ["input", "output", "cache_read", "cache_write"])
def test_every_required_price_must_be_given(tmp_path: Path, missing: str) -> None:
    """Each of input, output, cache_read and cache_write is required (cache_write_1h is not)."""
    fields = {"input": 1, "output": 2, "cache_read": 0.1, "cache_write": 1.25}
    body = "[models.m]\n" + "".join(f"{k} = {v}\n" for k, v in fields.items() if k != missing)
    with pytest.raises(ConfigError, match=f"missing field '{missing}'"):
        PriceTable.load(_file(tmp_path, body), maintained=False)


def test_prices_are_frozen_values() -> None:
    """A price cannot be changed in place once looked up (it is shared by every call)."""
    import dataclasses

    price = PriceTable.load(maintained=False).lookup("claude-haiku-4-5")
    assert price is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        price.rates.input = 0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        price.source = "x"  # type: ignore[misc]


_OK = "input = 1\noutput = 1\ncache_read = 1\ncache_write = 1\n"


@pytest.mark.parametrize(("body", "tail"), [
    ('unit = "usd_per_token"\n',
     "unit 'usd_per_token' is not supported; expected 'usd_per_million_tokens'."),
    ("models = 3\n", "[models] must be a table of model names."),
    ("[models]\nm = 3\n", "model 'm' must be a table of prices."),
    (f'[models.m]\n{_OK}patterns = "acme-*"\n',
     "model 'm' field 'patterns' must be a list of glob strings."),
    (f"[models.m]\n{_OK}patterns = [1]\n",
     "model 'm' field 'patterns' must be a list of glob strings."),
    ("[models.m]\ninput = 1\noutput = 1\ncache_read = 1\n",
     "model 'm' is missing field 'cache_write' (USD per million tokens)."),
    (f"[models.m]\n{_OK}long_context = {{ threshold = 10, input = 1, output = 1, "
     "cache_read = 1 }\n",
     "model 'm' is missing field 'long_context.cache_write' (USD per million tokens)."),
    (f"[models.m]\n{_OK}long_context = {{ threshold = 0, {_OK.strip().replace(chr(10), ', ')} }}\n",
     "model 'm' field 'long_context.threshold' must be a positive number of input tokens, "
     "such as 200000."),
    ('[models.m]\ninput = "3.5"\noutput = 1\ncache_read = 1\ncache_write = 1\n',
     "model 'm' field 'input' = '3.5' is not valid: expected a price of 0 or more in USD per "
     "million tokens, such as 3.0."),
    ("[models.m]\ninput = nan\noutput = 1\ncache_read = 1\ncache_write = 1\n",
     "model 'm' field 'input' = nan is not valid: expected a price of 0 or more in USD per "
     "million tokens, such as 3.0."),
])
def test_pricing_file_errors_say_exactly_what_is_wrong(tmp_path: Path, body: str,
                                                       tail: str) -> None:
    """Each message is the file, the model and field, and what was expected: nothing else."""
    path = _file(tmp_path, body)
    with pytest.raises(ConfigError) as err:
        PriceTable.load(path, maintained=False)
    assert str(err.value) == f"{path}: {tail}"


def test_unreadable_pricing_files_name_the_variable(tmp_path: Path) -> None:
    """A missing file and a file that is not TOML each say so in one sentence."""
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as err:
        PriceTable.load(missing, maintained=False)
    assert str(err.value) == (f"Cannot read pricing file {str(missing)!r}: No such file or "
                              "directory. Check KAIZEN_PERF_PRICING_FILE.")
    broken = _file(tmp_path, "not toml [")
    with pytest.raises(ConfigError) as err:
        PriceTable.load(broken, maintained=False)
    assert str(err.value).startswith(f"Pricing file {str(broken)!r} is not valid TOML: ")
    assert str(err.value).endswith(").")


def test_a_threshold_of_one_token_is_allowed(tmp_path: Path) -> None:
    """Any positive threshold is valid, down to a single input token."""
    body = f"[models.m]\n{_OK}long_context = {{ threshold = 1, input = 2, output = 2, " \
           "cache_read = 2, cache_write = 2 }\n"
    price = PriceTable.load(_file(tmp_path, body), maintained=False).lookup("m")
    assert price is not None and price.long_context_threshold == 1
    assert price.cost_pico(1, 0) == 1_000_000 and price.cost_pico(2, 0) == 4_000_000


def test_the_files_provider_is_kept_and_defaults_to_unknown(tmp_path: Path) -> None:
    """`provider` is read from the entry; an entry without one says unknown."""
    body = f'[models.a]\nprovider = "local"\n{_OK}\n[models.b]\n{_OK}'
    table = PriceTable.load(_file(tmp_path, body), maintained=False)
    a, b = table.lookup("a"), table.lookup("b")
    assert a is not None and b is not None
    assert (a.provider, b.provider) == ("local", "unknown")


def test_the_lookup_cache_is_bounded_at_ten_thousand_models() -> None:
    """Past 10,000 distinct model names a new name is looked up each time, not remembered
    (a flood of generated names cannot grow memory without bound)."""
    asked: Counter[str] = Counter()

    def maintained(model: str, provider: str | None) -> ModelPrice | None:
        asked[model] += 1
        return None

    table = PriceTable({}, maintained=maintained)
    for i in range(10_001):
        table.lookup(f"m{i}")
    table.lookup("m0")
    table.lookup("m9999")
    table.lookup("m10000")
    assert (asked["m0"], asked["m9999"], asked["m10000"]) == (1, 1, 2)
