"""Folded stacks, speedscope JSON and SVG flame graphs from known profiles."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from kaizen_perf.profiles import (
    Profile,
    for_pid,
    group_by_pid,
    merge,
    parse_folded,
    parse_frame,
    process_names,
    read_folded,
    render_svg,
    samples_by_pid,
    share,
    to_speedscope,
    top_functions,
    write_folded,
    write_speedscope,
    write_svg,
)

P1 = 'process 10:"python agent.py"'
P2 = 'process 11:"python worker.py"'
# What py-spy --subprocesses writes: the child's stacks start with its parent's frame.
FOLDED = f"""\
{P1};<module> (agent.py:9);plan (agent.py:4) 30
{P1};<module> (agent.py:9);plan (agent.py:5) 10
{P1};<module> (agent.py:9);search (tools.py:12) 20
{P1};{P2};<module> (worker.py:3);crunch (worker.py:7) 40
this line is malformed
"""
SVG = "{http://www.w3.org/2000/svg}"


def _profile() -> Profile:
    return Profile(dict(parse_folded(FOLDED.splitlines())))


def test_parse_skips_malformed_and_keeps_counts() -> None:
    """Every well-formed line is read with its count; a malformed line is skipped."""
    prof = _profile()
    assert prof.samples == 100 and len(prof.stacks) == 4


def test_frame_parts() -> None:
    """A frame splits into name, file and line; the function drops the line number."""
    frame = parse_frame("plan (agent.py:4)")
    assert (frame.name, frame.file, frame.line, frame.function) == (
        "plan", "agent.py", 4, "plan (agent.py)")
    assert parse_frame(P1).function == P1


def test_top_functions_self_and_inclusive() -> None:
    """Top functions count leaf samples (lines merged); inclusive counts each stack once."""
    prof = _profile()
    assert top_functions(prof, 2) == [("crunch (worker.py)", 40), ("plan (agent.py)", 40)]
    assert top_functions(prof, 1, inclusive=True) == [("<module> (agent.py)", 60)]
    assert share(prof, "search") == 0.2 and share(prof, "<module>", inclusive=False) == 0


def test_samples_attributed_to_innermost_process() -> None:
    """A child's samples count for the child's PID, not its parent's."""
    prof = _profile()
    assert samples_by_pid(prof) == {10: 60, 11: 40}
    assert process_names(prof) == {10: "python agent.py", 11: "python worker.py"}


def test_for_pid_reroots_at_own_process_frame() -> None:
    """A PID's profile holds only its stacks, starting at its own process frame."""
    child = for_pid(_profile(), 11)
    assert child.stacks == {(P2, "<module> (worker.py:3)", "crunch (worker.py:7)"): 40}
    assert for_pid(_profile(), 11, reroot=False).samples == 40


def test_group_by_agent_keeps_all_samples() -> None:
    """Grouping by a PID → agent mapping splits the samples without losing any."""
    groups = group_by_pid(_profile(), lambda pid: "worker" if pid == 11 else "planner")
    assert {k: v.samples for k, v in groups.items()} == {"planner": 60, "worker": 40}


def test_merge_adds_and_round_trips(tmp_path: Path) -> None:
    """Merging adds counts per stack; a written folded file reads back identical."""
    prof = _profile()
    merged = merge([prof.stacks, prof.stacks])
    assert merged.samples == 200
    path = write_folded(merged, tmp_path / "p.folded")
    assert read_folded(path) == merged


def test_speedscope_document_basics(tmp_path: Path) -> None:
    """The speedscope file has $schema, shared frames and sampled profiles whose indexes resolve."""
    doc = json.loads(write_speedscope(_profile(), tmp_path / "p.json").read_text())
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    assert "profile format 1" in doc["exporter"]
    frames = doc["shared"]["frames"]
    assert all(isinstance(f["name"], str) for f in frames)
    assert {"name": "plan", "file": "agent.py", "line": 4} in frames
    assert [p["name"].rsplit("(", 1)[1] for p in doc["profiles"]] == [
        "all processes)", "PID 10)", "PID 11)"]
    for prof in doc["profiles"]:
        assert prof["type"] == "sampled" and prof["unit"] == "none"
        assert len(prof["samples"]) == len(prof["weights"])
        assert prof["endValue"] - prof["startValue"] == sum(prof["weights"])
        assert all(0 <= i < len(frames) for stack in prof["samples"] for i in stack)
    assert sum(doc["profiles"][0]["weights"]) == 100


def test_speedscope_single_process_has_one_profile() -> None:
    """Stacks without process frames give one profile."""
    doc = to_speedscope(Profile({("main (a.py:1)", "f (a.py:2)"): 3}))
    assert len(doc["profiles"]) == 1 and doc["profiles"][0]["weights"] == [3]


def test_svg_is_well_formed_with_titles_and_names(tmp_path: Path) -> None:
    """The SVG parses as XML, has the title, one tooltip per box and the hot function names."""
    path = write_svg(_profile(), tmp_path / "f.svg", title="Agent <run> & co")
    root = ET.parse(path).getroot()
    assert root.get("data-kaizen-profile-format") == "1"
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "Agent <run> & co" in texts
    titles = [t.text or "" for t in root.iter(f"{SVG}title")]
    assert "crunch (worker.py) (40 samples, 40.00%)" in titles
    assert "plan (agent.py) (40 samples, 40.00%)" in titles  # two lines, one box
    assert titles[0] == "all (100 samples, 100.00%)"
    groups = list(root.iter(f"{SVG}g"))
    assert len(groups) == len(titles) == len(list(root.iter(f"{SVG}rect"))) - 1
    fills = {r.get("fill") for r in root.iter(f"{SVG}rect")}
    assert len(fills) > 3  # coloured per function


def test_svg_box_widths_follow_samples() -> None:
    """A frame with twice the samples is drawn twice as wide."""
    root = ET.fromstring(render_svg(_profile()))
    width = {g.findtext(f"{SVG}title", "").split(" (")[0]:
             float(next(g.iter(f"{SVG}rect")).get("width", "0")) for g in root.iter(f"{SVG}g")}
    assert abs(width["crunch"] / width["search"] - 2.0) < 0.01


def test_svg_of_empty_profile_says_no_samples() -> None:
    """An empty profile still gives a valid SVG that says there are no samples."""
    root = ET.fromstring(render_svg(Profile()))
    assert "No samples." in [t.text for t in root.iter(f"{SVG}text")]


def test_svg_handles_very_deep_stacks() -> None:
    """A 5,000-frame stack renders (no recursion limit) and tiny frames are left out."""
    deep = tuple(f"f{i} (deep.py:{i})" for i in range(5000))
    svg = render_svg(Profile({deep: 1, ("other (x.py:1)",): 100000}))
    root = ET.fromstring(svg)
    assert "other (x.py)" in svg and "f4999" not in svg
    assert int(root.get("height", "0")) < 200  # sized by the frames drawn, not the deepest
