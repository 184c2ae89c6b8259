"""Flame-graph trees from folded stacks, for the report's interactive flame graph.

A tree node is ``{"n": name, "v": samples, "c": [children]}`` (and ``"d"``, the
sample difference, in a differential tree). Nodes below ``min_fraction`` of the
root are folded into their parent so a 30-hour profile stays a few hundred KB.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

Node = dict[str, Any]


def parse_folded(lines: Iterable[str]) -> Iterator[tuple[list[str], int]]:
    """``(frames, count)`` for each ``frame;frame;… COUNT`` line; malformed lines are skipped."""
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if stack and count.isdigit():
            yield stack.split(";"), int(count)


def read_folded(path: Path) -> list[tuple[list[str], int]]:
    """All stacks of a folded file (empty when the file does not exist)."""
    if not path.exists():
        return []
    with path.open(encoding="utf-8", errors="replace") as fh:
        return list(parse_folded(fh))


def build_tree(stacks: Iterable[tuple[list[str], int]], root: str = "all") -> Node:
    """Merge stacks into one tree of sample counts."""
    tree: Node = {"n": root, "v": 0, "c": {}}
    for frames, count in stacks:
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
    return out


def diff_tree(base: Iterable[tuple[list[str], int]],
              head: Iterable[tuple[list[str], int]]) -> Node:
    """A tree sized by the head profile, with ``d`` = head share − base share per frame (in
    head samples), so functions that gained time are positive and those that lost are negative."""
    base_list, head_list = list(base), list(head)
    base_total = sum(c for _, c in base_list) or 1
    head_total = sum(c for _, c in head_list) or 1
    scale = head_total / base_total
    tree: Node = {"n": "all", "v": 0, "d": 0.0, "c": {}}
    for frames, count, sign in ([(f, c, -scale) for f, c in base_list]
                                + [(f, c, 1.0) for f, c in head_list]):
        node = tree
        for frame in frames:
            child = node["c"].get(frame)
            if child is None:
                child = node["c"][frame] = {"n": frame, "v": 0, "d": 0.0, "c": {}}
            node = child
            if sign > 0:
                node["v"] += count
            node["d"] += count * sign
        if sign > 0:
            tree["v"] += count
    return _finish(tree, max(1, tree["v"]) * 0.001)


def top_frames(stacks: Iterable[tuple[list[str], int]], n: int = 10) -> list[tuple[str, int]]:
    """Functions by self samples (the leaf frame), most first."""
    counts: dict[str, int] = {}
    for frames, count in stacks:
        if frames:
            counts[frames[-1]] = counts.get(frames[-1], 0) + count
    return sorted(counts.items(), key=lambda kv: -kv[1])[:n]
