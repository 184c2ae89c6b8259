"""Kaizen's checkpoints, interrupts and hook handlers.

- **checkpoints**: ``StateManager.save_checkpoint`` / ``load_checkpoint`` /
  ``resume_from_latest`` (a resume that finds nothing is not a load), labelled by
  the state's ``agent_id``. The size is the checkpoint file's, read with one
  ``stat`` when the storage is Kaizen's ``FilesystemStorage`` (the JSON is never
  serialised twice); other storages report 0 bytes.
- **interrupts**: ``InterruptManager.request_interrupt`` (which the signal handler,
  ``request_interrupt_with_hooks`` and ``propagate_to_children`` all call), counted
  once per accepted interrupt by its mode; a duplicate request Kaizen ignores is not
  counted. The source (signal, timeout, budget, user, programmatic) is read from the
  accepted ``InterruptReason`` and goes to the interrupt's event-log line, span
  (``kaizen.interrupt.source``) and audit entry; ``kaizen_interrupts_total`` keeps only
  the ``kind`` label (a label would add series for what the log already tells).
- **hook handlers**: ``HookManager._execute_hook``: every handler's own duration
  (Kaizen's ``HookResult.duration_ms``) and success, as
  ``kaizen_hook_duration_seconds{hook="<event>:<handler>"}`` (ADR-014's "hook
  execution overhead").
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kaizen_perf.integrations._calls import Patches, _log
from kaizen_perf.integrations.kaizen._agents import AGENTS
from kaizen_perf.monitor import Monitor

#: FilesystemStorage's file names, in the order its ``load`` tries them
SUFFIXES = (".jsonl", ".jsonl.gz", ".enc.jsonl", ".enc.gz.jsonl")


def checkpoint_size(storage: Any, checkpoint_id: object) -> int:
    """Bytes of a checkpoint written by a storage with a ``base_dir`` (Kaizen's files)."""
    base = getattr(storage, "base_dir", None)
    if not isinstance(base, Path) or not isinstance(checkpoint_id, str):
        return 0
    for suffix in SUFFIXES:
        try:
            return (base / f"{checkpoint_id}{suffix}").stat().st_size
        except OSError:
            continue
    return 0


def _of_state(state: Any) -> Monitor:
    agent_id = getattr(state, "agent_id", None)
    return AGENTS.view(agent_id) if agent_id else AGENTS.of(None)


def _record(op: str, manager: Any, state: Any, checkpoint_id: object, start: float,
            error: BaseException | None) -> None:
    try:
        size = 0 if error is not None else checkpoint_size(manager.storage, checkpoint_id)
        _of_state(state).checkpoint(op, size, time.perf_counter() - start, error)
    except Exception as exc:  # never into agent code
        _log("kaizen-checkpoint", f"kaizen-perf could not record a checkpoint: {exc!r}")


def wrap_save(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def save_checkpoint(self: Any, state: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            checkpoint_id = await original(self, state, *args, **kwargs)
        except BaseException as exc:
            _record("save", self, state, None, start, exc)
            raise
        _record("save", self, state, checkpoint_id, start, None)
        return checkpoint_id
    return save_checkpoint


def wrap_load(original: Callable[..., Any]) -> Callable[..., Any]:
    """``load_checkpoint(id)`` and ``resume_from_latest(agent_id)``: the loaded state counts."""
    @functools.wraps(original)
    async def load(self: Any, key: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            state = await original(self, key, *args, **kwargs)
        except BaseException as exc:
            _record("load", self, None, None, start, exc)
            raise
        if state is not None:
            _record("load", self, state, getattr(state, "checkpoint_id", None), start, None)
        return state
    return load


def wrap_request_interrupt(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def request_interrupt(self: Any, mode: Any, *args: Any, **kwargs: Any) -> Any:
        before = getattr(self, "_interrupt_reason", None)
        result = original(self, mode, *args, **kwargs)
        try:
            reason = getattr(self, "_interrupt_reason", None)
            if before is None and reason is not None:
                kind = getattr(mode, "value", mode)
                source = getattr(getattr(reason, "source", None), "value", None)
                AGENTS.of(self).interrupt(kind if isinstance(kind, str) else "graceful",
                                          source=source if isinstance(source, str) else None)
        except Exception as exc:  # never into agent code (this may run in a signal handler)
            _log("kaizen-interrupt", f"kaizen-perf could not record an interrupt: {exc!r}")
        return result
    return request_interrupt


def wrap_execute_hook(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def _execute_hook(self: Any, handler: Any, context: Any, *args: Any,
                            **kwargs: Any) -> Any:
        result = await original(self, handler, context, *args, **kwargs)
        try:
            event = getattr(getattr(context, "event_type", None), "value", "event")
            name = getattr(handler, "name", None) or type(handler).__name__
            AGENTS.named(getattr(context, "agent_id", None)).hook_executed(
                f"{event}:{name}", max(0.0, float(result.duration_ms) / 1000.0),
                bool(result.success))
        except Exception as exc:  # never into agent code
            _log("kaizen-hook", f"kaizen-perf could not record a Kaizen hook: {exc!r}")
        return result
    return _execute_hook


def patch_state(patches: Patches) -> None:
    """Apply every wrapper of this module."""
    from kaizen.core.autonomy.interrupts import manager as interrupts
    from kaizen.core.autonomy.state import manager as state

    patches.wrap(state.StateManager, "save_checkpoint", wrap_save)
    patches.wrap(state.StateManager, "load_checkpoint", wrap_load)
    patches.wrap(state.StateManager, "resume_from_latest", wrap_load)
    patches.wrap(interrupts.InterruptManager, "request_interrupt", wrap_request_interrupt)
    try:  # Kaizen's hooks package imports the OTLP exporter of its [observability] extra
        from kaizen.core.autonomy.hooks import manager as hooks
    except ImportError as exc:
        _log("kaizen-hooks", f"kaizen-perf cannot time Kaizen's hook handlers ({exc}); "
             'install "kailash-kaizen[observability]" (kaizen-perf[kaizen] does).')
        return
    patches.wrap(hooks.HookManager, "_execute_hook", wrap_execute_hook)
