"""`kaizen-perf pricing show MODEL` / `pricing list`: the rates that apply, their source and
as-of date, and the cost of a request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kaizen_perf.cli.main import main


def test_show_prints_rates_and_the_long_context_cost(capsys: pytest.CaptureFixture[str]) -> None:
    """A dated id resolves to its family in genai-prices, named as the source with its data
    version; 250k input tokens are charged at the long rate."""
    assert main(["pricing", "show", "claude-sonnet-4-5-20250929", "--input", "250000",
                 "--output", "1000", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["entry"] == "claude-sonnet-4-5" and doc["source"] == "genai-prices"
    assert doc["as_of"].startswith("genai-prices 0.")
    assert doc["usd_per_million_tokens"]["cache_write_1h"] == "6"
    # 250000 × 6 + 1000 × 22.5 micro-dollars
    assert doc["request"]["cost_usd"] == "1.5225" and doc["request"]["tier"] == "long_context"


def test_show_uses_the_user_pricing_file(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """--pricing-file adds models; the text output lists each token type."""
    prices = tmp_path / "prices.toml"
    prices.write_text('as_of = "2026-12-01"\n[models."local-llm"]\nprovider = "local"\n'
                      'input = 0.5\noutput = 1\ncache_read = 0\ncache_write = 0.5\n'
                      'patterns = ["local-llm-*"]\n')
    assert main(["pricing", "show", "local-llm-7b", "--pricing-file", str(prices),
                 "--input", "2000000"]) == 0
    out = capsys.readouterr().out
    assert "cache write (1 h)" in out and "$1 at the standard rates" in out
    assert "(pattern 'local-llm-*')" in out
    assert "source    pricing file, as of 2026-12-01" in out


def test_list_names_each_prices_source_and_as_of(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """`pricing list` shows the sources in order and, per model, the source that applies:
    the user's file over genai-prices, genai-prices over the bundled table."""
    prices = tmp_path / "prices.toml"
    prices.write_text('as_of = "2026-12-01"\n[models."claude-haiku-4-5"]\ninput = 2\n'
                      'output = 2\ncache_read = 0\ncache_write = 2\n')
    assert main(["pricing", "list", "--pricing-file", str(prices), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["sources"].startswith(f"the pricing file {prices}, genai-prices, the bundled "
                                     "table (as of 20")
    by_model = {r["model"]: r for r in doc["models"]}
    assert (by_model["claude-haiku-4-5"]["source"], by_model["claude-haiku-4-5"]["as_of"],
            by_model["claude-haiku-4-5"]["input"]) == ("pricing file", "2026-12-01", "2")
    assert by_model["claude-sonnet-4-5"]["source"] == "genai-prices"
    assert main(["pricing", "list"]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].startswith("sources, first wins: genai-prices, the bundled")
    assert "claude-sonnet-4-5" in text and "genai-prices 0." in text


def test_unknown_model_exits_1_and_says_how_to_add_it(capsys: pytest.CaptureFixture[str]) -> None:
    """An unpriced model is a failed check with the fix, never a $0 price."""
    assert main(["pricing", "show", "brand-new-model"]) == 1
    err = capsys.readouterr().err
    assert "no price for model 'brand-new-model'" in err and "KAIZEN_PERF_PRICING_FILE" in err


def test_bad_pricing_file_is_a_usage_error(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """A negative price exits 2 with the model and field named."""
    prices = tmp_path / "prices.toml"
    prices.write_text('[models."x"]\ninput = -1\noutput = 1\ncache_read = 0\ncache_write = 0\n')
    assert main(["pricing", "show", "x", "--pricing-file", str(prices)]) == 2
    assert "model 'x' field 'input'" in capsys.readouterr().err
