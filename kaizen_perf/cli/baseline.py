"""Stored baselines (``baseline save|show|history``) and the detector's own measurement
(``calibrate``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from kaizen_perf.cli.regression_options import (
    bench_summary,
    common,
    design_from,
    measure_option,
    progress_bar,
    targets_of,
)
from kaizen_perf.errors import ConfigError
from kaizen_perf.regression import history, reports, sequential
from kaizen_perf.regression import results as results_io
from kaizen_perf.regression.compare import run_bench, run_check
from kaizen_perf.regression.gitrefs import commit_of
from kaizen_perf.regression.model import Design, Side
from kaizen_perf.regression.targets import Targets


@click.group("baseline")
def baseline_group() -> None:
    """Stored baselines in baselines/ (results JSON files)."""


@baseline_group.command("save")
@common
@measure_option
@click.option("--name", default="main", show_default=True, help="Saved as baselines/NAME.json.")
@click.option("--from", "source", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Store this results (or pytest-benchmark) JSON instead of running the suite.")
@click.option("--project", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True)
def baseline_save(suite: str, patterns: tuple[str, ...], quick: bool, rounds: int | None,
                  seed: int | None, targets_path: Path | None, timeout: float,
                  no_progress: bool, name: str, source: Path | None, project: Path,
                  measure: str = "auto") -> int:
    """Run the suite like ``bench`` (or import a results file) and store it as a named
    baseline."""
    if source is not None:
        result = results_io.load(source)
    else:
        design = sequential.with_options(design_from(quick, rounds, seed, suite, timeout),
                                         measure=measure)
        side = Side("head", project.resolve(), None, commit_of(project))
        with progress_bar(not no_progress) as tick:
            result, _ = run_bench(side, design, targets_of(project, targets_path, None),
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
    bench_summary(result)
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
    targets = targets_of(project, targets_path, None)
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


COMMANDS: list[click.Command] = [baseline_group, calibrate_cmd]
