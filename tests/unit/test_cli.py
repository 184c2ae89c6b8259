"""The CLI skeleton: --version, --help, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kaizen_perf import __version__
from kaizen_perf.cli.main import main
from kaizen_perf.metrics import METRICS


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    """--version prints the package version and exits 0."""
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_help_lists_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    """--help explains the exit codes."""
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "Exit codes" in out and "inconclusive" in out


def test_unknown_command_exits_2_with_its_name(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown command is a usage error (exit 2) that names the command."""
    assert main(["frobnicate"]) == 2
    assert "frobnicate" in capsys.readouterr().err


def test_config_error_exits_2(monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    """A configuration error reaching the CLI is exit 2 with the message."""
    import click

    from kaizen_perf.cli.main import cli
    from kaizen_perf.config import Settings

    @cli.command("_boom", hidden=True)
    def _boom() -> None:
        Settings.load({"KAIZEN_PERF_SERIES_CAP": "x"})

    try:
        assert main(["_boom"]) == 2
        assert "KAIZEN_PERF_SERIES_CAP='x'" in capsys.readouterr().err
    finally:
        cli.commands.pop("_boom")
    assert isinstance(cli, click.Group)


def test_metrics_command_lists_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    """`kaizen-perf metrics --format json` lists every metric of the table."""
    assert main(["metrics", "--format", "json"]) == 0
    names = {m["name"] for m in json.loads(capsys.readouterr().out)}
    assert names == set(METRICS)


def test_console_script_exit_code() -> None:
    """The installed entry point exits with the CLI's code."""
    proc = subprocess.run([sys.executable, "-c", "from kaizen_perf.cli.main import entry; entry()",
                           "nope"], capture_output=True, text=True, check=False)
    assert proc.returncode == 2
