"""``kaizen-perf rules export``: the Prometheus alert rule file."""

from __future__ import annotations

from pathlib import Path

import click

from kaizen_perf.alerts.config import load_rules
from kaizen_perf.alerts.specs import default_rules
from kaizen_perf.errors import ConfigError
from kaizen_perf.rules import prometheus_rules, render


@click.group("rules")
def rules_group() -> None:
    """Prometheus alert rules matching the in-process alerts."""


@rules_group.command("export")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the rule file here, like FILE (default: standard output).")
@click.option("--rules", "rules_file", type=click.Path(dir_okay=False, path_type=Path),
              envvar="KAIZEN_PERF_ALERT_RULES", show_envvar=True,
              help="TOML rule file to translate (default: the built-in rules).")
@click.option("--stuck-after", type=click.FloatRange(min=0, min_open=True), default=600.0,
              show_default=True, help="Seconds without loop progress before an agent is stuck.")
def export_cmd(file: Path | None, output: Path | None, rules_file: Path | None,
               stuck_after: float) -> None:
    """Write the Prometheus rule file to FILE, or to standard output without one (check it
    with `promtool check rules FILE`).

    \b
    kaizen-perf rules export kaizen-alerts.rules.yml
    kaizen-perf rules export -o kaizen-alerts.rules.yml
    """
    output = single_output(file, output, "FILE")
    specs = (load_rules(rules_file, stuck_after_s=stuck_after).rules if rules_file
             else default_rules(stuck_after_s=stuck_after))
    text = render(prometheus_rules(specs))
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, "utf-8")
    except OSError as exc:
        msg = f"Cannot write the rule file {str(output)!r}: {exc.strerror}. Choose another FILE."
        raise ConfigError(msg) from None
    click.echo(f"wrote {len(text.splitlines())} lines to {output}", err=True)


def single_output(positional: Path | None, option: Path | None, name: str) -> Path | None:
    """``export PATH`` and ``export -o PATH`` mean the same; both at once is ambiguous."""
    if positional is not None and option is not None and positional != option:
        raise click.UsageError(f"Give the output once: {name} or -o, not both.")
    return positional if positional is not None else option


COMMANDS = [rules_group]
