"""``kaizen-perf doctor``: what this machine allows, and how to enable what is missing.

Each check is a small function returning a frozen :class:`Finding`; the system
calls it makes (running a binary, reading a file) are injected so tests can
drive every branch.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

Runner = Callable[[Sequence[str], float], "subprocess.CompletedProcess[str]"]
#: Where a binary is, or None (injected so tests reach every branch without installing it).
Finder = Callable[[str], "str | None"]


@dataclass(frozen=True)
class Finding:
    """The result of one check: ``ok`` is None when the check does not apply."""

    name: str
    ok: bool | None
    detail: str
    fix: str = ""


def run_command(argv: Sequence[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing output (the default runner)."""
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout_s,
                          check=False)


def find_tool(name: str) -> str | None:
    """A binary on PATH, or next to this Python (the venv's py-spy)."""
    found = shutil.which(name)
    if found:
        return found
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else None


def check_pyspy(run: Runner = run_command) -> Finding:
    """py-spy is installed and can read a Python process's stacks (needs ptrace)."""
    pyspy = find_tool("py-spy")
    if pyspy is None:
        return Finding("py-spy", False, "py-spy not found", "pip install py-spy")
    version = run([pyspy, "--version"], 10).stdout.strip()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.3)
        dump = run([pyspy, "dump", "--pid", str(sleeper.pid)], 20)
    finally:
        sleeper.kill()
        sleeper.wait()
    if dump.returncode == 0:
        return Finding("ptrace (py-spy)", True, f"{version} can sample Python stacks")
    return Finding("ptrace (py-spy)", False, f"{version} cannot attach: "
                   f"{(dump.stderr or dump.stdout).strip()[:200]}", PTRACE_FIX)


PTRACE_FIX = ("run as root, or `sysctl kernel.yama.ptrace_scope=0`, or give the container "
              "CAP_SYS_PTRACE (docker --cap-add SYS_PTRACE; Kubernetes securityContext."
              "capabilities.add: [SYS_PTRACE])")


def check_ptrace_scope(path: str = "/proc/sys/kernel/yama/ptrace_scope") -> Finding:
    """The Yama ptrace scope (1 lets only parents trace children unless root/CAP_SYS_PTRACE)."""
    try:
        scope = Path(path).read_text().strip()
    except OSError:
        return Finding("ptrace scope", None, "no Yama LSM: ptrace governed by capabilities only")
    root = os.geteuid() == 0
    ok = scope == "0" or root
    return Finding("ptrace scope", ok, f"kernel.yama.ptrace_scope={scope}"
                   + (" (running as root)" if root else ""), "" if ok else PTRACE_FIX)


def check_ebpf(run: Runner = run_command, btf: str = "/sys/kernel/btf/vmlinux",
               find: Finder = find_tool) -> Finding:
    """bpftrace is installed, the kernel has BTF, and a dry-run program loads."""
    bpftrace = find("bpftrace")
    if bpftrace is None:
        return Finding("eBPF", False, "bpftrace not found", "apt-get install bpftrace")
    if not os.path.exists(btf):
        return Finding("eBPF", False, f"no kernel BTF at {btf}",
                       "use a kernel built with CONFIG_DEBUG_INFO_BTF=y")
    try:
        dry = run([bpftrace, "-e", "BEGIN { exit(); }"], 30)
    except subprocess.TimeoutExpired:
        return Finding("eBPF", False, "bpftrace dry run timed out", "check `bpftrace -l`")
    if dry.returncode != 0:
        return Finding("eBPF", False, f"bpftrace cannot load programs: {dry.stderr.strip()[:200]}",
                       "run as root or grant CAP_BPF and CAP_PERFMON")
    version = run([bpftrace, "--version"], 10).stdout.strip()
    return Finding("eBPF", True, f"{version}, kernel BTF present, programs load")


def check_binary(name: str, package: str, run: Runner = run_command) -> Finding:
    """A binary used by the end-to-end features (prometheus, promtool…)."""
    path = find_tool(name)
    if path is None:
        return Finding(name, False, "not found", f"apt-get install {package}")
    out = run([path, "--version"], 10)
    first = (out.stdout or out.stderr).strip().splitlines()
    return Finding(name, True, first[0] if first else path)


def check_pyroscope(url: str | None, timeout_s: float = 3.0) -> Finding:
    """The Pyroscope server answers (only when a URL is given)."""
    if not url:
        return Finding("Pyroscope", None, "no server given (use --pyroscope URL to check one)")
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/ready", timeout=timeout_s) as resp:
            return Finding("Pyroscope", True, f"{url} answered {resp.status}")
    except OSError as exc:
        return Finding("Pyroscope", False, f"{url} unreachable: {exc}",
                       "check the URL and that the server listens")


def check_tracepoints(run: Runner = run_command) -> Finding:
    """Everything ``--ebpf`` needs: the bpftrace checks above, plus tracefs for tracepoints."""
    from kaizen_perf.collectors.ebpf import detect

    found = detect(run)
    if found.ok:
        return check_ebpf(run)
    return Finding("eBPF", False, found.reason, found.fix)


def all_findings(pyroscope_url: str | None = None, run: Runner = run_command) -> list[Finding]:
    """Every check, in the order they are printed."""
    return [check_ptrace_scope(), check_pyspy(run), check_tracepoints(run),
            check_binary("prometheus", "prometheus", run),
            check_binary("promtool", "prometheus", run), check_pyroscope(pyroscope_url)]
