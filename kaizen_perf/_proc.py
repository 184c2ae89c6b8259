"""Running helper binaries: the injected runner and finder that collectors and doctor share.

A private module with no kaizen_perf imports, so a collector can run a binary
without importing the CLI's diagnostics (which import the collectors to check
them). Both are passed in as arguments with these defaults, so tests reach every
branch without the binary installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

#: Runs argv with a timeout and captures its output (injected; ``run_command`` by default).
Runner = Callable[[Sequence[str], float], "subprocess.CompletedProcess[str]"]
#: Where a binary is, or None (injected so tests reach every branch without installing it).
Finder = Callable[[str], "str | None"]


def run_command(argv: Sequence[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing output (the default runner)."""
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout_s,
                          check=False)


def find_tool(name: str) -> str | None:
    """A binary on PATH, or next to this Python (the venv's py-spy)."""
    found = shutil.which(name)
    if found:
        return found
    # A venv that is not activated still has its console scripts beside its python.
    candidate = Path(sys.executable).parent / name
    return str(candidate) if os.access(candidate, os.X_OK) else None
