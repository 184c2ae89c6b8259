"""doctor's checks, driven through every branch with injected runners, paths and finders."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from kaizen_perf import doctor
from kaizen_perf.collectors import ebpf


def _runner(code: int, out: str = "", err: str = ""):  # type: ignore[no-untyped-def]
    def run(argv: Sequence[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(list(argv), code, out, err)
    return run


def _installed(name: str) -> str | None:
    """A finder for a machine where bpftrace is installed (whether or not this one has it)."""
    return f"/usr/bin/{name}"


def _btf(tmp_path: Path) -> str:
    path = tmp_path / "vmlinux"
    path.write_text("")
    return str(path)


def test_ebpf_missing_bpftrace_names_the_package(tmp_path: Path) -> None:
    """Without bpftrace the finding says so and gives the one install command."""
    f = doctor.check_ebpf(_runner(0), btf=_btf(tmp_path), find=lambda name: None)
    assert f.ok is False and "bpftrace not found" in f.detail
    assert f.fix == "apt-get install bpftrace"


def test_ebpf_missing_btf_says_how_to_fix(tmp_path: Path) -> None:
    """Without kernel BTF the finding names the file and the kernel option."""
    f = doctor.check_ebpf(_runner(0, "bpftrace v0.17.0"), btf=str(tmp_path / "vmlinux"),
                          find=_installed)
    assert f.ok is False and "BTF" in f.detail and "CONFIG_DEBUG_INFO_BTF" in f.fix


def test_ebpf_without_permission_says_how_to_fix(tmp_path: Path) -> None:
    """A dry run that fails names the capabilities to grant."""
    f = doctor.check_ebpf(_runner(1, err="Operation not permitted"), btf=_btf(tmp_path),
                          find=_installed)
    assert f.ok is False and "CAP_BPF" in f.fix


def test_missing_tracefs_is_reported(tmp_path: Path) -> None:
    """With bpftrace working but tracefs unmounted, --ebpf would attach nothing: said so."""
    found = ebpf.detect(_runner(0, "bpftrace v0.17.0"), btf=_btf(tmp_path),
                        tracefs=[str(tmp_path / "no-tracefs")], find=_installed)
    assert not found.ok and "tracefs" in found.reason and "mount -t tracefs" in found.fix


def test_usable_ebpf_reports_the_bpftrace_it_found(tmp_path: Path) -> None:
    """When every check passes, detect() hands back the bpftrace path it will run."""
    tracefs = tmp_path / "events"
    tracefs.mkdir()
    found = ebpf.detect(_runner(0, "bpftrace v0.17.0"), btf=_btf(tmp_path),
                        tracefs=[str(tracefs)], find=_installed)
    assert found.ok and found.bpftrace == "/usr/bin/bpftrace"


def test_pyroscope_unreachable_is_reported() -> None:
    """An unreachable Pyroscope URL is a finding with the URL, not an exception."""
    f = doctor.check_pyroscope("http://127.0.0.1:9/", timeout_s=1.0)
    assert f.ok is False and "127.0.0.1:9" in f.detail
    assert doctor.check_pyroscope(None).ok is None
