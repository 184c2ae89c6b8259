"""Flame-graph trees from profiles, for the report's interactive flame graph.

A tree node is ``{"n": name, "v": samples, "c": [children]}`` (and ``"d"``, the
sample difference, with ``"s"`` set when it is more than sampling noise, in a
differential tree). Nodes below 0.1 % of the root are
folded into their parent so a 30-hour profile stays a few hundred KB. Reading
and merging folded stacks is :mod:`kaizen_perf.profiles.folded`'s job.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from kaizen_perf.profiles.folded import Profile, read_folded

Node = dict[str, Any]


def load_profile(path: Path) -> Profile:
    """The profile in a folded file, or an empty one when the file does not exist."""
    return read_folded(path) if path.exists() else Profile()


def build_tree(profile: Profile, root: str = "all") -> Node:
    """Merge a profile's stacks into one tree of sample counts."""
    tree: Node = {"n": root, "v": 0, "c": {}}
    for frames, count in profile.stacks.items():
        node = tree
        node["v"] += count
        for frame in frames:
            child = node["c"].get(frame)
            if child is None:
                child = node["c"][frame] = {"n": frame, "v": 0, "c": {}}
            child["v"] += count
            node = child
    return _finish(tree, max(1, tree["v"]) * 0.001)


def _finish(node: Node, min_value: float) -> Node:
    """Children as lists sorted by name (stable layout), tiny branches pruned."""
    kids = [_finish(c, min_value) for c in node["c"].values() if c["v"] >= min_value]
    kids.sort(key=lambda c: c["n"])
    out: Node = {"n": node["n"], "v": node["v"]}
    if kids:
        out["c"] = kids
    if "d" in node:
        out["d"] = node["d"]
    if "s" in node:
        out["s"] = node["s"]
    return out


#: a difference is shown (``"s"``) when it is this many standard errors of sampling noise
#: (4: among a few hundred frames, identical runs colour none)…
NOISE_Z = 4.0
#: …and moves at least this share of all samples (a real but negligible change stays white)
MIN_SHARE_CHANGE = 0.02


def diff_tree(base: Profile, head: Profile) -> Node:
    """A tree sized by the head profile, with ``d`` = head share − base share per frame (in
    head samples), so functions that gained time are positive and those that lost are
    negative; ``s`` marks the differences that sampling noise does not explain."""
    scale = (head.samples or 1) / (base.samples or 1)
    tree: Node = {"n": "all", "v": head.samples, "d": 0.0, "b": base.samples, "c": {}}
    for profile, sign in ((base, -scale), (head, 1.0)):
        for frames, count in profile.stacks.items():
            node = tree
            for frame in frames:
                child = node["c"].get(frame)
                if child is None:
                    child = node["c"][frame] = {"n": frame, "v": 0, "d": 0.0, "b": 0, "c": {}}
                node = child
                if sign > 0:
                    node["v"] += count
                else:
                    node["b"] += count
                node["d"] += count * sign
    _mark_significant(tree, base.samples, head.samples)
    return _finish(tree, max(1, tree["v"]) * 0.001)


def _mark_significant(node: Node, base_total: int, head_total: int) -> None:
    """Set ``s`` where head share and base share differ beyond noise (two-proportion z-test)
    and by at least MIN_SHARE_CHANGE."""
    if base_total and head_total:
        p_base, p_head = node["b"] / base_total, node["v"] / head_total
        pooled = (node["b"] + node["v"]) / (base_total + head_total)
        se = math.sqrt(pooled * (1 - pooled) * (1 / base_total + 1 / head_total))
        change = p_head - p_base
        if abs(change) >= MIN_SHARE_CHANGE and se > 0 and abs(change) / se >= NOISE_Z:
            node["s"] = 1
    for child in node["c"].values():
        _mark_significant(child, base_total, head_total)
