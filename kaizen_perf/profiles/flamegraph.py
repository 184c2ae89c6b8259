"""A self-contained SVG flame graph in the style of Brendan Gregg's flamegraph.pl.

Roots at the bottom, one box per frame whose width is its share of the samples,
siblings in alphabetical order (as flamegraph.pl merges sorted stacks), the
"hot" palette chosen by a hash of the function name (so a function keeps its
colour between runs), process frames in blue, and a ``<title>`` tooltip per box
with the frame, its samples and its share. No script and no external tool: the
file opens in any browser. Line numbers are dropped so a function is one box.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from kaizen_perf._version import __version__
from kaizen_perf.profiles.folded import Profile, process_pid, strip_lines
from kaizen_perf.profiles.version import PROFILE_FORMAT_VERSION


@dataclass(frozen=True)
class SvgStyle:
    """Geometry of the picture (flamegraph.pl's defaults)."""

    width: int = 1200
    frame_height: int = 16
    font_size: float = 12.0
    font_width: float = 0.59
    min_width_px: float = 0.1
    pad_x: int = 10


@dataclass
class _Node:
    name: str
    value: int = 0
    children: dict[str, _Node] = field(default_factory=dict)


def _tree(profile: Profile) -> _Node:
    """The call tree under an ``all`` root."""
    root = _Node("all")
    for stack, count in profile.stacks.items():
        root.value += count
        node = root
        for frame in stack:
            node = node.children.setdefault(frame, _Node(frame))
            node.value += count
    return root


def _colour(name: str) -> str:
    """flamegraph.pl's "hot" palette (blue for processes, grey for ``all``), hashed by name."""
    if name == "all":
        return "rgb(200,200,200)"
    h = zlib.crc32(name.encode())
    v1, v2, v3 = (h & 0xFF) / 255, ((h >> 8) & 0xFF) / 255, ((h >> 16) & 0xFF) / 255
    if process_pid(name) is not None:
        return f"rgb({int(80 * v1)},{int(140 + 60 * v2)},{int(200 + 55 * v3)})"
    return f"rgb({205 + int(50 * v3)},{int(230 * v1)},{int(55 * v2)})"


def _label(name: str, width_px: float, style: SvgStyle) -> str:
    """The text that fits in a box (flamegraph.pl truncates with "..")."""
    fits = int((width_px - 6) / (style.font_size * style.font_width))
    if fits < 3:
        return ""
    return name if len(name) <= fits else name[: fits - 2] + ".."


def _box(node: _Node, x: float, y: float, width: float, total: int, style: SvgStyle) -> str:
    pct = 100.0 * node.value / total
    plural = "" if node.value == 1 else "s"
    title = escape(f"{node.name} ({node.value:,} sample{plural}, {pct:.2f}%)")
    text = escape(_label(node.name, width, style))
    return (f'<g><title>{title}</title><rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" '
            f'height="{style.frame_height - 1}" fill="{_colour(node.name)}" rx="2" ry="2"/>'
            f'<text x="{x + 3:.1f}" y="{y + style.frame_height - 4.5:.1f}">{text}</text></g>\n')


def _layout(root: _Node, style: SvgStyle) -> list[tuple[_Node, float, int, float]]:
    """``(node, x, depth, width)`` of every box wide enough to see, without recursion."""
    scale = (style.width - 2 * style.pad_x) / root.value
    out: list[tuple[_Node, float, int, float]] = []
    todo: list[tuple[_Node, float, int]] = [(root, float(style.pad_x), 0)]
    while todo:
        node, x, depth = todo.pop()
        width = node.value * scale
        if width < style.min_width_px:
            continue  # nor its children, which are narrower still
        out.append((node, x, depth, width))
        for name in sorted(node.children):
            child = node.children[name]
            todo.append((child, x, depth + 1))
            x += child.value * scale
    return out


def _header(st: SvgStyle, height: int, title: str, subtitle: str, samples: int) -> str:
    css = (f"text {{ font-family: Verdana, sans-serif; font-size: {st.font_size}px; "
           "fill: rgb(0,0,0); } .title { font-size: 17px; text-anchor: middle; } "
           ".subtitle { text-anchor: middle; fill: rgb(80,80,80); }")
    head = (f'<?xml version="1.0" standalone="no"?>\n'
            f'<svg version="1.1" width="{st.width}" height="{height}" '
            f'viewBox="0 0 {st.width} {height}" xmlns="http://www.w3.org/2000/svg" '
            f'data-kaizen-profile-format="{PROFILE_FORMAT_VERSION}">\n'
            f'<!-- kaizen-perf {escape(__version__)} flame graph, profile format '
            f'{PROFILE_FORMAT_VERSION}; {samples} samples -->\n'
            '<defs><linearGradient id="background" y1="0" y2="1" x1="0" x2="0">'
            '<stop stop-color="#eeeeee" offset="5%"/><stop stop-color="#eeeeb0" offset="95%"/>'
            f'</linearGradient></defs>\n<style>{css}</style>\n'
            '<rect width="100%" height="100%" fill="url(#background)"/>\n'
            f'<text class="title" x="{st.width / 2}" y="{st.font_size * 2}">'
            f'{escape(title)}</text>\n')
    if subtitle:
        head += (f'<text class="subtitle" x="{st.width / 2}" y="{st.font_size * 3.5}">'
                 f'{escape(subtitle)}</text>\n')
    return head


def render_svg(profile: Profile, *, title: str = "Flame Graph", subtitle: str = "",
               style: SvgStyle | None = None) -> str:
    """The SVG document of ``profile``."""
    st = style or SvgStyle()
    root = _tree(strip_lines(profile))
    boxes = _layout(root, st) if root.value else []
    depth = 1 + max((d for _, _, d, _ in boxes), default=0)
    top = st.font_size * 3 + (st.font_size * 1.5 if subtitle else 0)
    height = int(top + depth * st.frame_height + st.font_size * 2 + 10)
    head = _header(st, height, title, subtitle, root.value)
    if not boxes:
        return head + f'<text x="{st.pad_x}" y="{top + st.font_size}">No samples.</text>\n</svg>\n'
    base_y = top + (depth - 1) * st.frame_height
    body = [_box(node, x, base_y - d * st.frame_height, w, root.value, st)
            for node, x, d, w in boxes]
    return head + "".join(body) + "</svg>\n"


def write_svg(profile: Profile, path: Path, *, title: str = "Flame Graph",
              subtitle: str = "", style: SvgStyle | None = None) -> Path:
    """Write the flame graph of ``profile`` to ``path`` atomically."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render_svg(profile, title=title, subtitle=subtitle, style=style),
                   encoding="utf-8")
    os.replace(tmp, path)
    return path
