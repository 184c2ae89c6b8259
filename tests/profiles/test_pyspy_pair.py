"""On-CPU and wall-clock profiles of one process from one run (real py-spy, two samplers)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kaizen_perf.collectors.pyspy_pair import ProfilerPair
from kaizen_perf.collectors.pyspy_turns import Turns
from kaizen_perf.errors import ConfigError
from kaizen_perf.profiles import read_folded, top_functions


@pytest.mark.parametrize("in_turn", [False, True])
def test_one_run_gives_both_kinds_with_their_own_hottest_function(pyspy: str, tmp_path: Path,
                                                                  in_turn: bool) -> None:
    """An agent that sleeps 150 ms and burns 20 ms per step: the on-CPU profile's hottest
    function is the burn, the wall-clock one's the sleep, whether the samplers run side by
    side at half the rate or take turns window by window; py-spy's CPU counts both."""
    agent = subprocess.Popen([sys.executable, "-m", "tests.report.sleep_burn_agent", "5"])
    try:
        pair = ProfilerPair(agent.pid, tmp_path, rate_hz=50, window_s=2.0, in_turn=in_turn,
                            pyspy_path=pyspy).start()
        agent.wait(120)
        results = pair.stop(timeout_s=10)
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
    assert set(results) == {"cpu", "wall"} and pair.rate_hz == (50 if in_turn else 25)
    cpu_windows, wall_windows = results["cpu"].windows, results["wall"].windows
    if in_turn:  # on-CPU went first, then they alternated
        assert wall_windows >= 1 and cpu_windows - wall_windows in (0, 1)
    else:  # both all along
        assert wall_windows >= 2 and abs(cpu_windows - wall_windows) <= 1
    cpu, wall = read_folded(tmp_path / "profile.folded"), read_folded(
        tmp_path / "wall" / "profile.folded")
    assert results["cpu"].available and results["wall"].available
    assert top_functions(cpu, 1)[0][0].startswith("crunch"), top_functions(cpu, 3)
    assert top_functions(wall, 1)[0][0].startswith("wait_for_llm"), top_functions(wall, 3)
    spent = results["cpu"].cpu_seconds
    assert spent == results["wall"].cpu_seconds == pytest.approx(pair.cpu_seconds) and spent > 0


def test_a_warning_both_samplers_meet_is_given_once(tmp_path: Path) -> None:
    """Without py-spy both samplers fail the same way; the user reads the reason once."""
    said: list[str] = []
    missing = str(tmp_path / "no-such-py-spy")
    pair = ProfilerPair(1, tmp_path, pyspy_path=missing, on_warning=said.append).start()
    deadline = time.monotonic() + 60
    while any(p.running for p in pair.profilers.values()) and time.monotonic() < deadline:
        time.sleep(0.02)  # both give up at their first window
    results = pair.stop(timeout_s=5)
    assert len(said) == 1 and f"cannot start {missing}" in said[0], said
    assert not any(r.available for r in results.values())


@pytest.mark.parametrize("kinds", [(), ("cpu", "cpu"), ("cpu", "offcpu")])
def test_kinds_must_be_cpu_or_wall(tmp_path: Path, kinds: tuple[str, ...]) -> None:
    """A kind list that is empty, repeats a kind or names an unknown one is refused up front."""
    with pytest.raises(ConfigError, match="use one or both of cpu, wall"):
        ProfilerPair(1, tmp_path, kinds=kinds)


def test_samplers_take_turns_one_window_each() -> None:
    """Samplers sharing Turns record one window each in the order they joined, never two at
    once; one that leaves hands its turns to the others; stopping ends a wait."""
    turns, log, lock = Turns(), [], threading.Lock()
    stop = threading.Event()
    busy: list[str] = []

    def sampler(name: str, windows: int) -> None:
        for _ in range(windows):
            assert turns.wait(name, stop)
            with lock:
                busy.append(name)
                assert len(busy) == 1, busy  # alone while it records
            log.append(name)
            with lock:
                busy.remove(name)
            turns.done(name)
        turns.leave(name)

    for name in ("cpu", "wall"):
        turns.join(name)
    threads = [threading.Thread(target=sampler, args=(n, w)) for n, w in (("wall", 2),
                                                                         ("cpu", 4))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert log == ["cpu", "wall", "cpu", "wall", "cpu", "cpu"]
    turns.join("a")
    turns.join("b")
    stop.set()
    assert turns.wait("b", stop) is False  # not its turn, and stopping: gives up waiting
