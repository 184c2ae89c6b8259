"""speedscope JSON (https://www.speedscope.app/file-format-schema.json) from folded stacks.

One "sampled" profile holds every process; when the stacks carry ``process``
frames (py-spy ``--subprocesses``) one more profile per process follows, re-rooted
at its own process frame, so speedscope's profile selector switches between them.
The kaizen-perf format version is in ``exporter``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from kaizen_perf._version import __version__
from kaizen_perf.profiles.folded import Profile, for_pid, parse_frame, samples_by_pid
from kaizen_perf.profiles.version import PROFILE_FORMAT_VERSION

SCHEMA = "https://www.speedscope.app/file-format-schema.json"


class _Frames:
    """The shared frame table: one entry per distinct frame text."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.frames: list[dict[str, Any]] = []

    def get(self, text: str) -> int:
        found = self.index.get(text)
        if found is not None:
            return found
        frame = parse_frame(text)
        entry: dict[str, Any] = {"name": frame.name}
        if frame.file:
            entry["file"] = frame.file
        if frame.line:
            entry["line"] = frame.line
        self.index[text] = len(self.frames)
        self.frames.append(entry)
        return self.index[text]


def _sampled(name: str, profile: Profile, frames: _Frames) -> dict[str, Any]:
    stacks = sorted(profile.stacks)
    return {
        "type": "sampled",
        "name": name,
        "unit": "none",
        "startValue": 0,
        "endValue": profile.samples,
        "samples": [[frames.get(f) for f in stack] for stack in stacks],
        "weights": [profile.stacks[stack] for stack in stacks],
    }


def to_speedscope(profile: Profile, *, name: str = "kaizen-perf profile") -> dict[str, Any]:
    """The speedscope document of ``profile`` (weights are sample counts)."""
    frames = _Frames()
    profiles = [_sampled(f"{name} (all processes)", profile, frames)]
    pids = samples_by_pid(profile)
    if len(pids) > 1:
        for pid in sorted(pids):
            profiles.append(_sampled(f"{name} (PID {pid})", for_pid(profile, pid), frames))
    return {
        "$schema": SCHEMA,
        "name": name,
        "exporter": f"kaizen-perf {__version__} (profile format {PROFILE_FORMAT_VERSION})",
        "activeProfileIndex": 0,
        "shared": {"frames": frames.frames},
        "profiles": profiles,
    }


def write_speedscope(profile: Profile, path: Path, *, name: str = "kaizen-perf profile") -> Path:
    """Write the speedscope JSON of ``profile`` to ``path`` atomically."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(to_speedscope(profile, name=name), separators=(",", ":")),
                   encoding="utf-8")
    os.replace(tmp, path)
    return path
