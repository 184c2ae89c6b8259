"""Where is a stuck agent stuck? Thread stacks and the tool or API call in progress.

Stacks come from ``py-spy dump --pid PID --json`` when py-spy can attach (it
reads native thread names and works even when the interpreter is wedged in C
code), else from ``sys._current_frames()`` of the own process. The tool in
progress is found from the live ``tool()`` scopes (a scope object exists only
between enter and exit), and an LLM call in progress from frames inside the
anthropic, openai or httpx packages. Taken once per stuck alert, on the alert
thread, never on the agent's.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from kaizen_perf._proc import find_tool

_MAX_THREADS, _MAX_FRAMES = 64, 48
_LLM_PACKAGES = ("anthropic", "openai", "httpx", "google", "litellm")

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


def find_py_spy() -> str | None:
    """py-spy on PATH or next to the running interpreter (a virtualenv's bin)."""
    return find_tool("py-spy")


def py_spy_threads(pid: int, *, py_spy: str, timeout_s: float = 5.0,
                   run: Runner = subprocess.run) -> list[dict[str, Any]] | None:
    """Thread stacks of ``pid`` from py-spy, or None when it cannot attach."""
    try:
        done = run([py_spy, "dump", "--pid", str(pid), "--json"], capture_output=True,
                   text=True, timeout=timeout_s, check=False)
        if done.returncode != 0:
            return None
        threads = json.loads(done.stdout)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return [{"name": t.get("thread_name") or str(t.get("os_thread_id")),
             "id": t.get("os_thread_id"),
             "frames": [f"{f.get('name')} ({f.get('filename')}:{f.get('line')})"
                        for f in t.get("frames", [])[:_MAX_FRAMES]]}
            for t in threads[:_MAX_THREADS] if isinstance(t, dict)]


def own_threads() -> list[dict[str, Any]]:
    """Thread stacks of this process from ``sys._current_frames()`` (innermost first)."""
    names = {t.ident: t.name for t in threading.enumerate()}
    out = []
    for ident, frame in list(sys._current_frames().items())[:_MAX_THREADS]:
        stack = traceback.extract_stack(frame)[::-1][:_MAX_FRAMES]
        out.append({"name": names.get(ident, str(ident)), "id": ident,
                    "frames": [f"{f.name} ({f.filename}:{f.lineno})" for f in stack]})
    return out


def tools_in_progress(clock: Callable[[], int]) -> list[dict[str, Any]]:
    """Tool scopes entered and not exited yet, with how long they have been running."""
    from kaizen_perf._scopes import ToolScope
    now, out = clock(), list[dict[str, Any]]()
    # A walk of the whole heap, once per stuck alert on the alert thread: a registry of
    # open scopes would cost every tool() call on the hot path to save this rare walk.
    for obj in gc.get_objects():
        if type(obj) is ToolScope:
            start = getattr(obj, "_start", None)
            if isinstance(start, int):
                out.append({"tool": obj._name, "running_s": round((now - start) / 1e9, 3)})
    return sorted(out, key=lambda t: -float(t["running_s"]))[:_MAX_THREADS]


def llm_calls_in_progress(threads: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """Threads whose stack is inside an LLM client package, with the innermost such frame."""
    out = []
    for thread in threads:
        for frame in thread["frames"]:
            if any(f"{os.sep}{pkg}{os.sep}" in frame for pkg in _LLM_PACKAGES):
                out.append({"thread": str(thread["name"]), "frame": frame})
                break
    return out


def take(*, clock: Callable[[], int], pid: int | None = None, py_spy: str | None = None,
         use_py_spy: bool = True, timeout_s: float = 5.0,
         run: Runner = subprocess.run) -> dict[str, Any]:
    """The snapshot attached to a stuck-agent alert."""
    threads, source = None, "sys._current_frames"
    exe = py_spy or (find_py_spy() if use_py_spy else None)
    if exe is not None:
        threads = py_spy_threads(pid or os.getpid(), py_spy=exe, timeout_s=timeout_s, run=run)
        source = "py-spy" if threads is not None else source
    if threads is None:
        threads = own_threads()
    return {"pid": pid or os.getpid(), "source": source, "threads": threads,
            "tools_in_progress": tools_in_progress(clock),
            "llm_calls_in_progress": llm_calls_in_progress(threads)}
