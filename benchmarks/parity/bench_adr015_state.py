"""ADR-015, state persistence: Kaizen's ``StateManager`` over ``FilesystemStorage``.

"Large state" is a 1,000-step conversation (1,000 messages of about 400
characters, 1,000 completed actions, 200 cached tool results): about 0.75 MB
of JSON. Kaizen's ``save_checkpoint`` applies retention after each save by
re-reading every checkpoint file in the directory, so its cost grows with the
checkpoints already kept; the save benchmark keeps three earlier checkpoints of
the agent on disk, a short-lived agent's steady state (docs/parity.md shows
the cost with more).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from kaizen.core.autonomy.state.manager import StateManager
from kaizen.core.autonomy.state.storage import FilesystemStorage
from kaizen.core.autonomy.state.types import AgentState

from benchmarks.parity._support import percentile, run, scratch
from kaizen_perf.regression import benchmark

STEPS = 1000
EARLIER = 3
TRIALS = 5
_TEXT = ("The tool returned the listing of the repository; the next step reads the "
         "configuration file and checks the retry settings against the service limits. ") * 3


def large_state(agent_id: str = "agent-parity", steps: int = STEPS) -> AgentState:
    """An agent state after a ``steps``-step conversation."""
    return AgentState(
        agent_id=agent_id, model="gpt-4o-mini", step_number=steps,
        conversation_history=[{"role": "assistant" if i % 2 else "user",
                               "content": f"{i}: {_TEXT}"} for i in range(steps)],
        completed_actions=[{"step": i, "tool": "Read", "ok": True} for i in range(steps)],
        tool_results_cache={f"call_{i}": {"output": _TEXT} for i in range(steps // 5)},
        tool_usage_counts={"Read": steps // 2, "Bash": steps // 4},
        budget_spent_usd=1.25)


def _manager(name: str) -> tuple[StateManager, Path]:
    folder = scratch(name)
    return StateManager(FilesystemStorage(base_dir=folder)), folder


_STATE: list[AgentState] = []


def _state() -> AgentState:
    if not _STATE:
        _STATE.append(large_state())
    return _STATE[0]


def _save_setup() -> None:
    manager, folder = _manager("save")
    if not any(folder.iterdir()):
        for _ in range(EARLIER):
            run(manager.save_checkpoint(large_state(), force=True))


@benchmark(unit="ms", setup=_save_setup, gate=0.25)
def bench_checkpoint_save_p95() -> float:
    """p95 of 5 ``save_checkpoint`` calls of the large state, three earlier checkpoints
    on disk (ms); the new checkpoints are removed after the sample."""
    manager, folder = _manager("save")
    before = set(folder.iterdir())
    times = []
    for _ in range(TRIALS):
        state = large_state()
        start = time.perf_counter()
        run(manager.save_checkpoint(state, force=True))
        times.append(time.perf_counter() - start)
    for path in set(folder.iterdir()) - before:
        path.unlink()
    return percentile(times, 0.95) * 1e3


def _load_setup() -> None:
    manager, folder = _manager("load")
    if not any(folder.iterdir()):
        run(manager.save_checkpoint(_state(), force=True))


@benchmark(unit="ms", setup=_load_setup, gate=0.25)
def bench_checkpoint_load_p95() -> float:
    """p95 of 5 ``load_checkpoint`` calls of the large state (ms)."""
    manager, _ = _manager("load")
    times = []
    for _ in range(TRIALS):
        start = time.perf_counter()
        loaded = run(manager.load_checkpoint(_state().checkpoint_id))
        times.append(time.perf_counter() - start)
        assert len(loaded.conversation_history) == STEPS
    return percentile(times, 0.95) * 1e3


@benchmark(unit="bytes")
def bench_storage_per_checkpoint() -> float:
    """Bytes on disk of one checkpoint of the 1,000-step conversation."""
    folder = scratch("size")
    shutil.rmtree(folder)
    manager, folder = _manager("size")
    checkpoint = run(manager.save_checkpoint(large_state(), force=True))
    return float(sum(p.stat().st_size for p in folder.iterdir() if checkpoint in p.name))
