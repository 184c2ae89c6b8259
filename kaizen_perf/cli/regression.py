"""Regression engine commands: ``bench``, ``check``, ``baseline``, ``calibrate``."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from kaizen_perf.errors import ConfigError
from kaizen_perf.regression import history, reports, sequential
from kaizen_perf.regression import results as results_io
from kaizen_perf.regression.compare import run_bench, run_check
from kaizen_perf.regression.evaluate import Outcome, evaluate_against
from kaizen_perf.regression.gitrefs import commit_of, resolve_side
from kaizen_perf.regression.model import QUICK, Design, Side
from kaizen_perf.regression.runner import Tick
from kaizen_perf.regression.targets import Targets, load_targets

FORMATS = click.Choice(["text", "md", "json", "junit"])


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


def _targets(project: Path, path: Path | None, gate: float | None) -> Targets:
    targets = load_targets(project, path)
    return dataclasses.replace(targets, gate=gate) if gate is not None else targets


_common = [
    click.option("--suite", default="benchmarks", show_default=True,
                 help="Suite directory, relative to each project directory."),
    click.option("--bench", "patterns", multiple=True, help="Only benchmarks matching (glob)."),
    click.option("--quick", is_flag=True, help="Fewer worker pairs (about a minute)."),
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
    """Options shared by ``bench`` and ``check``."""
    for option in reversed(_common):
        fn = option(fn)
    return fn


@click.command("bench")
@common
@click.option("--project", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Project directory (put first on the workers' PYTHONPATH).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Results JSON (default: .kaizen/bench/results-<time>.json).")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the --format report here instead of stdout.")
@click.option("--python", "python", default=None,
              help="Interpreter (environment) the workers run, e.g. a venv's bin/python.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also write an HTML report.")
def bench_cmd(suite: str, patterns: tuple[str, ...], quick: bool, rounds: int | None,
              seed: int | None, targets_path: Path | None, timeout: float, no_progress: bool,
              project: Path, out: Path | None, fmt: str, report_path: Path | None,
              python: str | None, html_path: Path | None) -> int:
    """Run a benchmark suite and write every raw sample to a versioned results JSON."""
    design = design_from(quick, rounds, seed, suite, timeout)
    side = Side("head", project.resolve(), None, commit_of(project),
                interpreter(python, "--python"))
    targets = _targets(project, targets_path, None)
    with progress_bar(not no_progress) as tick:
        result, outcome = run_bench(side, design, targets, patterns=patterns, progress=tick)
    out = out or Path(".kaizen/bench") / f"results-{time.strftime('%Y%m%d-%H%M%S')}.json"
    results_io.save(result, out)
    click.echo(f"{len(result.jobs)} benchmarks in {result.duration_s:.0f} s; results: {out}",
               err=True)
    if fmt == "text" and report_path is None:
        _bench_summary(result)
    emit(outcome, fmt, report_path, False, "kaizen-perf bench")
    _html(outcome, html_path, "kaizen-perf bench")
    return outcome.exit_code()


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


def _html(outcome: Outcome, path: Path | None, title: str) -> None:
    if path is None:
        return
    from kaizen_perf.report.regression import render_check_html

    path.write_text(render_check_html(outcome, title=title), encoding="utf-8")
    click.echo(f"HTML report written to {path}", err=True)


def _bench_summary(result: results_io.RunResult) -> None:
    import numpy as np

    for name, values in sorted(result.values("head").items()):
        info = result.info(name)
        unit = info.unit if info else "s"
        click.echo(f"{name:48} median {reports.quantity(float(np.median(values)), unit):>12}"
                   f"  n={len(values)}")


@click.command("check")
@common
@click.option("--base", default=None, help="Baseline: a git ref or a project directory.")
@click.option("--head", default=".", show_default=True,
              help="Candidate: a git ref or a project directory.")
@click.option("--against", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Compare with a stored results (or pytest-benchmark) JSON: low confidence.")
@click.option("--gate", default=None, help="Practical gate, e.g. 3% (default from targets).")
@click.option("--strict", is_flag=True, help="Exit 4 when a verdict stays inconclusive.")
@click.option("--budget", default=None,
              help="Time budget for the whole check, e.g. 180s or 3m (default 165 s, "
              "--quick 60 s; 0: none). Sampling stops before a round that would not fit.")
@click.option("--measure", type=click.Choice(["auto", "wall", "cpu", "instructions"]),
              default="auto", show_default=True,
              help="What timed benchmarks measure: auto (declared, or chosen per benchmark), "
              "wall time, process CPU time or callgrind instruction counts.")
@click.option("--max-rounds", type=click.IntRange(1), default=None,
              help="Most worker pairs for an undecided benchmark (default 40, --quick 16).")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report here instead of stdout.")
@click.option("--results", "results_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also write the raw results JSON here.")
@click.option("--history", "history_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Append the ratios to this history file (main-branch runs).")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also write an HTML report (ratios with CIs as a chart).")
@click.option("--base-python", default=None,
              help="Interpreter (environment) of the baseline's workers, e.g. a venv with the "
              "old Kaizen release. Without --base, both sides run the --head project.")
@click.option("--head-python", default=None,
              help="Interpreter (environment) of the candidate's workers.")
def check_cmd(suite: str, patterns: tuple[str, ...], quick: bool, rounds: int | None,
              seed: int | None, targets_path: Path | None, timeout: float, no_progress: bool,
              base: str | None, head: str, against: Path | None, gate: str | None,
              strict: bool, fmt: str, out: Path | None, results_path: Path | None,
              history_path: Path | None, html_path: Path | None, base_python: str | None,
              head_python: str | None, budget: str | None = None, measure: str = "auto",
              max_rounds: int | None = None) -> int:
    """Compare a candidate with a baseline: interleaved pairs in one job, gated verdicts.

    The two sides may be two checkouts (--base/--head) or two environments of the
    same project (--base-python/--head-python: e.g. two Kaizen releases), or both.
    """
    if base is None and against is None and base_python is not None:
        base = head  # two environments, one project
    if (base is None) == (against is None):
        msg = ("Pass exactly one of --base REF|DIR (paired, recommended), --base-python PATH "
               "(the same project under another environment) or --against FILE.")
        raise ConfigError(msg)
    if against is not None and base_python is not None:
        raise ConfigError("--base-python compares two live environments; it cannot be used "
                          "with --against (a stored run has no interpreter to start).")
    started = time.monotonic() - sequential.process_age()  # "check took" counts start-up
    base_py = interpreter(base_python, "--base-python")
    head_py = interpreter(head_python, "--head-python")
    design = sequential.with_options(design_from(quick, rounds, seed, suite, timeout),
                                     budget=budget, measure=measure, max_rounds=max_rounds)
    repo = Path.cwd()
    with contextlib.ExitStack() as stack:
        head_side = dataclasses.replace(stack.enter_context(resolve_side("head", head, repo)),
                                        python=head_py)
        targets = _targets(head_side.path, targets_path, parse_gate(gate))
        tick = stack.enter_context(progress_bar(not no_progress))
        if against is not None:
            stored = results_io.load(against)
            result, _ = run_bench(head_side, design, targets, patterns=patterns,
                                  progress=tick)
            outcome = evaluate_against(stored, result, targets)
        else:
            assert base is not None
            base_side = dataclasses.replace(
                stack.enter_context(resolve_side("base", base, repo)), python=base_py)
            result, outcome = run_check(base_side, head_side, design, targets,
                                        patterns=patterns, progress=tick, started=started)
    if results_path is not None:
        results_io.save(result, results_path)
    if history_path is not None:
        history.append(history_path, outcome, commit=head_side.commit,
                       reference=base, created=result.created)
    emit(outcome, fmt, out, strict)
    _html(outcome, html_path, "kaizen-perf check")
    for line in sequential.undecided_warnings(outcome, os.environ):
        click.echo(line, err=True)
    click.echo(f"check took {time.monotonic() - started:.0f} s (start-up included)", err=True)
    return outcome.exit_code(strict=strict)


@click.group("baseline")
def baseline_group() -> None:
    """Stored baselines in baselines/ (results JSON files)."""


@baseline_group.command("save")
@common
@click.option("--name", default="main", show_default=True, help="Saved as baselines/NAME.json.")
@click.option("--from", "source", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Store this results (or pytest-benchmark) JSON instead of running the suite.")
@click.option("--project", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True)
def baseline_save(suite: str, patterns: tuple[str, ...], quick: bool, rounds: int | None,
                  seed: int | None, targets_path: Path | None, timeout: float,
                  no_progress: bool, name: str, source: Path | None, project: Path) -> int:
    """Run the suite (or import a results file) and store it as a named baseline."""
    if source is not None:
        result = results_io.load(source)
    else:
        design = design_from(quick, rounds, seed, suite, timeout)
        side = Side("head", project.resolve(), None, commit_of(project))
        with progress_bar(not no_progress) as tick:
            result, _ = run_bench(side, design, _targets(project, targets_path, None),
                                  patterns=patterns, progress=tick)
    dest = project / "baselines" / f"{name}.json"
    results_io.save(result, dest)
    click.echo(f"saved {len(result.jobs)} jobs ({len(result.values('head'))} benchmarks) to {dest}")
    return 0


@baseline_group.command("show")
@click.argument("name_or_file")
@click.option("--project", type=click.Path(file_okay=False, path_type=Path), default=Path("."))
def baseline_show(name_or_file: str, project: Path) -> int:
    """Show a stored baseline: where and when it was taken, and each benchmark's median."""
    path = Path(name_or_file)
    if not path.is_file():
        path = project / "baselines" / f"{name_or_file}.json"
    result = results_io.load(path)
    m = result.machine
    click.echo(f"{path}: {result.kind} run of {result.created} on {m.get('hostname', '?')} "
               f"({m.get('cpu_model', '?')}, {m.get('cpu_count', '?')} CPUs, "
               f"Python {m.get('python', '?')})")
    _bench_summary(result)
    return 0


@baseline_group.command("history")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def baseline_history(file: Path) -> int:
    """Change points in a history file (slow creep that no single change exceeded)."""
    entries = history.read(file)
    found = history.change_points(entries)
    click.echo(f"{len(entries)} runs in {file}")
    for cp in found:
        commit = entries[cp.index].get("commit") or f"entry {cp.index}"
        click.echo(f"CHANGE {cp.benchmark}: {reports.pct(cp.shift)} from {commit} "
                   f"(ratio {cp.before:.3f} -> {cp.after:.3f}, p={cp.p_value:.3f})")
    if not found:
        click.echo("no change point")
    return 1 if any(cp.shift > 0 for cp in found) else 0


@click.command("calibrate")
@common
@click.option("--project", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True)
@click.option("--aa", type=click.IntRange(1), default=None,
              help="Resampled A/A experiments: false-positive rate and noise per benchmark.")
@click.option("--inject", default=None, help="Slowdowns to inject into the candidate, in %: 5,10.")
@click.option("--experiments", type=click.IntRange(1), default=1000, show_default=True,
              help="Resampled experiments per level for --inject.")
@click.option("--pool-rounds", type=click.IntRange(2), default=40, show_default=True,
              help="Worker pairs in each pool of real paired samples.")
@click.option("--save", "save_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Keep the pools (pool-<pct>.json) in this directory.")
@click.option("--load", "load_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Reuse pools saved by --save instead of running them.")
@click.option("--format", "fmt", type=click.Choice(["text", "md", "json"]), default="text")
def calibrate_cmd(suite: str, patterns: tuple[str, ...], quick: bool, rounds: int | None,
                  seed: int | None, targets_path: Path | None, timeout: float,
                  no_progress: bool, project: Path, aa: int | None, inject: str | None,
                  experiments: int, pool_rounds: int, save_dir: Path | None,
                  load_dir: Path | None, fmt: str) -> int:
    """Measure the detector: A/A false positives and power against injected slowdowns."""
    from kaizen_perf.regression import calibrate as cal

    levels = ([0.0] if aa else []) + [_percent(v) for v in (inject or "").split(",") if v]
    if not levels:
        raise ConfigError("Pass --aa N and/or --inject 5,10 to say what to calibrate.")
    # Seed 0 unless told: a calibration table must be reproducible from the same pools.
    design = design_from(quick, rounds, 0 if seed is None else seed, suite, timeout)
    targets = _targets(project, targets_path, None)
    side = Side("head", project.resolve(), None, commit_of(project))
    table = []
    for level in levels:
        pool = _pool(side, design, level, pool_rounds, patterns, save_dir, load_dir,
                     not no_progress)
        n = aa if level == 0 and aa else experiments
        table += cal.rates(pool, level, design, targets, experiments=n, seed=design.seed)
    click.echo(cal.render(table, fmt))
    return 0


def _percent(raw: str) -> float:
    try:
        value = float(raw.strip().rstrip("%")) / 100
    except ValueError as exc:
        msg = f"--inject value {raw!r} is not a percentage; write 5,10,20."
        raise ConfigError(msg) from exc
    if not 0 < value < 10:
        msg = f"--inject value {raw!r} must be a slowdown between 0 and 1000 %."
        raise ConfigError(msg)
    return value


def _pool(side: Side, design: Design, level: float, pool_rounds: int,
          patterns: tuple[str, ...], save_dir: Path | None, load_dir: Path | None,
          show: bool) -> results_io.RunResult:
    name = f"pool-{round(level * 100)}.json"
    if load_dir is not None and (load_dir / name).is_file():
        return results_io.load(load_dir / name)
    pool_design = dataclasses.replace(design, rounds=pool_rounds, max_rounds=pool_rounds,
                                      budget_s=0.0, inject=level)
    base = dataclasses.replace(side, label="base")
    with progress_bar(show) as tick:
        pool, _ = run_check(base, side, pool_design, Targets(), patterns=patterns,
                            progress=tick)
    if save_dir is not None:
        results_io.save(pool, save_dir / name)
    return pool


COMMANDS: list[click.Command] = [bench_cmd, check_cmd, baseline_group, calibrate_cmd]
