"""``kaizen-perf pricing show MODEL``: what kaizen-perf would charge for a model."""

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
                           "pattern": _matched_by(price, model), "as_of": table.as_of,
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
               f"provider  {doc['provider']}\ntable as of {doc['as_of']}")
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


@pricing_group.command("show")
@click.argument("model")
@click.option("--pricing-file", type=click.Path(dir_okay=False), envvar=ENV_PRICING_FILE,
              show_envvar=True, help="Extra TOML price file (extends/overrides the built-in).")
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
def show_cmd(model: str, pricing_file: str | None, input_: int, output: int, cache_read: int,
             cache_write: int, cache_write_1h: int, fmt: str) -> None:
    """Show the prices that apply to MODEL, and the cost of an example request."""
    table = PriceTable.load(pricing_file or None)
    price = table.lookup(model)
    if price is None:
        source = f"built-in table + {pricing_file}" if pricing_file else "built-in table"
        click.echo(f"Error: no price for model {model!r} in the {source} (as of "
                   f"{table.as_of}). Its calls are counted in "
                   "kaizen_api_unpriced_requests_total, never charged $0. Add it to a pricing "
                   f"file and set {ENV_PRICING_FILE} (see docs/cost.md).", err=True)
        raise click.exceptions.Exit(exitcodes.CHECK_FAILED)
    tokens = {"input": input_, "output": output, "cache_read": cache_read,
              "cache_write": cache_write, "cache_write_1h": cache_write_1h}
    doc = _describe(table, model, price, tokens)
    if fmt == "json":
        click.echo(json.dumps(doc, indent=2))
    else:
        _print_text(doc)


COMMANDS = [pricing_group]
