"""Whether py-spy must follow subprocesses this window, and the process frame it then adds.

``py-spy record --subprocesses`` rescans the process table all the time to find new
children: on the reference agent that costs about 1.6 % of a core whether or not there
is any child (measured with ``benchmarks/pyspy_cost.py``: 4.7 % of a core at 100 Hz with
it, 3.2 % without; 2.3 % and 0.6 % at 20 Hz). So each window asks once whether the
target has Python descendants, and follows them only then. Without ``--subprocesses``
py-spy writes no ``process PID:"cmd"`` frame: :func:`with_process_frame` adds the one it
would have written, so every window of a run has the same roots.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import psutil

from kaizen_perf.profiles.folded import FRAME_SEMICOLON, Stack


def has_python_children(pid: int) -> bool:
    """The process has a descendant that runs Python (one /proc scan)."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return False
    for child in children:
        try:
            name = child.name().lower()
        except psutil.Error:
            continue
        if name.startswith(("python", "pypy")):
            return True
    return False


def process_frame(pid: int) -> str:
    """The frame py-spy writes for a process: ``process PID:"cmd line"``."""
    try:
        cmdline = " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        cmdline = ""
    return f'process {pid}:"{cmdline.replace(";", FRAME_SEMICOLON)}"'


def with_process_frame(stacks: Mapping[Stack, int], frame: str) -> Counter[Stack]:
    """Stacks recorded without ``--subprocesses``, rooted at the process frame."""
    out: Counter[Stack] = Counter()
    for stack, count in stacks.items():
        out[(frame, *stack)] += count
    return out
