"""ADR-013, specialists: Kaizen's ``SpecialistLoader``/``SpecialistRegistry`` and the
KAIZEN.md context file.

kailash-kaizen has no specialist invocation of its own (``TaskTool`` needs the
``LocalKaizenAdapter`` of the separate kaizen-agents package), so the
invocation row is NOT_RUN in the targets file. For KAIZEN.md, Kaizen loads the
file (``load_context_file``); the prompt it is injected into is built by the
caller, so the benchmark loads it and joins it to a system prompt.
"""

from __future__ import annotations

import tracemalloc

from kaizen.core.kaizen_options import KaizenOptions
from kaizen.core.specialist_types import SpecialistDefinition
from kaizen.runtime.specialist_loader import SpecialistLoader
from kaizen.runtime.specialist_registry import SpecialistRegistry

from benchmarks.parity._support import cpu_time, scratch
from kaizen_perf.regression import benchmark

PROGRAMMATIC, FILESYSTEM = 100, 50
CONTEXT_BYTES = 100 * 1024
BASE_PROMPT = "You are a careful engineering assistant for this repository."
SPECIALIST_FILE = """# Specialist {i}
**Description**: Reviews changes in area {i} of the codebase
**System Prompt**: You are specialist {i}. Review the diff for correctness, naming and
tests; answer with a list of findings, most important first.
**Available Tools**: Read, Glob, Grep
**Model**: gpt-4o-mini
**Temperature**: 0.2
"""
_DEFINITIONS = {
    f"specialist-{i}": SpecialistDefinition(
        description=f"Reviews changes in area {i}", system_prompt=BASE_PROMPT,
        available_tools=["Read", "Glob", "Grep"], model="gpt-4o-mini", temperature=0.2)
    for i in range(PROGRAMMATIC)}


def _project() -> str:
    """A project with 50 specialist files and a 100 KB KAIZEN.md (made once per worker)."""
    root = scratch("project")
    folder = root / ".kaizen" / "specialists"
    if not folder.is_dir():
        folder.mkdir(parents=True)
        for i in range(FILESYSTEM):
            (folder / f"specialist-{i}.md").write_text(SPECIALIST_FILE.format(i=i))
        line = "- Convention: keep modules small and typed; tests wait on readiness.\n"
        text = "# Project context\n" + line * (CONTEXT_BYTES // len(line) + 1)
        (root / ".kaizen" / "KAIZEN.md").write_text(text[:CONTEXT_BYTES])
    return str(root)


def _fs_loader() -> SpecialistLoader:
    return SpecialistLoader(KaizenOptions(setting_sources=["project"], cwd=_project()))


@cpu_time
@benchmark(ops=PROGRAMMATIC, pairs_per_round=1)
def bench_programmatic_registration() -> None:
    """``load_specialists`` of 100 programmatic specialists (per specialist)."""
    registry = SpecialistLoader(KaizenOptions(specialists=_DEFINITIONS)).load_specialists()
    assert len(registry) == PROGRAMMATIC


@cpu_time
@benchmark(setup=_project, pairs_per_round=1)
def bench_filesystem_loading() -> None:
    """``load_specialists`` from 50 markdown files in ``.kaizen/specialists`` (total)."""
    registry = _fs_loader().load_specialists()
    assert len(registry) == FILESYSTEM, len(registry)


@cpu_time
@benchmark(setup=_project, pairs_per_round=1)
def bench_kaizen_md_injection() -> None:
    """``load_context_file`` of a 100 KB KAIZEN.md and its join to a system prompt."""
    context = _fs_loader().load_context_file()
    assert context is not None
    prompt = f"{BASE_PROMPT}\n\n# Project context ({context.path})\n{context.content}"
    assert len(prompt) > CONTEXT_BYTES


def _traced(build: object) -> int:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = build()  # type: ignore[operator]
        size = tracemalloc.get_traced_memory()[0] - before
        del kept
    finally:
        tracemalloc.stop()
    return size


@benchmark(unit="bytes")
def bench_memory_programmatic() -> float:
    """tracemalloc bytes per programmatic specialist: 100 definitions made and registered
    (their prompt text is one shared string, so this is Kaizen's own cost)."""
    def build() -> SpecialistRegistry:
        registry = SpecialistRegistry()
        for i in range(PROGRAMMATIC):
            registry.register(f"specialist-{i}", SpecialistDefinition(
                description=f"Reviews changes in area {i}", system_prompt=BASE_PROMPT,
                available_tools=["Read", "Glob", "Grep"], model="gpt-4o-mini",
                temperature=0.2))
        return registry

    return _traced(build) / PROGRAMMATIC


@benchmark(unit="bytes", setup=_project)
def bench_memory_filesystem() -> float:
    """tracemalloc bytes per specialist loaded from a file (50 files; includes the
    prompt and path strings read from disk)."""
    return _traced(lambda: _fs_loader().load_specialists()) / FILESYSTEM
