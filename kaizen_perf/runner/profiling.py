"""The session's stack profiles: which kinds a run records, and their per-agent files.

A run records both kinds by default, on-CPU (where CPU goes) and wall-clock (where time
goes, waits included), by two py-spy samplers side by side at half the rate each
(:mod:`kaizen_perf.collectors.pyspy_pair`); ``--idle`` asks for wall-clock only, as
before. ``run.json`` names each kind's folder under ``profiles`` so the report can offer
both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from kaizen_perf.collectors.pyspy import ProfileResult
from kaizen_perf.collectors.pyspy_pair import KINDS, ProfilerPair, kind_dir
from kaizen_perf.profiles.folded import Profile, write_folded


def kinds_for(idle: bool, kinds: Sequence[str] = KINDS) -> tuple[str, ...]:
    """The kinds of profile to record: ``--idle`` alone means wall-clock only."""
    return ("wall",) if idle else tuple(kinds)


def start_profiles(pid: int, profiles_dir: Path, *, kinds: Sequence[str], rate_hz: int,
                   window_s: float, include_own: bool,
                   on_warning: Callable[[str], None]) -> ProfilerPair:
    """Start one py-spy sampler per kind of profile on the process tree of ``pid``."""
    return ProfilerPair(pid, profiles_dir, kinds=kinds, rate_hz=rate_hz, window_s=window_s,
                        include_own=include_own, on_warning=on_warning).start()


def profile_dirs(profiles_dir: Path, run_dir: Path, kinds: Sequence[str]) -> dict[str, str]:
    """``run.json``'s ``profiles``: each kind's folder, relative to the run directory."""
    return {kind: str(kind_dir(profiles_dir, kind, kinds).relative_to(run_dir))
            for kind in kinds}


def write_agent_profiles(result: ProfileResult, out_dir: Path,
                         agent_of: Mapping[int, str], default: str) -> dict[str, Profile]:
    """``<out_dir>/by-agent/<agent>.folded``: the stacks of each agent's processes (when the
    tree has several agents); returns the profile of every agent."""
    split: dict[str, Profile] = result.by_agent(
        lambda pid: agent_of.get(pid, default) if pid else default)
    if len(split) > 1:
        out = out_dir / "by-agent"
        out.mkdir(exist_ok=True)
        for agent, part in split.items():
            write_folded(part, out / f"{safe_name(agent)}.folded")
    return split


def stop_profiles(pair: ProfilerPair, profiles_dir: Path, agent_of: Mapping[int, str],
                  default: str) -> tuple[ProfileResult | None, dict[str, Profile]]:
    """Stop the samplers and write every kind's per-agent files; the first kind's result
    (the summary's hottest functions) and its profile per agent."""
    results = pair.stop(timeout_s=5.0)
    by_agent: dict[str, Any] = {}
    for kind, result in results.items():
        if result.available:
            split = write_agent_profiles(result, kind_dir(profiles_dir, kind, pair.kinds),
                                         agent_of, default)
            if kind == pair.kinds[0]:
                by_agent = split
    return results.get(pair.kinds[0]), by_agent


def safe_name(name: str) -> str:
    """A file name for an agent id."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "_"
