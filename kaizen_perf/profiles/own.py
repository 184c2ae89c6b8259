"""Telling the agent's samples from kaizen-perf's own, and making profiles comparable.

py-spy records with ``--threads``, so each stack carries one ``thread (TID): NAME``
frame after its process frames. kaizen-perf names every thread it starts
``kaizen-perf-<role>`` (the dispatcher, exporters, the forwarder, the HTTP server…):
their samples are kaizen-perf's cost, not the agent's, and in a waiting agent the
dispatcher's ``Condition.wait`` was a third of the profile. So are the frames of the
``run`` bootstrap (``sitecustomize``). :func:`split_own` sets those apart; the thread
frames are then dropped (thread ids differ in every run, and one frame per thread
would split the flame graph of a thread pool into as many towers).

:func:`without_pids` makes two runs' stacks comparable: ``process PID:"cmd"``
frames differ in every run, so a differential flame graph of identical runs was
all new frames.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping

from kaizen_perf.profiles.folded import Profile, Stack, parse_frame

#: the prefix of every thread kaizen-perf starts
OWN_THREAD_PREFIX = "kaizen-perf"
#: functions of the ``run`` bootstrap (kaizen_perf/bootstrap/sitecustomize.py)
BOOTSTRAP_FUNCTIONS = frozenset({"_bootstrap", "_configure", "_instrument_clients",
                                 "OnFirstClientImport.find_spec", "_chain_user_sitecustomize"})

_THREAD = re.compile(r"^thread \((?:0x)?[0-9A-Fa-f]+\)(?:: (?P<name>.*))?$")
_PID = re.compile(r'^process \d+:')


def thread_name(frame: str) -> str | None:
    """The name in a ``thread (TID): NAME`` frame ("" when unnamed); None for other frames."""
    if not frame.startswith("thread ("):
        return None
    match = _THREAD.match(frame)
    return None if match is None else (match["name"] or "")


def is_own(stack: Stack) -> bool:
    """A sample of a kaizen-perf thread (by name, or by a thread entry function in
    kaizen_perf: py-spy does not always know a new thread's name), or of the bootstrap."""
    entry = True  # still looking for the thread's entry function
    for frame in stack:
        name = thread_name(frame)
        if name is not None:
            if name.startswith(OWN_THREAD_PREFIX):
                return True
            continue
        if frame.startswith("process "):
            continue
        if entry and "threading.py" not in frame:
            entry = False
            if _in_package(frame):
                return True
        if "sitecustomize.py" in frame:
            parsed = parse_frame(frame)
            if parsed.file.endswith("sitecustomize.py") and parsed.name in BOOTSTRAP_FUNCTIONS:
                return True
    return _loading_kaizen_perf(stack)


#: frames of an import in progress (importlib's machinery)
_IMPORTING = ("_find_and_load ", "_handle_fromlist ", "import_module ", "_gcd_import ")


def _loading_kaizen_perf(stack: Stack) -> bool:
    """kaizen-perf's own start-up in an agent's thread: a kaizen_perf module body running
    (``import kaizen_perf``), kaizen-perf code importing what it uses (sinks and exporters,
    loaded on first use), or the monitor being built (pricing tables, sinks, threads). Its
    length varies from run to run, and it is ours."""
    previous_ours = False
    for frame in stack:
        if "kaizen_perf/" not in frame:
            if previous_ours and frame.startswith(_IMPORTING):
                return True
            previous_ours = False
            continue
        if frame.startswith(_START_UP) and _in_package(frame):
            return True
        previous_ours = _in_package(frame)
    return False


#: kaizen-perf frames that are start-up wherever they are: module bodies, the monitor's build
_START_UP = ("<module> (", "Monitor.__init__ (")


def _in_package(frame: str) -> bool:
    """A frame of kaizen-perf's code (py-spy names files relative to their sys.path entry)."""
    file = parse_frame(frame).file
    return file.startswith("kaizen_perf/") or "/kaizen_perf/" in file


def without_threads(stack: Stack) -> Stack:
    """The stack with its thread frame removed."""
    return tuple(f for f in stack if not f.startswith("thread ("))


def split_own(stacks: Mapping[Stack, int]) -> tuple[Counter[Stack], Counter[Stack]]:
    """(the agent's samples, kaizen-perf's own samples), both without thread frames."""
    agent: Counter[Stack] = Counter()
    own: Counter[Stack] = Counter()
    for stack, count in stacks.items():
        kept = without_threads(stack)
        # a sample with no Python frame (the interpreter starting or exiting) has nothing
        # to show, and its share swings from run to run with the machine's load
        if kept and not kept[-1].startswith("process "):
            (own if is_own(stack) else agent)[kept] += count
    return agent, own


def without_pids(profile: Profile) -> Profile:
    """The same samples with ``process PID:"cmd"`` frames written ``process "cmd"``, so the
    stacks of two runs of the same command line up."""
    out: Counter[Stack] = Counter()
    for stack, count in profile.stacks.items():
        out[tuple(_PID.sub("process ", f, count=1) if f.startswith("process ") else f
                  for f in stack)] += count
    return Profile(dict(out))
