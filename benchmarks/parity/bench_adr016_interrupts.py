"""ADR-016, interrupts: Kaizen's ``InterruptManager`` with its real OS signal handlers.

A real SIGINT is sent to the worker process itself (``os.kill``); the worker
runs benchmarks on its main thread, where Python delivers signals, and the
handlers are removed again after every sample.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time

from kaizen.core.autonomy.interrupts.manager import InterruptManager
from kaizen.core.autonomy.interrupts.types import InterruptMode, InterruptSource
from kaizen.core.autonomy.state.manager import StateManager
from kaizen.core.autonomy.state.storage import FilesystemStorage

from benchmarks.parity._support import percentile, run, scratch
from benchmarks.parity.bench_adr015_state import large_state
from kaizen_perf.regression import benchmark

TRIALS = 6
HANDLER_CALLS = 100
SHUTDOWN_CALLBACKS = 3


async def _detect_once(manager: InterruptManager) -> float:
    """SIGINT sent while the agent awaits ``wait_for_interrupt``: seconds to its return."""
    sent = [0.0]

    def ctrl_c() -> None:
        sent[0] = time.perf_counter()
        os.kill(os.getpid(), signal.SIGINT)

    asyncio.get_running_loop().call_later(0.001, ctrl_c)
    reason = await manager.wait_for_interrupt(timeout=5.0)
    if reason is None or reason.source is not InterruptSource.SIGNAL:
        raise AssertionError(f"SIGINT was not detected: {reason!r}")
    return time.perf_counter() - sent[0]


def _with_handlers(work: object) -> list[float]:
    manager = InterruptManager()
    manager.install_signal_handlers()
    try:
        out = []
        for _ in range(TRIALS):
            manager.reset()
            out.append(run(work(manager)))  # type: ignore[operator]
        return out
    finally:
        manager.uninstall_signal_handlers()


@benchmark(unit="ms", gate=0.10)
def bench_interrupt_detection() -> float:
    """p95 over 6 trials of SIGINT (``os.kill``) to ``wait_for_interrupt`` returning (ms)."""
    return percentile(_with_handlers(_detect_once), 0.95) * 1e3


async def _noop_callback() -> None:
    await asyncio.sleep(0)


def _shutdown_manager(manager: InterruptManager) -> StateManager:
    for _ in range(SHUTDOWN_CALLBACKS):
        manager.register_shutdown_callback(_noop_callback)
    folder = scratch("shutdown")
    shutil.rmtree(folder)
    return StateManager(FilesystemStorage(base_dir=scratch("shutdown")))


async def _graceful_once(manager: InterruptManager) -> float:
    """SIGINT to a finished ``execute_shutdown`` (3 callbacks + a 100-step checkpoint)."""
    states = _shutdown_manager(manager)
    state = large_state(steps=100)
    start = time.perf_counter()
    os.kill(os.getpid(), signal.SIGINT)
    await manager.wait_for_interrupt(timeout=5.0)
    status = await manager.execute_shutdown(states, state)
    elapsed = time.perf_counter() - start
    manager._shutdown_callbacks.clear()
    if not status.interrupted or status.checkpoint_id is None:
        raise AssertionError(f"graceful shutdown did not checkpoint: {status!r}")
    return elapsed


@benchmark(unit="ms", gate=0.25)
def bench_graceful_shutdown() -> float:
    """Median over 6 trials of SIGINT to ``execute_shutdown`` done: callbacks run and
    a 100-step checkpoint saved (ms)."""
    xs = sorted(_with_handlers(_graceful_once))
    return xs[len(xs) // 2] * 1e3


async def _checkpoint_once(manager: InterruptManager) -> float:
    manager.request_interrupt(InterruptMode.GRACEFUL, InterruptSource.USER, "stop")
    folder = scratch("before-shutdown")
    shutil.rmtree(folder)
    states = StateManager(FilesystemStorage(base_dir=scratch("before-shutdown")))
    state = large_state()
    start = time.perf_counter()
    status = await manager.execute_shutdown(states, state)
    elapsed = time.perf_counter() - start
    if status.checkpoint_id is None:
        raise AssertionError("no checkpoint was saved before shutdown")
    return elapsed


@benchmark(unit="ms", gate=0.25)
def bench_checkpoint_before_shutdown() -> float:
    """p95 over 6 trials of ``execute_shutdown`` saving the 1,000-step state (ms)."""
    return percentile(_with_handlers(_checkpoint_once), 0.95) * 1e3


@benchmark(unit="ms", gate=0.10)
def bench_signal_handler() -> float:
    """Median time of the installed SIGINT handler itself (``_handle_signal``: records
    the reason, sets the event, logs a warning), 100 calls (ms)."""
    manager = InterruptManager()
    manager.install_signal_handlers()
    handler = signal.getsignal(signal.SIGINT)
    try:
        times = []
        for _ in range(HANDLER_CALLS):
            manager.reset()
            start = time.perf_counter()
            handler(signal.SIGINT, None)  # type: ignore[operator]
            times.append(time.perf_counter() - start)
            assert manager.is_interrupted()
    finally:
        manager.uninstall_signal_handlers()
    times.sort()
    return times[len(times) // 2] * 1e3
