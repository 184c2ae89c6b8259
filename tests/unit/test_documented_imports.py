"""Every ``kaizen_perf`` import path the user documentation names keeps working.

The docs (``docs/*.md`` and ``README.md``) are read for dotted paths such as
``kaizen_perf.tracing.child_env`` and for ``from kaizen_perf.x import a, b`` lines;
each path must import (a module), or be an attribute of the longest module prefix that
imports (a function, a class, a constant). Moving a module into a package keeps its
documented path only when the package re-exports what was public.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_DOTTED = re.compile(r"\bkaizen_perf(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
_FROM = re.compile(r"from (kaizen_perf(?:\.[A-Za-z_][A-Za-z0-9_]*)*) import ([A-Za-z_][\w, ()]*)")


def documented_paths() -> list[str]:
    """Every dotted ``kaizen_perf`` path the user documentation mentions, sorted."""
    found: set[str] = set()
    for doc in [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]:
        text = doc.read_text(encoding="utf-8")
        found.update(_DOTTED.findall(text))
        for module, names in _FROM.findall(text):
            for name in names.replace("(", " ").replace(")", " ").split(","):
                name = name.split(" as ")[0].strip()
                if name.isidentifier():
                    found.add(f"{module}.{name}")
    return sorted(found)


def resolve(path: str) -> object:
    """The module or object a dotted path names (ImportError/AttributeError if none)."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(path)


def test_the_docs_name_the_paths_this_test_checks() -> None:
    """The scan finds the paths the guides teach (a broken scan would check nothing)."""
    paths = documented_paths()
    assert {"kaizen_perf.tracing.child_env", "kaizen_perf.metrics.METRICS",
            "kaizen_perf.reserve.worst_case_pico", "kaizen_perf.testing.capture_events"} <= set(
        paths)


@pytest.mark.parametrize("path", documented_paths())
def test_a_documented_path_imports(path: str) -> None:
    """A path the documentation names resolves to a module or an object."""
    assert resolve(path) is not None
