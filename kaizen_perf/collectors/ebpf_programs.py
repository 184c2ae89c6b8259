"""The bpftrace programs of ``profilers/`` and their assembly into one streaming program.

Each ``profilers/*.bt`` file runs by hand (``bpftrace profilers/offcpu.bt PID``) and is
cut into sections by ``// @kaizen <name>`` marker lines:

``track``    the shared preamble: seed PIDs and follow forks (identical in every file);
``seed``     inside ``track``: the BEGIN lines that read PIDs from ``$1``…``$8``;
``probes``   the program's own probes;
``print``    inside the interval probe: print and clear this window's maps;
``cleanup``  inside END: clear the per-thread state maps so nothing is auto-printed.

:func:`assemble` joins the chosen programs into ONE program: one preamble seeded with
every PID, every program's probes, one interval probe printing all windows followed by
the ``@kaizen_window`` marker, and one END doing the same before the cleanups.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kaizen_perf.errors import ConfigError

#: The default program set (``--ebpf``); ``syscalls_all`` only runs time-boxed.
DEFAULT_PROGRAMS = ("offcpu", "blockio", "tcp", "faults", "syscalls")
ALL_SYSCALLS = "syscalls_all"
TRACEFS_EVENTS = ("/sys/kernel/tracing/events", "/sys/kernel/debug/tracing/events")
_MARK = re.compile(r"^\s*// @kaizen (\S+)\s*$")
_TRACEPOINT = re.compile(r"tracepoint:(\w+):(\w+)")


@dataclass(frozen=True)
class Program:
    """One parsed ``.bt`` file."""

    name: str
    track: str
    probes: str
    print_: str
    cleanup: str


def profilers_dir() -> Path:
    """Where the ``.bt`` files are: in the wheel (``kaizen_perf/_profilers``) or the checkout."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "_profilers", package.parent / "profilers"):
        if candidate.is_dir():
            return candidate
    msg = (f"The eBPF programs are missing: neither {package / '_profilers'} nor "
           f"{package.parent / 'profilers'} exists. Reinstall kaizen-perf.")
    raise ConfigError(msg)


def _sections(text: str) -> dict[str, list[str]]:
    """Lines of each marked section (first occurrence); a section ends at the next marker."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        match = _MARK.match(line)
        if match:
            name = match.group(1)
            current = None if name.endswith("-end") or name in found else found.setdefault(
                name, [])
            continue
        if current is not None:
            current.append(line)
    return found


def parse(name: str, text: str) -> Program:
    """Cut one program into its sections; a ConfigError names a missing marker."""
    parts = _sections(text)
    missing = [s for s in ("track", "probes", "print", "cleanup") if s not in parts]
    if missing:
        msg = (f"profilers/{name}.bt lacks the marker(s) {', '.join(missing)}: expected "
               "'// @kaizen track', 'probes', 'print' and 'cleanup' sections (docs/ebpf.md).")
        raise ConfigError(msg)
    # The track section ends where "probes" starts; "seed" is nested in it.
    track = text.split("// @kaizen track", 1)[1].split("// @kaizen probes", 1)[0]
    return Program(name, track.strip("\n"), "\n".join(parts["probes"]).strip("\n"),
                   "\n".join(parts["print"]), "\n".join(parts["cleanup"]))


def load(name: str, directory: Path | None = None) -> Program:
    """Read and parse ``profilers/NAME.bt``."""
    path = (directory or profilers_dir()) / f"{name}.bt"
    try:
        return parse(name, path.read_text())
    except OSError as exc:
        msg = f"Cannot read the eBPF program {path}: {exc.strerror}. Reinstall kaizen-perf."
        raise ConfigError(msg) from None


def _seeded(track: str, pids: Sequence[int]) -> str:
    """The preamble with its positional-parameter seed replaced by the given PIDs."""
    lines = "\n".join(f"\t@kaizen_track[{int(p)}] = 1;" for p in pids)
    return re.sub(r"// @kaizen seed\n.*?// @kaizen seed-end", lines, track, flags=re.S)


def tracepoint_exists(category: str, name: str) -> bool:
    """True when the kernel has ``tracepoint:CATEGORY:NAME`` (looked up in tracefs)."""
    return any(os.path.isdir(os.path.join(base, category, name)) for base in TRACEFS_EVENTS)


def _compatible(probes: str, exists: Callable[[str, str], bool]) -> str:
    # block_io_start (kernel 6.5+) runs in the submitter's context; block_rq_insert does
    # too for requests that go through an I/O scheduler, which is the best older kernels offer.
    if "tracepoint:block:block_io_start" in probes and not exists("block", "block_io_start"):
        probes = probes.replace("tracepoint:block:block_io_start",
                                "tracepoint:block:block_rq_insert")
    return probes


def assemble(programs: Sequence[Program], pids: Sequence[int], *, window_s: int = 5,
             exit_after_s: int | None = None,
             exists: Callable[[str, str], bool] = tracepoint_exists) -> str:
    """One bpftrace program tracing ``pids`` (and their future children) with ``programs``."""
    if not programs or not pids:
        msg = "assemble() needs at least one program and one PID to trace."
        raise ConfigError(msg)
    prints = "\n".join(p.print_ for p in programs)
    marker = "\t@kaizen_window = count();\n\tprint(@kaizen_window);"
    parts = [f"// kaizen-perf: {', '.join(p.name for p in programs)} for PIDs "
             f"{' '.join(map(str, pids))}", _seeded(programs[0].track, pids)]
    parts += [_compatible(p.probes, exists) for p in programs]
    parts.append(f"interval:s:{int(window_s)}\n{{\n{prints}\n{marker}\n}}")
    if exit_after_s is not None:
        parts.append(f"interval:s:{int(exit_after_s)}\n{{\n\texit();\n}}")
    cleanups = "\n".join(p.cleanup for p in programs)
    parts.append(f"END\n{{\n{prints}\n{marker}\n{cleanups}\n"
                 "\tclear(@kaizen_window);\n\tclear(@kaizen_track);\n}")
    return "\n\n".join(parts) + "\n"
