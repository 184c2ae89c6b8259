"""`kaizen-perf run` stops the command's whole tree (SIGTERM, grace, SIGKILL), leaves no
orphans, exits when its command is gone, and keeps its run directory private and free of
command-line secrets."""

from __future__ import annotations

import json
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil

from kaizen_perf.runner.rundir import RunDir

ROOT = Path(__file__).resolve().parents[2]
KP = [sys.executable, "-m", "kaizen_perf"]
SECRET = "sk-ant-api03-" + "Q7x" * 30 + "AA"


def _stubborn(pidfile: Path, *, exit_after_fork: bool) -> str:
    """A command that ignores SIGTERM and forks grandchildren that ignore it too (one of them
    in a session of its own, outside the process group)."""
    return textwrap.dedent(f"""
        import os, signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        pids = []
        for leave_group in (False, False, {not exit_after_fork}):
            pid = os.fork()
            if pid == 0:
                if leave_group:
                    os.setsid()
                time.sleep(300)
                os._exit(0)
            pids.append(pid)
        with open({str(pidfile)!r}, "w") as f:
            f.write(" ".join(map(str, pids)))
        print("ready", flush=True)
        if not {exit_after_fork}:
            time.sleep(300)
    """)


def _running(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def _start(tmp_path: Path, *args: str, pidfile: Path, exit_after_fork: bool = False,
           ) -> subprocess.Popen[str]:
    cmd = [*KP, "run", "--no-profile", "--metrics-addr", ":0", "--interval", "0.1",
           "--grace", "0.5", "--out", str(tmp_path / "r"), *args, "--", sys.executable, "-c",
           _stubborn(pidfile, exit_after_fork=exit_after_fork)]
    return subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_ready(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        if "ready" in line:
            return
    raise AssertionError(f"the command never got ready: {proc.communicate()}")


def test_duration_escalates_to_sigkill_for_a_tree_that_ignores_sigterm(tmp_path: Path) -> None:
    """--duration: SIGTERM to the whole tree, SIGKILL after the grace period; run exits 137
    and no grandchild survives (also one that left the process group)."""
    pidfile = tmp_path / "pids"
    proc = _start(tmp_path, "--duration", "1", pidfile=pidfile)
    _wait_ready(proc)
    _, err = proc.communicate(timeout=120)
    grandchildren = [int(p) for p in pidfile.read_text().split()]
    assert proc.returncode == 128 + signal.SIGKILL, err
    assert _running(grandchildren) == []
    run = json.loads((tmp_path / "r" / "run.json").read_text())
    assert run["killed_after_grace"] is True


def test_sigterm_to_run_stops_the_whole_tree_after_the_grace_period(tmp_path: Path) -> None:
    """SIGTERM to `run` reaches every process of the command; survivors get SIGKILL and run
    exits instead of waiting forever."""
    pidfile = tmp_path / "pids"
    proc = _start(tmp_path, pidfile=pidfile)
    _wait_ready(proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGKILL, err
    assert _running([int(p) for p in pidfile.read_text().split()]) == []


def test_run_exits_with_its_command_and_leaves_no_orphans(tmp_path: Path) -> None:
    """A command that exits leaving grandchildren that ignore SIGTERM: run exits with the
    command's status and the grandchildren are stopped (and named in run.json)."""
    pidfile = tmp_path / "pids"
    proc = _start(tmp_path, pidfile=pidfile, exit_after_fork=True)
    _, err = proc.communicate(timeout=120)
    grandchildren = [int(p) for p in pidfile.read_text().split()]
    assert proc.returncode == 0, err
    assert _running(grandchildren) == []
    run = json.loads((tmp_path / "r" / "run.json").read_text())
    assert sorted(run["stopped_left_behind"]) == sorted(grandchildren)


def test_run_directory_is_private_and_free_of_command_line_secrets(tmp_path: Path) -> None:
    """Directories 0700, files 0600, and a key given on the command line appears in no file
    of the run (run.json keeps the argument, redacted)."""
    out = tmp_path / "r"
    proc = subprocess.run(
        [*KP, "run", "--no-profile", "--metrics-addr", ":0", "--out", str(out), "--",
         sys.executable, "-c", "import sys; print(len(sys.argv))", "--api-key", SECRET,
         f"--url=https://bob:{SECRET[:20]}@example.com/x"],
        cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"run.json", "summary.txt", "report.html", "hooks.json"}
    for path in [out, *out.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        if path.is_dir():
            assert mode == 0o700, (path, oct(mode))
        elif path.is_file():
            assert mode == 0o600, (path, oct(mode))
            assert SECRET[:20].encode() not in path.read_bytes(), path
    command = json.loads((out / "run.json").read_text())["command"]
    assert "--api-key" in command and "[REDACTED]" in command


def test_seal_scrubs_secrets_from_files_other_tools_wrote(tmp_path: Path) -> None:
    """A profile or flame graph quoting the command line (py-spy does) is scrubbed, and files
    written with a umask of 022 end up 0600."""
    rundir = RunDir.create(tmp_path / "r")
    svg = rundir.profiles / "flamegraph.svg"
    svg.write_text(f"<svg><title>python agent.py --api-key {SECRET}</title></svg>")
    svg.chmod(0o644)
    rundir.seal([(SECRET, "[REDACTED]")])
    assert SECRET not in svg.read_text() and "[REDACTED]" in svg.read_text()
    assert stat.S_IMODE(svg.stat().st_mode) == 0o600
    assert stat.S_IMODE(rundir.profiles.stat().st_mode) == 0o700
