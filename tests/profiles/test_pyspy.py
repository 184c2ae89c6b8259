"""Real py-spy against real Python children: accuracy, streaming, idle, subprocesses, failures."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import pytest

from kaizen_perf.collectors.pyspy import PySpyProfiler
from kaizen_perf.errors import ConfigError
from kaizen_perf.profiles import read_folded, share
from tests.helpers import need
from tests.profiles.conftest import Start


def _ready(proc: subprocess.Popen[str]) -> int:
    """Wait for the workload's ``ready PID`` line (the interpreter is up)."""
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    assert line[0] == "ready", line
    return int(line[1])


def _wait_for(predicate: object, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return True
        time.sleep(0.05)
    return False


def test_split_shares_within_five_points(pyspy: str, start_workload: Start,
                                         tmp_path: Path) -> None:
    """A 70/30 CPU split between two functions shows as 70/30 (±5 points) in the merged stacks."""
    proc = start_workload("split", 5.0)
    pid = _ready(proc)
    prof = PySpyProfiler(pid, tmp_path, rate_hz=200, window_s=2.0, pyspy_path=pyspy).start()
    proc.wait(120)
    result = prof.stop(timeout_s=5)
    merged = read_folded(result.paths["folded"])
    seventy, thirty = share(merged, "work_seventy"), share(merged, "work_thirty")
    assert result.available and result.windows >= 2
    assert seventy + thirty > 0.8, result.top_functions
    assert abs(seventy / (seventy + thirty) - 0.70) <= 0.05
    assert merged.samples == result.samples == sum(
        read_folded(p).samples for p in (tmp_path / "windows").glob("*.folded"))
    assert result.cpu_seconds > 0


def test_windows_stream_before_stop(pyspy: str, start_workload: Start, tmp_path: Path) -> None:
    """Each window's folded file appears while the run goes on, not only at stop."""
    proc = start_workload("split", 20.0)
    pid = _ready(proc)
    prof = PySpyProfiler(pid, tmp_path, window_s=1.0, pyspy_path=pyspy).start()
    first = tmp_path / "windows" / "0001.folded"
    try:
        assert _wait_for(first.exists, 10.0)
        assert read_folded(first).samples > 0
        assert prof.cpu_seconds > 0
        time.sleep(0.6)  # let the second window record some samples before interrupting it
    finally:
        result = prof.stop(timeout_s=5)
    assert result.windows >= 2  # the interrupted window was written too
    assert not list((tmp_path / "windows").glob("*.part"))


def test_idle_shows_sleeping_function(pyspy: str, start_workload: Start, tmp_path: Path) -> None:
    """With idle=True a function that only sleeps is in the profile (wall-clock view)."""
    proc = start_workload("sleep", 3.0)
    pid = _ready(proc)
    result = PySpyProfiler(pid, tmp_path, idle=True, window_s=1.0, pyspy_path=pyspy).start()
    proc.wait(120)
    out = result.stop(timeout_s=5)
    assert out.top_functions[0][0].startswith("sleeping_function"), out.top_functions
    assert out.samples >= 100


def test_subprocess_samples_attributed_to_child(pyspy: str, start_workload: Start,
                                                tmp_path: Path) -> None:
    """With subprocesses=True a Python child's samples carry its PID and its own functions."""
    proc = start_workload("spawn", 3.0)
    parent = _ready(proc)
    prof = PySpyProfiler(parent, tmp_path, window_s=1.0, pyspy_path=pyspy).start()
    assert proc.stdout is not None
    child = int(proc.stdout.readline().split()[1])
    proc.wait(120)
    result = prof.stop(timeout_s=5)
    assert result.samples_by_pid.get(child, 0) > 50, result.samples_by_pid
    assert "child" in result.process_names[child]
    own = result.for_pid(child)
    assert share(own, "child_function") > 0.9
    assert share(result.for_pid(parent), "child_function") == 0
    agents = result.by_agent(lambda pid: "kid" if pid == child else "main")
    assert agents["kid"].samples == result.samples_by_pid[child]


def test_outputs_written_and_meta_versioned(pyspy: str, start_workload: Start,
                                            tmp_path: Path) -> None:
    """The run writes folded, speedscope, SVG and a versioned profile.json naming the settings."""
    import json

    proc = start_workload("split", 2.0)
    pid = _ready(proc)
    prof = PySpyProfiler(pid, tmp_path, window_s=1.0, pyspy_path=pyspy).start()
    proc.wait(120)
    result = prof.stop(timeout_s=5)
    assert {p.name for p in result.paths.values()} == {
        "profile.folded", "profile.speedscope.json", "flamegraph.svg", "windows", "profile.json",
        "kaizen-perf-own.folded"}
    meta = json.loads(result.paths["meta"].read_text())
    assert meta["format"] == "kaizen-perf-profile" and meta["version"] == 1
    assert meta["samples"] == result.samples and meta["rate_hz"] == 100
    assert "work_seventy" in result.paths["flamegraph"].read_text()


def test_not_python_target_warns_once_and_does_not_crash(pyspy: str, tmp_path: Path) -> None:
    """A target that is not Python gives one warning and an unavailable result saying why."""
    sleeper = subprocess.Popen(["sleep", "30"])
    warnings: list[str] = []
    try:
        prof = PySpyProfiler(sleeper.pid, tmp_path, window_s=1.0, pyspy_path=pyspy,
                             on_warning=warnings.append, startup_grace_s=0.5).start()
        assert _wait_for(lambda: warnings, 15.0)
        result = prof.stop(timeout_s=5)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert len(warnings) == 1 and "not a Python process" in warnings[0]
    assert not result.available and result.reason and "not a Python process" in result.reason
    assert result.paths == {}


def _unprivileged_pyspy(pyspy: str, tmp_path: Path) -> str:
    """A wrapper running the real py-spy as user ``nobody`` (who may not ptrace our children)."""
    setpriv = shutil.which("setpriv")
    need(setpriv is not None and os.geteuid() == 0,
         "needs root and setpriv (util-linux) to run py-spy without ptrace permission")
    wrapper = tmp_path / "py-spy-as-nobody"
    wrapper.write_text(f'#!/bin/sh\nexec {setpriv} --reuid=65534 --regid=65534 --clear-groups '
                       f'{pyspy} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def test_no_ptrace_permission_warns_once_with_fix(pyspy: str, start_workload: Start,
                                                  tmp_path: Path) -> None:
    """Without ptrace permission (real py-spy as nobody) the fix is said once; profiling stops."""
    wrapper = _unprivileged_pyspy(pyspy, tmp_path)
    proc = start_workload("sleep", 30.0)
    pid = _ready(proc)
    warnings: list[str] = []
    prof = PySpyProfiler(pid, tmp_path / "out", window_s=1.0, pyspy_path=wrapper,
                         on_warning=warnings.append, startup_grace_s=0.5).start()
    assert _wait_for(lambda: warnings, 10.0)
    time.sleep(1.5)  # long enough for a second window, which must not be attempted
    result = prof.stop(timeout_s=5)
    assert len(warnings) == 1
    for fix in ("root", "kernel.yama.ptrace_scope=0", "--cap-add SYS_PTRACE",
                "securityContext.capabilities.add"):
        assert fix in warnings[0]
    assert not result.available and result.reason and "Permission Denied" in result.reason
    assert not list((tmp_path / "out" / "windows").iterdir())


def test_missing_pyspy_is_reported_not_raised(tmp_path: Path) -> None:
    """A py-spy path that does not exist gives one warning and an unavailable result."""
    warnings: list[str] = []
    prof = PySpyProfiler(os.getpid(), tmp_path, window_s=1.0, pyspy_path=str(tmp_path / "nope"),
                         on_warning=warnings.append).start()
    assert _wait_for(lambda: warnings, 5.0)
    result = prof.stop(timeout_s=2)
    assert len(warnings) == 1 and "cannot start" in warnings[0]
    assert not result.available


def test_exited_target_ends_recording_by_itself(pyspy: str, start_workload: Start,
                                                tmp_path: Path) -> None:
    """When the target exits the recording thread ends on its own and keeps what it sampled."""
    proc = start_workload("split", 1.5)
    pid = _ready(proc)
    prof = PySpyProfiler(pid, tmp_path, window_s=5.0, pyspy_path=pyspy).start()
    proc.wait(120)
    assert prof._thread is not None
    prof._thread.join(10)
    assert not prof._thread.is_alive()
    result = prof.stop(timeout_s=2)
    assert result.available and result.samples > 50


@pytest.mark.parametrize("kwargs", [{"rate_hz": 0}, {"rate_hz": 2.5}, {"window_s": 0}])
def test_bad_settings_raise_config_error(kwargs: dict[str, float], tmp_path: Path) -> None:
    """A zero or fractional rate, or a non-positive window, is refused with a ConfigError."""
    with pytest.raises(ConfigError, match=r"must be positive|not a positive integer"):
        PySpyProfiler(os.getpid(), tmp_path, **kwargs)  # type: ignore[arg-type]


def test_a_process_without_children_is_sampled_without_scanning_for_them(
        pyspy: str, start_workload: Start, tmp_path: Path) -> None:
    """After the first window, with no Python child py-spy runs without --subprocesses (it
    costs CPU), and the stacks still start with the target's process frame."""
    from kaizen_perf.collectors.pyspy_proc import spawn as real_spawn

    proc = start_workload("split", 2.0)
    pid = _ready(proc)
    argvs: list[list[str]] = []

    def spawn(argv: Sequence[str], log: IO[bytes]) -> subprocess.Popen[bytes]:
        argvs.append(list(argv))
        return real_spawn(argv, log)

    prof = PySpyProfiler(pid, tmp_path, window_s=1.0, pyspy_path=pyspy, spawn=spawn).start()
    proc.wait(120)
    result = prof.stop(timeout_s=5)
    records = [a for a in argvs if "record" in a]
    assert len(records) >= 2 and "--subprocesses" in records[0]  # the first window follows
    assert not any("--subprocesses" in a for a in records[1:])
    assert result.samples > 0 and result.samples_by_pid == {pid: result.samples}
    assert "split" in result.process_names[pid]
