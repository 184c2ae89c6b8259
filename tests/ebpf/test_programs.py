"""The profilers/*.bt programs: sections, assembly, and that bpftrace accepts them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kaizen_perf.collectors import ebpf_programs as programs
from kaizen_perf.collectors.ebpf import Availability
from kaizen_perf.errors import ConfigError

ALL = (*programs.DEFAULT_PROGRAMS, programs.ALL_SYSCALLS)


def test_every_program_has_the_same_tracking_preamble() -> None:
    """Each file runs by hand, yet they follow processes identically (no drift)."""
    loaded = [programs.load(name) for name in ALL]
    assert {p.track for p in loaded} == {loaded[0].track}
    assert sorted(f.stem for f in programs.profilers_dir().glob("*.bt")) == sorted(ALL)


def test_assembly_seeds_every_pid_and_prints_one_window_marker() -> None:
    """One program, all PIDs seeded, one interval probe, one optional time box."""
    text = programs.assemble([programs.load(n) for n in programs.DEFAULT_PROGRAMS],
                             [11, 22, 33], window_s=3, exit_after_s=7)
    assert "@kaizen_track[22] = 1;" in text and "$1" not in text
    assert text.count("interval:s:3") == 1 and "interval:s:7\n{\n\texit();" in text
    assert text.count("@kaizen_window = count();") == 2  # the interval and END


def test_old_kernels_get_block_rq_insert_instead_of_block_io_start() -> None:
    """Without block_io_start (kernel < 6.5) the submitter is taken at block_rq_insert."""
    text = programs.assemble([programs.load("blockio")], [1], exists=lambda c, n: False)
    assert "block_io_start" not in text and "tracepoint:block:block_rq_insert" in text


def test_a_program_without_markers_is_a_config_error() -> None:
    """A hand-edited program that lost its markers says which ones are missing."""
    with pytest.raises(ConfigError, match="probes"):
        programs.parse("broken", "// @kaizen track\nBEGIN {}\n")


@pytest.mark.parametrize("name", ALL)
def test_bpftrace_compiles_each_program_as_shipped(ebpf: Availability, name: str,
                                                   tmp_path: Path) -> None:
    """`bpftrace profilers/NAME.bt PID` loads (checked with bpftrace's dry run, -d)."""
    path = programs.profilers_dir() / f"{name}.bt"
    out = subprocess.run([ebpf.bpftrace, "-d", str(path), "1"], capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-500:]
