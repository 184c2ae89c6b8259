"""Stack profiles: folded stacks, speedscope JSON and SVG flame graphs (no external tools)."""

from __future__ import annotations

from kaizen_perf.profiles.flamegraph import SvgStyle, render_svg, write_svg
from kaizen_perf.profiles.folded import (
    Frame,
    Profile,
    Stack,
    for_pid,
    group_by_pid,
    merge,
    parse_folded,
    parse_frame,
    process_names,
    read_folded,
    samples_by_pid,
    share,
    strip_lines,
    top_functions,
    write_folded,
)
from kaizen_perf.profiles.speedscope import to_speedscope, write_speedscope
from kaizen_perf.profiles.version import PROFILE_FORMAT_NAME, PROFILE_FORMAT_VERSION

__all__ = [
    "PROFILE_FORMAT_NAME",
    "PROFILE_FORMAT_VERSION",
    "Frame",
    "Profile",
    "Stack",
    "SvgStyle",
    "for_pid",
    "group_by_pid",
    "merge",
    "parse_folded",
    "parse_frame",
    "process_names",
    "read_folded",
    "render_svg",
    "samples_by_pid",
    "share",
    "strip_lines",
    "to_speedscope",
    "top_functions",
    "write_folded",
    "write_speedscope",
    "write_svg",
]
