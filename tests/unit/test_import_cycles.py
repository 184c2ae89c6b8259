"""No import cycle among kaizen_perf's runtime imports.

The graph is read from the source with ``ast`` (nothing is imported): every
``import``/``from … import`` of a kaizen_perf module, at module level and inside
functions (a lazy import is still a dependency a reader must hold in their head),
but not those under ``if TYPE_CHECKING:``, which never run; and
``importlib.import_module("kaizen_perf....")`` with a literal name, which hides an
import from a reader no less. ``from pkg import name`` points at the submodule
``pkg.name`` when there is one, else at ``pkg`` itself.
A failure names one cycle of each strongly connected group of modules.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import kaizen_perf

ROOT = Path(kaizen_perf.__file__).resolve().parent
PACKAGE = "kaizen_perf"


def _module_names() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    out: dict[str, Path] = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _literal_import(node: ast.AST) -> ast.Import | None:
    """``importlib.import_module("kaizen_perf.x")`` as the ``import kaizen_perf.x`` it is."""
    if not isinstance(node, ast.Call) or not node.args:
        return None
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    arg = node.args[0]
    if name != "import_module" or not isinstance(arg, ast.Constant) \
            or not isinstance(arg.value, str):
        return None
    return ast.Import(names=[ast.alias(name=arg.value)])


def _runtime_imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements that can run: everything except the body of ``if TYPE_CHECKING``."""
    if isinstance(node, ast.If) and _is_type_checking(node.test):
        for branch in node.orelse:
            yield from _runtime_imports(branch)
        return
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    dynamic = _literal_import(node)
    if dynamic is not None:
        yield dynamic
    for child in ast.iter_child_nodes(node):
        yield from _runtime_imports(child)


def _targets(stmt: ast.Import | ast.ImportFrom, here: str, is_pkg: bool,
             modules: dict[str, Path]) -> set[str]:
    """The kaizen_perf modules one import statement loads (by their dotted names)."""
    if isinstance(stmt, ast.Import):
        return {a.name for a in stmt.names if a.name in modules}
    base = stmt.module or ""
    if stmt.level:  # relative: resolve against this module's package
        pkg = here.split(".") if is_pkg else here.split(".")[:-1]
        pkg = pkg[:len(pkg) - stmt.level + 1]
        base = ".".join(pkg + ([base] if base else []))
    if base.split(".")[0] != PACKAGE:
        return set()
    out = set()
    for alias in stmt.names:
        sub = f"{base}.{alias.name}"
        out.add(sub if sub in modules else base)
    return {m for m in out if m in modules}


def import_graph() -> dict[str, set[str]]:
    """Module -> the kaizen_perf modules it imports at runtime."""
    modules = _module_names()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_pkg = path.name == "__init__.py"
        edges: set[str] = set()
        for stmt in _runtime_imports(tree):
            edges |= _targets(stmt, name, is_pkg, modules)
        edges.discard(name)
        graph[name] = edges
    return graph


def _components(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return sorted(groups)


def _one_cycle(graph: dict[str, set[str]], group: list[str]) -> list[str]:
    """A shortest cycle through the group's first module (breadth-first inside the group)."""
    members, start = set(group), group[0]
    parent: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for child in sorted(graph[node] & members):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if child not in parent:
                    parent[child] = node
                    nxt.append(child)
        frontier = nxt
    return group  # unreachable for a strongly connected group


def cycles() -> list[str]:
    """One readable cycle per strongly connected group, e.g. ``a -> b -> a``."""
    graph = import_graph()
    return [" -> ".join(_one_cycle(graph, g)) for g in _components(graph)]


def test_the_graph_sees_lazy_imports_and_skips_type_checking_ones(tmp_path: Path) -> None:
    """Function-level and literal import_module imports are edges; TYPE_CHECKING ones are not."""
    src = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import kaizen_perf.monitor\n"
           "else:\n    import kaizen_perf.events\n"
           "def f():\n    from kaizen_perf import errors\n    from . import config\n"
           "    importlib.import_module('kaizen_perf.doctor')\n")
    stmts = list(_runtime_imports(ast.parse(src)))
    modules = _module_names()
    found = set().union(*(_targets(s, "kaizen_perf.x", False, modules) for s in stmts))
    assert found == {"kaizen_perf.events", "kaizen_perf.errors", "kaizen_perf.config",
                     "kaizen_perf.doctor"}


def test_a_cycle_is_found_and_named() -> None:
    """A three-module loop is reported as one cycle that starts and ends at the same module."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    groups = _components(graph)
    assert groups == [["a", "b", "c"]]
    assert _one_cycle(graph, groups[0]) == ["a", "b", "c", "a"]


def test_no_import_cycle_among_runtime_imports() -> None:
    """kaizen_perf's modules import each other without a cycle (lazy imports included)."""
    found = cycles()
    assert not found, "import cycles:\n  " + "\n  ".join(found)
