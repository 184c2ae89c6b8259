"""``kaizen-perf report``: the self-contained HTML report of a run, or of two runs compared."""

from __future__ import annotations

import click

from kaizen_perf.report.build import write_comparison, write_report


@click.command("report")
@click.argument("run_dir", required=False, type=click.Path(file_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="HTML file to write (default RUN_DIR/report.html; compare.html for --compare).")
@click.option("--compare", nargs=2, metavar="A B", type=click.Path(file_okay=False),
              help="Compare two run directories, with a differential flame graph.")
def report_cmd(run_dir: str | None, output: str | None, compare: tuple[str, str] | None) -> None:
    """Write a self-contained HTML report of RUN_DIR (opens offline, no CDN).

    \b
    kaizen-perf report .kaizen/runs/20261124-180512-ab12
    kaizen-perf report --compare RUN_A RUN_B -o compare.html
    """
    if compare:
        path = write_comparison(compare[0], compare[1], output or "compare.html")
    elif run_dir:
        path = write_report(run_dir, output)
    else:
        raise click.UsageError("Give a RUN_DIR, or --compare A B.")
    click.echo(f"report written to {path}")


COMMANDS = [report_cmd]
