"""``kaizen-perf dashboards export DIR``: the Grafana dashboards as JSON files."""

from __future__ import annotations

from pathlib import Path

import click

from kaizen_perf.errors import ConfigError


@click.group("dashboards")
def dashboards_group() -> None:
    """Grafana dashboards (overview, tools and LLM APIs, resources and autonomy)."""


@dashboards_group.command("export")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              help="Write the dashboards into this directory, like DIRECTORY.")
def export_cmd(directory: Path | None, output: Path | None) -> None:
    """Write the dashboards as Grafana JSON into DIRECTORY (created if needed).

    \b
    kaizen-perf dashboards export /var/lib/grafana/dashboards/kaizen-perf
    kaizen-perf dashboards export -o /var/lib/grafana/dashboards/kaizen-perf

    Point a Grafana dashboard provider at DIRECTORY (see docs/dashboards.md),
    or import each file with Dashboards > New > Import.
    """
    from kaizen_perf.cli.rules import single_output
    from kaizen_perf.dashboards import export

    directory = single_output(directory, output, "DIRECTORY")
    if directory is None:
        raise click.UsageError("Give the directory to write: DIRECTORY or -o DIRECTORY.")
    try:
        paths = export(directory)
    except ImportError as exc:
        msg = (f"The dashboards need grafana-foundation-sdk ({exc}). "
               "Install it with: pip install 'kaizen-perf[dashboards]'.")
        raise ConfigError(msg) from None
    for path in paths:
        click.echo(f"wrote {path}")


COMMANDS = [dashboards_group]
