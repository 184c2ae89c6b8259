"""doctor's checks, driven through every branch with injected runners and paths."""

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


def test_ebpf_missing_btf_says_how_to_fix(tmp_path: Path) -> None:
    """Without kernel BTF the finding names the file and the kernel option."""
    f = doctor.check_ebpf(_runner(0, "bpftrace v0.17.0"), btf=str(tmp_path / "vmlinux"))
    assert f.ok is False and "BTF" in f.detail and "CONFIG_DEBUG_INFO_BTF" in f.fix


def test_ebpf_without_permission_says_how_to_fix(tmp_path: Path) -> None:
    """A dry run that fails names the capabilities to grant."""
    btf = tmp_path / "vmlinux"
    btf.write_text("")
    f = doctor.check_ebpf(_runner(1, err="Operation not permitted"), btf=str(btf))
    assert f.ok is False and "CAP_BPF" in f.fix


def test_missing_tracefs_is_reported(tmp_path: Path) -> None:
    """With bpftrace working but tracefs unmounted, --ebpf would attach nothing: said so."""
    btf = tmp_path / "vmlinux"
    btf.write_text("")
    found = ebpf.detect(_runner(0, "bpftrace v0.17.0"), btf=str(btf),
                        tracefs=[str(tmp_path / "no-tracefs")])
    assert not found.ok and "tracefs" in found.reason and "mount -t tracefs" in found.fix


def test_pyroscope_unreachable_is_reported() -> None:
    """An unreachable Pyroscope URL is a finding with the URL, not an exception."""
    f = doctor.check_pyroscope("http://127.0.0.1:9/", timeout_s=1.0)
    assert f.ok is False and "127.0.0.1:9" in f.detail
    assert doctor.check_pyroscope(None).ok is None
