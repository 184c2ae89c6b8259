"""Profiles show the agent, not kaizen-perf: own threads and bootstrap set apart, stacks of
two runs comparable, command lines with ``;`` kept whole."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from kaizen_perf.collectors.pyspy import PySpyProfiler
from kaizen_perf.profiles import Profile, parse_folded, read_folded, share, write_folded
from kaizen_perf.profiles.folded import FRAME_SEMICOLON, sampled_pid
from kaizen_perf.profiles.own import split_own, without_pids
from kaizen_perf.report.flame import diff_tree
from tests.profiles.conftest import Start

P = 'process 10:"python agent.py"'
# py-spy --subprocesses --threads: process frames, then one thread frame, then Python frames
FOLDED = f"""\
{P};thread (0x1A): MainThread;<module> (agent.py:9);plan (agent.py:4) 30
{P};thread (0x1B): kaizen-perf-dispatch;Thread.run (threading.py:982);Pipeline._run \
(kaizen_perf/pipeline.py:166);Condition.wait (threading.py:331) 50
{P};thread (0x1C);worker (agent.py:20) 5
{P};thread (0x1D);Thread._bootstrap (threading.py:1002);Thread.run (threading.py:982);\
ForwardReceiver._run (kaizen_perf/forward.py:120) 4
{P};thread (0x1E);Thread._bootstrap (threading.py:1002);Thread.run (threading.py:982);\
fetch (agent.py:30);Monitor.tool (kaizen_perf/monitor.py:200) 6
{P};thread (0x1A): MainThread;<module> (agent.py:1);get_monitor (kaizen_perf/monitor.py:391);\
Monitor.__init__ (kaizen_perf/monitor.py:75);_find_and_load (<frozen importlib._bootstrap>:1176);\
_load_unlocked (<frozen importlib._bootstrap>:690);<module> (opentelemetry/sdk/__init__.py:3) 8
{P};thread (0x1A): MainThread;<module> (agent.py:1);get_monitor (kaizen_perf/monitor.py:391);\
Monitor.__init__ (kaizen_perf/monitor.py:70);Thread.start (threading.py:969);\
Condition.wait (threading.py:327) 3
{P};thread (0x1A): MainThread;<module> (sitecustomize.py:120);_bootstrap \
(sitecustomize.py:110);_configure (sitecustomize.py:60);<module> (kaizen_perf/__init__.py:20) 7
"""


def _flat(profile: Profile) -> list[str]:
    return [frame for stack in profile.stacks for frame in stack]


def test_own_threads_and_bootstrap_are_set_apart() -> None:
    """kaizen-perf-* threads (also one py-spy has no name for yet), the run bootstrap and
    kaizen-perf loading itself go to the own profile; the agent's threads stay, hooks they
    call included, and no thread frame (a TID differs in every run) is kept."""
    agent, own = split_own(parse_folded(FOLDED.splitlines()))
    assert sum(agent.values()) == 41 and sum(own.values()) == 72
    assert not any(f.startswith("thread (") for f in _flat(Profile(dict(agent | own))))
    assert "Condition.wait (threading.py:331)" not in _flat(Profile(dict(agent)))
    assert all(sampled_pid(stack) == 10 for stack in agent)


def test_a_semicolon_in_a_command_line_does_not_split_its_frame(tmp_path: Path) -> None:
    """`sh -c "a; b"` stays one process frame, and the file we write reads back the same."""
    line = 'process 7:"sh -c python a.py; echo done";<module> (a.py:1);work (a.py:5) 3'
    stacks = parse_folded([line])
    (stack,) = stacks
    assert stack == (f'process 7:"sh -c python a.py{FRAME_SEMICOLON} echo done"',
                     "<module> (a.py:1)", "work (a.py:5)")
    path = write_folded(Profile(dict(stacks)), tmp_path / "p.folded")
    assert path.read_text().count(";") == 2
    assert read_folded(path).stacks == dict(stacks)


def test_identical_runs_show_no_difference_and_real_changes_do() -> None:
    """Two runs of the same code (different PIDs, sampling noise) colour no frame; a shift of
    30 % of the time from one function to another is coloured both ways."""
    def run(pid: int, hot: int, cold: int) -> Profile:
        lines = [f'process {pid}:"python agent.py";<module> (a.py:1);hot (a.py:2) {hot}',
                 f'process {pid}:"python agent.py";<module> (a.py:1);cold (a.py:3) {cold}']
        return without_pids(Profile(dict(parse_folded(lines))))

    def marked(node: dict[str, object]) -> set[str]:
        kids = node.get("c", [])
        assert isinstance(kids, list)
        return ({str(node["n"])} if node.get("s") else set()).union(*map(marked, kids))

    same = diff_tree(run(100, 700, 300), run(200, 688, 312))  # within noise
    assert same["c"][0]["n"] == 'process "python agent.py"' and len(same["c"]) == 1
    assert marked(same) == set()
    changed = diff_tree(run(100, 700, 300), run(200, 400, 600))
    assert marked(changed) == {"hot (a.py:2)", "cold (a.py:3)"}


def _ready(proc: subprocess.Popen[str]) -> int:
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    assert line[0] == "ready", line
    return int(line[1])


def test_profiler_leaves_out_its_own_threads_but_counts_them(pyspy: str, start_workload: Start,
                                                             tmp_path: Path) -> None:
    """A kaizen-perf-named thread is absent from the profile, the hottest functions and the
    window files, and counted in profile.json and kaizen-perf-own.folded."""
    proc = start_workload("own", 1.0)
    pid = _ready(proc)
    prof = PySpyProfiler(pid, tmp_path, window_s=1.0, pyspy_path=pyspy).start()
    proc.wait(120)  # blocking sampling on a loaded machine stretches the run
    result = prof.stop(timeout_s=5)
    assert share(result.profile, "agent_function") > 0.8
    assert share(result.profile, "own_function") == 0
    assert all("own_function" not in name for name, _ in result.top_functions)
    windows = [read_folded(p) for p in (tmp_path / "windows").glob("*.folded")]
    assert windows and not any(share(w, "own_function") for w in windows)
    own = read_folded(result.paths["own"])
    assert share(own, "own_function") > 0.8
    meta = json.loads(result.paths["meta"].read_text())
    assert meta["own_samples"] == own.samples > 0 and meta["own_included"] is False


def test_own_threads_kept_on_request(pyspy: str, start_workload: Start, tmp_path: Path) -> None:
    """include_own=True keeps kaizen-perf's threads in the profile (and still counts them)."""
    proc = start_workload("own", 1.0)
    pid = _ready(proc)
    prof = PySpyProfiler(pid, tmp_path, window_s=1.0, include_own=True,
                         pyspy_path=pyspy).start()
    proc.wait(120)  # blocking sampling on a loaded machine stretches the run
    result = prof.stop(timeout_s=5)
    assert share(result.profile, "own_function") > 0.2
    assert result.own.samples > 0
