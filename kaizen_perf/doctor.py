"""``kaizen-perf doctor``: what this machine allows, and how to enable what is missing.

Each check is a small function returning a frozen :class:`Finding`; the system
calls it makes (running a binary, reading a file) are injected so tests can
drive every branch.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from kaizen_perf._proc import Finder, Runner, find_tool, run_command
from kaizen_perf.collectors import ebpf

__all__ = ["Finder", "Finding", "Runner", "all_findings", "check_binary", "check_ebpf",
           "check_ptrace_scope", "check_pyroscope", "check_pyspy", "check_tracepoints",
           "find_tool", "run_command"]


@dataclass(frozen=True)
class Finding:
    """The result of one check: ``ok`` is None when the check does not apply."""

    name: str
    ok: bool | None
    detail: str
    fix: str = ""


def check_pyspy(run: Runner = run_command) -> Finding:
    """py-spy is installed and can read a Python process's stacks (needs ptrace)."""
    pyspy = find_tool("py-spy")
    if pyspy is None:
        return Finding("py-spy", False, "py-spy not found", "pip install py-spy")
    version = run([pyspy, "--version"], 10).stdout.strip()
    # Only attaching to a real Python process proves ptrace works: the Yama scope,
    # capabilities, seccomp and container runtimes all take part, and no one setting
    # read on its own tells the answer.
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.3)  # let the interpreter start, or py-spy finds no Python in it yet
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
    # 1 (the common default) lets a process trace only its descendants, so sampling a
    # process started elsewhere needs 0, root or CAP_SYS_PTRACE.
    root = os.geteuid() == 0
    ok = scope == "0" or root
    return Finding("ptrace scope", ok, f"kernel.yama.ptrace_scope={scope}"
                   + (" (running as root)" if root else ""), "" if ok else PTRACE_FIX)


def check_ebpf(run: Runner = run_command, btf: str = "/sys/kernel/btf/vmlinux",
               find: Finder = find_tool) -> Finding:
    """bpftrace is installed, the kernel has BTF, and a dry-run program loads."""
    found = ebpf.probe_bpftrace(run, btf=btf, find=find)
    if not found.ok:
        return Finding("eBPF", False, found.reason, found.fix)
    version = run([found.bpftrace, "--version"], 10).stdout.strip()
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
    found = ebpf.detect(run)
    if found.ok:
        return check_ebpf(run)
    return Finding("eBPF", False, found.reason, found.fix)


def all_findings(pyroscope_url: str | None = None, run: Runner = run_command) -> list[Finding]:
    """Every check, in the order they are printed."""
    return [check_ptrace_scope(), check_pyspy(run), check_tracepoints(run),
            check_binary("prometheus", "prometheus", run),
            check_binary("promtool", "prometheus", run), check_pyroscope(pyroscope_url)]
