"""``kaizen-perf pricing show MODEL`` / ``pricing list``: what kaizen-perf would charge, and why.

Each price names its source (the user's pricing file, genai-prices, or the bundled
table) and the date or data version it is as of.
"""

from __future__ import annotations

import fnmatch
import json
from decimal import Decimal
from typing import Any

import click

from kaizen_perf.cli import exitcodes
from kaizen_perf.config import ENV_PRICING_FILE
from kaizen_perf.cost import PICO, ModelPrice, PriceTable, Rates

_ROWS = (("input", "input"), ("output", "output"), ("cache_read", "cache read"),
         ("cache_write", "cache write (5 min)"), ("cache_write_1h", "cache write (1 h)"))


@click.group("pricing")
def pricing_group() -> None:
    """The pricing table used to compute LLM cost."""


def _per_million(rates: Rates, kind: str) -> Decimal:
    return Decimal(getattr(rates, kind)) / Decimal(10**6)


def _matched_by(price: ModelPrice, model: str) -> str | None:
    if model == price.model:
        return None
    return next((p for p in price.patterns if fnmatch.fnmatchcase(model, p)), None)


def _describe(table: PriceTable, model: str, price: ModelPrice,
              tokens: dict[str, int]) -> dict[str, Any]:
    doc: dict[str, Any] = {"model": model, "entry": price.model, "provider": price.provider,
                           "pattern": _matched_by(price, model), "source": price.source,
                           "as_of": price.as_of or "unknown",
                           "usd_per_million_tokens": {k: str(_per_million(price.rates, k))
                                                      for k, _ in _ROWS}}
    if price.long_context is not None:
        doc["long_context"] = {"threshold": price.long_context_threshold,
                               "usd_per_million_tokens": {
                                   k: str(_per_million(price.long_context, k)) for k, _ in _ROWS}}
    if any(tokens.values()):
        pico = price.cost_pico(tokens["input"], tokens["output"], tokens["cache_read"],
                               tokens["cache_write"], tokens["cache_write_1h"])
        total_in = sum(v for k, v in tokens.items() if k != "output")
        long = price.long_context_threshold is not None and price.long_context is not None \
            and total_in > price.long_context_threshold
        doc["request"] = {"tokens": tokens, "tier": "long_context" if long else "standard",
                          "cost_usd": str(Decimal(pico) / Decimal(PICO)), "cost_pico": pico}
    return doc


def _print_text(doc: dict[str, Any]) -> None:
    via = f" (pattern {doc['pattern']!r})" if doc["pattern"] else ""
    click.echo(f"model     {doc['model']}\nentry     {doc['entry']}{via}\n"
               f"provider  {doc['provider']}\nsource    {doc['source']}, as of {doc['as_of']}")
    lc = doc.get("long_context")
    head = f"{'USD per million tokens':24}{'standard':>12}"
    click.echo(head + (f"{'> ' + str(lc['threshold']) + ' input':>18}" if lc else ""))
    for kind, label in _ROWS:
        line = f"{label:24}{doc['usd_per_million_tokens'][kind]:>12}"
        if lc:
            line += f"{lc['usd_per_million_tokens'][kind]:>18}"
        click.echo(line)
    req = doc.get("request")
    if req:
        counts = ", ".join(f"{k}={v}" for k, v in req["tokens"].items() if v)
        click.echo(f"request ({counts}): ${req['cost_usd']} at the {req['tier']} rates")


_PRICING_FILE = click.option(
    "--pricing-file", type=click.Path(dir_okay=False), envvar=ENV_PRICING_FILE,
    show_envvar=True, help="Your TOML price file (its prices come first).")


@pricing_group.command("show")
@click.argument("model")
@_PRICING_FILE
@click.option("--provider", default=None, help="Provider name, as the integration records it "
              "(helps genai-prices tell apart a model sold by several providers).")
@click.option("--input", "input_", type=click.IntRange(min=0), default=0,
              help="Uncached input tokens of an example request.")
@click.option("--output", type=click.IntRange(min=0), default=0, help="Output tokens.")
@click.option("--cache-read", type=click.IntRange(min=0), default=0, help="Cache-read tokens.")
@click.option("--cache-write", type=click.IntRange(min=0), default=0,
              help="5-minute cache-write tokens.")
@click.option("--cache-write-1h", type=click.IntRange(min=0), default=0,
              help="1-hour cache-write tokens.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def show_cmd(model: str, pricing_file: str | None, provider: str | None, input_: int,
             output: int, cache_read: int, cache_write: int, cache_write_1h: int,
             fmt: str) -> None:
    """Show the prices that apply to MODEL, where they come from, and an example's cost."""
    table = PriceTable.load(pricing_file or None)
    price = table.lookup(model, provider)
    if price is None:
        click.echo(f"Error: no price for model {model!r} in {_sources(table, pricing_file)}. "
                   "Its calls show as unknown cost (counted in "
                   "kaizen_api_unpriced_requests_total), never $0, unless the provider reports "
                   "a cost. Add it to a pricing file and set "
                   f"{ENV_PRICING_FILE} (see docs/cost.md).", err=True)
        raise click.exceptions.Exit(exitcodes.CHECK_FAILED)
    tokens = {"input": input_, "output": output, "cache_read": cache_read,
              "cache_write": cache_write, "cache_write_1h": cache_write_1h}
    doc = _describe(table, model, price, tokens)
    if fmt == "json":
        click.echo(json.dumps(doc, indent=2))
    else:
        _print_text(doc)


def _sources(table: PriceTable, pricing_file: str | None) -> str:
    names = [f"the pricing file {pricing_file}"] if pricing_file else []
    if table.maintained is not None:
        names.append("genai-prices")
    names.append(f"the bundled table (as of {_bundled_as_of(table)})")
    return ", ".join(names)


def _bundled_as_of(table: PriceTable) -> str:
    return next((m.as_of for m in table.fallback.values()), "unknown")


@pricing_group.command("list")
@_PRICING_FILE
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def list_cmd(pricing_file: str | None, fmt: str) -> None:
    """List the models of your pricing file and the bundled table, with the price that
    applies to each, its source and as-of date (genai-prices first, where it knows them)."""
    table = PriceTable.load(pricing_file or None)
    rows = []
    for name in sorted({*table.models, *table.fallback}):
        price = table.lookup(name)
        assert price is not None  # every listed name is in a table
        rows.append({"model": name, "source": price.source, "as_of": price.as_of or "unknown",
                     "entry": price.model, **{k: str(_per_million(price.rates, k))
                                              for k, _ in _ROWS}})
    if fmt == "json":
        click.echo(json.dumps({"sources": _sources(table, pricing_file), "models": rows},
                              indent=2))
        return
    click.echo(f"sources, first wins: {_sources(table, pricing_file)}")
    click.echo(f"{'model':32}{'input':>9}{'output':>9}{'c.read':>9}{'c.write':>9}  source, as of")
    for r in rows:
        click.echo(f"{r['model']:32}{r['input']:>9}{r['output']:>9}{r['cache_read']:>9}"
                   f"{r['cache_write']:>9}  {r['source']}, {r['as_of']}")


COMMANDS = [pricing_group]
