"""Small informational commands: ``metrics`` (the table of metric names) and ``config``."""

from __future__ import annotations

import json

import click

from kaizen_perf.config import env_vars
from kaizen_perf.metrics import METRICS


@click.command("metrics")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format.")
def metrics_cmd(fmt: str) -> None:
    """List every metric kaizen-perf emits, with its type and labels."""
    if fmt == "json":
        click.echo(json.dumps([{"name": s.name, "type": s.kind, "labels": list(s.labels),
                                "help": s.help} for s in METRICS.values()], indent=2))
        return
    for spec in METRICS.values():
        click.echo(f"{spec.name:48} {spec.kind:9} {','.join(spec.labels)}")


@click.command("config")
def config_cmd() -> None:
    """List every KAIZEN_PERF_* environment variable and what it does."""
    for name, doc in env_vars().items():
        click.echo(f"{name:32} {doc}")


COMMANDS = [metrics_cmd, config_cmd]
