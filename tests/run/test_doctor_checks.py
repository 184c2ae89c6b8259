"""doctor's remaining checks: py-spy's ptrace, the Yama scope, binaries and Pyroscope.

py-spy is a dependency, so the ptrace check attaches the real one to a real Python
process; the failure branch injects a runner that answers as a container without
CAP_SYS_PTRACE does.
"""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from kaizen_perf import doctor
from tests.helpers import need


@pytest.mark.e2e
def test_pyspy_can_sample_a_python_process_here() -> None:
    """On this machine (root, or ptrace_scope 0) py-spy attaches and doctor says so, naming
    its version."""
    scope = Path("/proc/sys/kernel/yama/ptrace_scope")
    need(os.geteuid() == 0 or not scope.exists() or scope.read_text().strip() == "0",
         "ptrace is restricted here (not root, kernel.yama.ptrace_scope != 0)")
    found = doctor.check_pyspy()
    assert (found.name, found.ok) == ("ptrace (py-spy)", True), found
    assert found.detail.startswith("py-spy ") and found.detail.endswith("can sample Python stacks")


def test_pyspy_that_cannot_attach_says_how_to_allow_ptrace() -> None:
    """When py-spy's dump is refused, the finding quotes py-spy's error and gives the fix
    (root, ptrace_scope, CAP_SYS_PTRACE)."""
    def run(argv: Sequence[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
        if "--version" in argv:
            return subprocess.CompletedProcess(list(argv), 0, "py-spy 0.4.0\n", "")
        return subprocess.CompletedProcess(list(argv), 1, "", "Permission denied (os error 13)")

    found = doctor.check_pyspy(run)
    assert found.ok is False
    assert found.detail == "py-spy 0.4.0 cannot attach: Permission denied (os error 13)"
    assert found.fix == doctor.PTRACE_FIX and "CAP_SYS_PTRACE" in found.fix


@pytest.mark.parametrize("scope", ["0", "1", "2"])
def test_ptrace_scope_is_read_and_judged(tmp_path: Path, scope: str) -> None:
    """Scope 0 is fine for anyone, other scopes only for root; the finding shows the value."""
    path = tmp_path / "ptrace_scope"
    path.write_text(scope + "\n")
    found = doctor.check_ptrace_scope(str(path))
    root = os.geteuid() == 0
    assert found.ok is (scope == "0" or root)
    assert found.detail == f"kernel.yama.ptrace_scope={scope}" + (" (running as root)"
                                                                   if root else "")
    assert found.fix == ("" if found.ok else doctor.PTRACE_FIX)


def test_no_yama_means_the_scope_check_does_not_apply(tmp_path: Path) -> None:
    """Without the Yama LSM there is no scope file: not a problem, not a pass."""
    found = doctor.check_ptrace_scope(str(tmp_path / "missing"))
    assert found.ok is None and "no Yama LSM" in found.detail


def test_a_binary_is_found_with_its_version_or_named_with_its_package() -> None:
    """An installed binary reports its first version line; a missing one, the apt package."""
    found = doctor.check_binary(Path(sys.executable).name, "python3")
    assert found.ok is True and found.detail.startswith("Python 3.")
    missing = doctor.check_binary("kaizen-perf-no-such-tool", "some-package")
    assert (missing.ok, missing.detail, missing.fix) == (
        False, "not found", "apt-get install some-package")


class _Ready(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/ready" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def pyroscope() -> Iterator[str]:
    """A server on 127.0.0.1 answering Pyroscope's /ready."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ready)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_pyroscope_server_that_answers_is_reported_ready(pyroscope: str) -> None:
    """doctor --pyroscope URL asks URL/ready (a trailing slash or not) and reports the status."""
    found = doctor.check_pyroscope(pyroscope)
    assert (found.ok, found.detail) == (True, f"{pyroscope} answered 200")
    assert doctor.check_pyroscope(pyroscope.rstrip("/")).ok is True
