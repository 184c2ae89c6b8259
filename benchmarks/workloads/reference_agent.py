"""A realistic multi-tool agent with a stub LLM: the reference workload.

Each iteration of the loop asks a simulated LLM what to do (a wait plus a little
CPU for "tokenisation", with known token counts), then runs one or two tools:

* ``web_search``  mostly waiting (network stand-in), a little parsing;
* ``parse_html``  CPU-bound (string work);
* ``run_code``    behind a permission check (denied now and then), CPU then wait;
* ``write_file``  real file I/O with fsync.

Every 10th iteration saves a checkpoint; every 17th a tool fails; every 50th
brings a graceful interrupt (the agent pauses, then continues); hooks run
around tools. Everything is seeded, so two runs do the same work.

Run it directly (``python -m benchmarks.workloads.reference_agent``) and it
uses ``kaizen_perf.get_monitor()``: configured from ``KAIZEN_PERF_*`` variables,
which is how ``kaizen-perf run`` instruments it without code changes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pickle
import random
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

MODELS = ("claude-sonnet-4-5", "claude-haiku-4-5")


class ToolFailed(RuntimeError):
    """A tool failed (deliberately, every 17th iteration)."""


@dataclass
class AgentState:
    """What the agent carries between iterations (and checkpoints)."""

    iteration: int = 0
    notes: list[str] = field(default_factory=list)
    failures: int = 0


class _Off:
    """Instrumentation off: every hook is a no-op (the baseline of overhead benchmarks)."""

    def tool(self, name: str) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def agent_loop(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def _cpu(units: int) -> int:
    """Deterministic CPU work, a few µs per unit on this class of machine."""
    acc = 0
    for i in range(units * 60):
        acc = (acc * 31 + i) & 0xFFFFFFFF
    return acc


def tokenize(text: str, units: int) -> int:
    """The LLM client's CPU share (the stand-in for request building and JSON decoding)."""
    return _cpu(units) + len(text)


def parse_html(units: int) -> int:
    """A CPU-bound tool."""
    return _cpu(units)


def call_llm(mon: Any, rng: random.Random, scale: float) -> str:
    """One stub LLM call with known token counts; the wait stands for the network."""
    model = MODELS[rng.random() < 0.25]
    cache_read = rng.choice((0, 0, 2048))
    start = time.perf_counter()
    time.sleep(0.004 * scale)
    tokenize("prompt", 20)
    mon.record_api_call(provider="anthropic", model=model, input_tokens=rng.randint(800, 1600),
                        output_tokens=rng.randint(100, 400), cache_read_tokens=cache_read,
                        cache_write_tokens=0 if cache_read else 512,
                        duration_s=time.perf_counter() - start)
    return rng.choice(("search", "parse", "code", "write"))


def run_tool(mon: Any, action: str, state: AgentState, workdir: str, scale: float) -> None:
    """Run the tool the LLM chose, with hooks and a permission check where it applies."""
    hook_start = time.perf_counter()
    mon.hook_executed(hook="pre_tool", duration_s=time.perf_counter() - hook_start)
    if action == "search":
        with mon.tool("web_search"):
            time.sleep(0.003 * scale)
            parse_html(10)
    elif action == "parse":
        with mon.tool("parse_html"):
            parse_html(int(120 * scale))
    elif action == "code":
        denied = state.iteration % 7 == 3
        mon.permission_check(tool="run_code", decision="denied" if denied else "approved",
                             reason="policy" if denied else None, duration_s=0.0002)
        if not denied:
            with mon.tool("run_code"):
                parse_html(int(40 * scale))
                time.sleep(0.002 * scale)
    else:
        with mon.tool("write_file"), open(os.path.join(workdir, "notes.txt"), "a") as fh:
            fh.write(f"iteration {state.iteration}\n")
            fh.flush()
            os.fsync(fh.fileno())


def checkpoint(mon: Any, state: AgentState, workdir: str) -> None:
    """Save the agent's state durably and record the checkpoint."""
    start = time.perf_counter()
    data = pickle.dumps(state)
    with open(os.path.join(workdir, "state.pkl"), "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    mon.checkpoint(op="save", size_bytes=len(data), duration_s=time.perf_counter() - start)


def iteration(mon: Any, state: AgentState, rng: random.Random, workdir: str, scale: float) -> None:
    """One turn of the agent loop."""
    with mon.agent_loop():
        action = call_llm(mon, rng, scale)
        try:
            if state.iteration % 17 == 16:
                with mon.tool("flaky_api"):
                    raise ToolFailed("upstream returned 503")
            run_tool(mon, action, state, workdir, scale)
        except ToolFailed:
            state.failures += 1
        state.notes = [*state.notes[-20:], action]
    if state.iteration % 10 == 9:
        checkpoint(mon, state, workdir)
    if state.iteration % 50 == 49:
        mon.interrupt(kind="graceful")
        start = time.perf_counter()
        time.sleep(0.001)
        mon.control_request(kind="resume", duration_s=time.perf_counter() - start, outcome="ok")


def run_agent(iterations: int, monitor: Any = None, *, seed: int = 0, scale: float = 1.0,
              duration_s: float | None = None) -> AgentState:
    """Run the reference agent; ``monitor`` None means instrumentation off."""
    mon = monitor if monitor is not None else _Off()
    rng, state = random.Random(seed), AgentState()
    deadline = None if duration_s is None else time.monotonic() + duration_s
    task_start = time.perf_counter()
    with _workdir() as workdir:
        while state.iteration < iterations and (deadline is None or time.monotonic() < deadline):
            iteration(mon, state, rng, workdir, scale)
            state.iteration += 1
    mon.task(task_type="research", complexity="high" if iterations > 100 else "low",
             duration_s=time.perf_counter() - task_start, ok=state.failures < iterations)
    return state


@contextlib.contextmanager
def _workdir() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="kaizen-ref-agent-") as tmp:
        yield tmp


def main(argv: list[str] | None = None) -> None:
    """Run the agent with the process-wide monitor (configured from the environment)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--duration", type=float, default=None, help="stop after S seconds")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply waits and CPU work")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    import kaizen_perf

    mon = kaizen_perf.get_monitor()
    print(f"reference agent {mon.agent_id!r}: running"
          + (f" for {args.duration:.0f} s" if args.duration else f" {args.iterations} iterations"),
          flush=True)
    state = run_agent(args.iterations, mon, seed=args.seed, scale=args.scale,
                      duration_s=args.duration)
    print(f"reference agent: {state.iteration} iterations, {state.failures} failed tool calls")


if __name__ == "__main__":
    main()
