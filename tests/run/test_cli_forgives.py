"""A CLI that forgives mistakes: mistyped options, export paths, attach's own help and status,
`top --once` against nothing, and the `top` command that `run` prints."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kaizen_perf.cli.main import main
from kaizen_perf.runner.session import top_command
from tests.helpers import free_port


def test_mistyped_run_option_is_an_unknown_option_with_a_suggestion(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`run --durtion 3 -- …` exits 2 naming the unknown option and the nearest real one,
    before a run directory is made or the command started."""
    marker, out = tmp_path / "ran", tmp_path / "run"
    code = main(["run", "--out", str(out), "--durtion", "3", "--", sys.executable, "-c",
                 f"open({str(marker)!r}, 'w').close()"])
    err = capsys.readouterr().err
    assert code == 2
    assert "unknown option '--durtion' (did you mean --duration?)" in err
    assert "not found on PATH" not in err
    assert not marker.exists() and not out.exists()


def test_mistyped_option_with_a_value_after_equals(capsys: pytest.CaptureFixture[str]) -> None:
    """`--metrics-adr=:0` is recognised as a mistyped --metrics-addr too."""
    assert main(["run", "--metrics-adr=:0", "--", "true"]) == 2
    assert "did you mean --metrics-addr?" in capsys.readouterr().err


def test_rules_export_takes_a_file_like_dashboards_take_a_directory(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Both export commands accept the path as an argument or as -o, with the same result."""
    assert main(["rules", "export", str(tmp_path / "a.yml")]) == 0
    assert main(["rules", "export", "-o", str(tmp_path / "b.yml")]) == 0
    assert (tmp_path / "a.yml").read_text() == (tmp_path / "b.yml").read_text()
    assert "groups:" in (tmp_path / "a.yml").read_text()
    assert main(["dashboards", "export", str(tmp_path / "d1")]) == 0
    assert main(["dashboards", "export", "-o", str(tmp_path / "d2")]) == 0
    names = sorted(p.name for p in (tmp_path / "d1").iterdir())
    assert names and names == sorted(p.name for p in (tmp_path / "d2").iterdir())
    assert main(["rules", "export", str(tmp_path / "a.yml"), "-o", str(tmp_path / "c.yml")]) == 2
    assert "not both" in capsys.readouterr().err


def test_attach_help_lists_only_what_attach_can_do(capsys: pytest.CaptureFixture[str]) -> None:
    """attach --help does not offer --pyroscope; run --help offers it without a 'run only'."""
    assert main(["attach", "--help"]) == 0
    attach_help = capsys.readouterr().out
    assert "--pyroscope" not in attach_help and "run only" not in attach_help
    assert main(["run", "--help"]) == 0
    run_help = capsys.readouterr().out
    assert "--pyroscope" in run_help and "run only" not in run_help


def test_attach_records_no_exit_status_it_cannot_know(tmp_path: Path) -> None:
    """attach to a live process records exit_status null and says 'attach summary', not
    'exit status 0'."""
    target = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    out = tmp_path / "r"
    try:
        proc = subprocess.run([sys.executable, "-m", "kaizen_perf", "attach", "--no-profile",
                               "--metrics-addr", ":0", "--duration", "0.5", "--interval", "0.1",
                               "--out", str(out), str(target.pid)],
                              capture_output=True, text=True, timeout=60, check=False)
    finally:
        target.kill()
        target.wait()
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((out / "run.json").read_text())
    assert doc["exit_status"] is None and doc["still_running"] is True
    said = proc.stdout + proc.stderr  # with --duration the summary shares stderr with the bar
    assert "attach summary" in said and "exit status" not in said


def test_top_once_fails_when_its_target_is_unreachable(
        capsys: pytest.CaptureFixture[str]) -> None:
    """`top --once` against an address nobody listens on exits 3 and says why."""
    port = free_port()
    assert main(["top", "--once", "--interval", "0.2", f"127.0.0.1:{port}"]) == 3
    assert "cannot scrape" in capsys.readouterr().out


def test_top_command_printed_by_run_works_without_an_activated_venv(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch
                                                                    ) -> None:
    """With kaizen-perf off PATH, the hint names a command that starts `kaizen-perf top`."""
    monkeypatch.setenv("PATH", str(tmp_path))
    argv = top_command(cwd=tmp_path).split()
    proc = subprocess.run([*argv, "--help"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 0 and "Live view of monitored agents" in proc.stdout
