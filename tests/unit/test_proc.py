"""Finding helper binaries: on PATH, else beside the interpreter of a venv that is not activated."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kaizen_perf._proc import find_tool, run_command


def test_a_tool_beside_python_is_found_only_when_executable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A venv's console script is found without PATH; a plain file of that name is not."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    tool = tmp_path / "kaizen-test-tool"
    tool.write_text("#!/bin/sh\n")
    assert find_tool(tool.name) is None
    tool.chmod(0o755)
    assert find_tool(tool.name) == str(tool)


def test_run_command_captures_output_and_status() -> None:
    """The default runner returns the exit status and text output instead of raising."""
    done = run_command([sys.executable, "-c", "import sys; print('out'); sys.exit(3)"], 30)
    assert (done.returncode, done.stdout) == (3, "out\n")
