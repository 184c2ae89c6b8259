"""What the regression commands share: options, the sampling design they ask for, the
progress bar, and how a report or a bench summary is printed."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from kaizen_perf.errors import ConfigError
from kaizen_perf.regression import reports
from kaizen_perf.regression import results as results_io
from kaizen_perf.regression.evaluate import Outcome
from kaizen_perf.regression.model import QUICK, Design
from kaizen_perf.regression.runner import Tick
from kaizen_perf.regression.targets import Targets, load_targets

FORMATS = click.Choice(["text", "md", "json", "junit"])
MEASURES = ("auto", "wall", "cpu", "instructions")


def parse_gate(value: str | None) -> float | None:
    """``3%``, ``3`` or ``0.03`` → 0.03."""
    if value is None:
        return None
    raw = value.strip().rstrip("%")
    try:
        number = float(raw)
    except ValueError as exc:
        msg = f"--gate {value!r} is not a percentage; write it as 3% or 0.03."
        raise ConfigError(msg) from exc
    gate = number / 100 if value.strip().endswith("%") or number >= 1 else number
    if not 0 < gate < 1:
        msg = f"--gate {value!r} must be between 0 and 100 %."
        raise ConfigError(msg)
    return gate


def design_from(quick: bool, rounds: int | None, seed: int | None, suite: str,
                timeout: float) -> Design:
    """The sampling design the options ask for."""
    design = QUICK if quick else Design()
    changes: dict[str, Any] = {"suite": suite, "timeout_s": timeout,
                               "seed": int(time.time()) if seed is None else seed}
    if rounds is not None:
        changes["rounds"] = rounds
    return dataclasses.replace(design, **changes)


@contextlib.contextmanager
def progress_bar(enabled: bool) -> Iterator[Any]:
    """A rich progress bar on stderr fed by the runner's ticks (phases add up)."""
    if not enabled:
        yield lambda tick: None
        return
    phases: dict[int, tuple[int, int]] = {}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("benchmarks", total=None)

        def tick(t: Tick) -> None:
            phases[t.phase] = (t.done, t.total)
            bar.update(task, completed=sum(d for d, _ in phases.values()),
                       total=sum(n for _, n in phases.values()),
                       description=t.what[:40].ljust(40))

        yield tick


def emit(outcome: Outcome, fmt: str, out: Path | None, strict: bool,
         title: str = "kaizen-perf check") -> None:
    """Print (or write) the report in the requested format."""
    if fmt == "text":
        if out is None:
            console = Console()
            # Piped output (CI logs) gets a wide table instead of rich's 80-column default.
            reports.render_text(outcome, console if console.is_terminal else Console(width=160))
            return
        with out.open("w", encoding="utf-8") as fh:
            reports.render_text(outcome, Console(file=fh, width=160, no_color=True))
        return
    text = {"md": lambda: reports.render_markdown(outcome, title=title),
            "json": lambda: reports.render_json(outcome, strict=strict),
            "junit": lambda: reports.render_junit(outcome)}[fmt]()
    if out is None:
        click.echo(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")


def targets_of(project: Path, path: Path | None, gate: float | None) -> Targets:
    """The project's parity targets, with ``--gate`` applied."""
    targets = load_targets(project, path)
    return dataclasses.replace(targets, gate=gate) if gate is not None else targets


_common = [
    click.option("--suite", default="benchmarks", show_default=True,
                 help="Suite directory, relative to each project directory."),
    click.option("--bench", "patterns", multiple=True, help="Only benchmarks matching (glob)."),
    click.option("--quick", is_flag=True, help="Fewer worker pairs and a 60 s sampling "
                 "budget; start-up comes on top (minutes on a busy machine, docs/regression.md)."),
    click.option("--rounds", type=click.IntRange(1), default=None,
                 help="Worker pairs (rounds) to run; overrides the default 15."),
    click.option("--seed", type=int, default=None, help="Order seed (default: time)."),
    click.option("--targets", "targets_path", type=click.Path(path_type=Path), default=None,
                 help="Parity targets TOML (default: baselines/parity-targets.toml)."),
    click.option("--timeout", type=float, default=120.0, show_default=True,
                 help="Seconds a worker may take to answer one request."),
    click.option("--no-progress", is_flag=True, help="No progress bar."),
]


def common(fn: Any) -> Any:
    """Options shared by ``bench``, ``check``, ``baseline save`` and ``calibrate``."""
    for option in reversed(_common):
        fn = option(fn)
    return fn


#: one --measure for ``bench`` and ``check``: the same values, the same default
measure_option = click.option(
    "--measure", type=click.Choice(MEASURES), default="auto", show_default=True,
    help="What timed benchmarks measure: auto (declared, or chosen per benchmark), wall "
    "time, process CPU time or callgrind instruction counts (check; bench stores times, so "
    "it takes CPU time there).")


def interpreter(python: str | None, option: str) -> str | None:
    """An interpreter path from ``--python``-style options (checked to run), or None."""
    if python is None:
        return None
    found = shutil.which(python)
    if found is None:
        msg = (f"{option} {python!r} is not an executable interpreter. Pass the environment's "
               "python, e.g. .venv-kaizen-2.45/bin/python.")
        raise ConfigError(msg)
    return str(Path(found).absolute())


def write_html(outcome: Outcome, path: Path | None, title: str) -> None:
    """The HTML report, when ``--html`` asks for one."""
    if path is None:
        return
    from kaizen_perf.report.regression import render_check_html

    path.write_text(render_check_html(outcome, title=title), encoding="utf-8")
    click.echo(f"HTML report written to {path}", err=True)


def bench_summary(result: results_io.RunResult) -> None:
    """Each benchmark's median, and the measure its samples are in."""
    import numpy as np

    measures: dict[str, str] = {}
    for js in result.jobs:  # counts are not among the values (see RunResult.values)
        if js.job.measure != "instructions":
            measures.setdefault(js.job.x.bench, js.job.measure)
    for name, values in sorted(result.values("head").items()):
        info = result.info(name)
        unit = info.unit if info else "s"
        click.echo(f"{name:48} median {reports.quantity(float(np.median(values)), unit):>12}"
                   f"  n={len(values):<4} {measures.get(name, 'wall')}")
