"""The version of kaizen-perf's profile outputs (bump when a reader would need to change)."""

from __future__ import annotations

#: Carried by ``profile.json`` (``version``), the speedscope ``exporter`` field and the
#: SVG root (``data-kaizen-profile-format``). Folded files are plain flamegraph.pl
#: input and carry no header, so their version is the one of the ``profile.json`` beside them.
PROFILE_FORMAT_VERSION = 1

#: ``format`` field of ``profile.json``.
PROFILE_FORMAT_NAME = "kaizen-perf-profile"
