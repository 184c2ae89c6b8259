"""``kaizen-perf``: the root command group and the error → exit-code boundary.

Subcommands live in sibling modules, each exposing click commands that are
added below. Library code raises :class:`~kaizen_perf.errors.KaizenPerfError`
subclasses, each declaring its ``exit_code``; only :func:`main` exits with it.
"""

from __future__ import annotations

import sys

import click

from kaizen_perf._version import __version__
from kaizen_perf.cli import exitcodes
from kaizen_perf.errors import KaizenPerfError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", "-V", prog_name="kaizen-perf")
def cli() -> None:
    """Performance monitor for long-running autonomous Python agents.

    Exit codes: 0 ok, 1 check failed, 2 usage or configuration error,
    3 runtime error, 4 inconclusive (with --strict).
    """


def _register() -> None:
    # One line per command module; each module owns its commands.
    from kaizen_perf.cli import (
        audit,
        dashboards,
        info,
        pricing,
        regression,
        report,
        rules,
        run,
        top,
    )
    for module in (info, run, regression, report, top, pricing, rules, audit, dashboards):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns (and, as a script, exits with) the exit code."""
    try:
        code = cli.main(args=argv, prog_name="kaizen-perf", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return exitcodes.RUNTIME
    except click.ClickException as exc:
        exc.show()
        return exitcodes.USAGE
    except KaizenPerfError as exc:
        click.echo(f"Error: {exc}", err=True)
        return exc.exit_code
    return code if isinstance(code, int) else exitcodes.OK


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
