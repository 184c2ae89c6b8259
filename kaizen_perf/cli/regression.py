"""Regression engine commands: ``bench`` and ``check`` (``baseline`` and ``calibrate`` are in
:mod:`kaizen_perf.cli.baseline`, the options they share in :mod:`.regression_options`)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from pathlib import Path

import click

from kaizen_perf.cli import baseline
from kaizen_perf.cli.regression_options import (
    FORMATS,
    bench_summary,
    common,
    design_from,
    emit,
    interpreter,
    measure_option,
    parse_gate,
    progress_bar,
    targets_of,
    write_html,
)
from kaizen_perf.errors import ConfigError
from kaizen_perf.regression import history, sequential
from kaizen_perf.regression import results as results_io
from kaizen_perf.regression.compare import run_bench, run_check
from kaizen_perf.regression.evaluate import evaluate_against
from kaizen_perf.regression.gitrefs import commit_of, resolve_side
from kaizen_perf.regression.model import Side

__all__ = ["COMMANDS", "parse_gate"]


@click.command("bench")
@common
@measure_option
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
              python: str | None, html_path: Path | None, measure: str = "auto") -> int:
    """Run a benchmark suite and write every raw sample to a versioned results JSON.

    --measure forces one measure for every timed benchmark, as in check; auto takes each
    benchmark's declared measure (wall time when it declares none). Results hold times
    (baselines, absolute budgets and check --against read them), so instruction counts,
    which only a paired check compares, are taken as CPU time here. The summary names each
    benchmark's measure.
    """
    design = sequential.with_options(design_from(quick, rounds, seed, suite, timeout),
                                     measure=measure)
    side = Side("head", project.resolve(), None, commit_of(project),
                interpreter(python, "--python"))
    targets = targets_of(project, targets_path, None)
    with progress_bar(not no_progress) as tick:
        result, outcome = run_bench(side, design, targets, patterns=patterns, progress=tick)
    out = out or Path(".kaizen/bench") / f"results-{time.strftime('%Y%m%d-%H%M%S')}.json"
    results_io.save(result, out)
    click.echo(f"{len(result.jobs)} benchmarks in {result.duration_s:.0f} s; results: {out}",
               err=True)
    if measure == "instructions":
        click.echo("bench stores times: instruction counts are compared by `check` only, so "
                   "the timed benchmarks were measured in CPU time", err=True)
    if fmt == "text" and report_path is None:
        bench_summary(result)
    emit(outcome, fmt, report_path, False, "kaizen-perf bench")
    write_html(outcome, html_path, "kaizen-perf bench")
    return outcome.exit_code()


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
@measure_option
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
        targets = targets_of(head_side.path, targets_path, parse_gate(gate))
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
    write_html(outcome, html_path, "kaizen-perf check")
    for line in sequential.undecided_warnings(outcome, os.environ):
        click.echo(line, err=True)
    click.echo(f"check took {time.monotonic() - started:.0f} s (start-up included)", err=True)
    return outcome.exit_code(strict=strict)


COMMANDS: list[click.Command] = [bench_cmd, check_cmd, *baseline.COMMANDS]
