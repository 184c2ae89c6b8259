"""``kaizen-perf run -- CMD…`` and ``kaizen-perf attach PID``: monitoring with no code changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from kaizen_perf.config import parse_addr
from kaizen_perf.runner.session import RunOptions, Session


def _addr(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        host, port = parse_addr(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not valid: expected {exc}.") from None
    return f"{host}:{port}"


def _common(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--agent-id", help="Agent name for processes without KAIZEN_PERF_AGENT_ID "
                     "(default: the command's name)."),
        click.option("--out", type=click.Path(file_okay=False),
                     help="Run directory (default .kaizen/runs/<run-id>/)."),
        click.option("--interval", type=click.FloatRange(min=0.05), default=1.0,
                     show_default=True, help="Process sampling interval, seconds."),
        click.option("--rate", type=click.IntRange(1, 1000), default=30, show_default=True,
                     help="Stack samples per second, all profiles together (py-spy's CPU "
                     "grows with it: docs/profiles.md has figures)."),
        click.option("--profile", "profile_kind", type=click.Choice(["both", "cpu", "wall"]),
                     default="both", show_default=True,
                     help="Stack profiles to record: on-CPU, wall-clock (waits included) or "
                     "both, each sampled at its share of --rate (docs/profiles.md)."),
        click.option("--idle", is_flag=True,
                     help="Wall-clock stacks only (--profile wall): include waiting threads."),
        click.option("--no-profile", is_flag=True, help="Do not sample stacks (metrics only)."),
        click.option("--profile-own", is_flag=True,
                     help="Keep kaizen-perf's own threads and start-up in the profile (left "
                     "out by default, and always counted in profiles/profile.json)."),
        click.option("--metrics-addr", default="127.0.0.1:9464", show_default=True,
                     callback=_addr, help="Serve /metrics here; ':0' picks a free port."),
        click.option("--duration", type=click.FloatRange(min=0.1),
                     help="Stop after this many seconds."),
        click.option("--grace", type=click.FloatRange(min=0.0), default=5.0, show_default=True,
                     help="Seconds between SIGTERM and SIGKILL when stopping the command's "
                     "process tree (--duration, or run itself was signalled)."),
        click.option("--window", type=click.FloatRange(min=1.0), default=10.0,
                     show_default=True, help="Profile window length, seconds."),
        click.option("--sd-file", type=click.Path(dir_okay=False),
                     help="Write a Prometheus file_sd target for /metrics here (labels agent, "
                     "run_id); removed when the run ends."),
        click.option("--ebpf", is_flag=True,
                     help="Kernel latency per agent with bpftrace: off-CPU, block I/O, TCP, "
                     "page faults, key syscalls (root or CAP_BPF+CAP_PERFMON; docs/ebpf.md)."),
        click.option("--ebpf-syscalls", type=click.FloatRange(min=1.0), metavar="SECONDS",
                     help="Also time EVERY syscall for this many seconds (costly; implies "
                     "--ebpf)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _unknown_option(command: tuple[str, ...], cmd: click.Command) -> None:
    """A mistyped option lands in COMMAND (unknown options are kept for the agent's command
    line): say it is an unknown option, with the nearest real one, before anything starts."""
    if not command or not command[0].startswith("-") or command[0] == "-":
        return
    import difflib

    name = command[0].split("=", 1)[0]
    known = [o for p in cmd.params if isinstance(p, click.Option) and not p.hidden
             for o in (*p.opts, *p.secondary_opts)]
    near = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f" (did you mean {near[0]}?)" if near else " (see --help)"
    raise click.UsageError(f"unknown option {name!r}{hint}")


def _options(kw: dict[str, Any]) -> RunOptions:
    return RunOptions(agent_id=kw["agent_id"], out=kw["out"], interval_s=kw["interval"],
                      rate_hz=kw["rate"], idle=kw["idle"], profile=not kw["no_profile"],
                      pyroscope=kw["pyroscope"], metrics_addr=kw["metrics_addr"],
                      duration_s=kw["duration"], window_s=kw["window"], grace_s=kw["grace"],
                      sd_file=kw["sd_file"], ebpf=kw["ebpf"] or bool(kw["ebpf_syscalls"]),
                      ebpf_syscalls_s=kw["ebpf_syscalls"], profile_own=kw["profile_own"],
                      kinds=("cpu", "wall") if kw["profile_kind"] == "both"
                      else (kw["profile_kind"],))


def _with_progress(opts: RunOptions, body: Callable[[Session], int]) -> int:
    """Run a session, with a progress bar on stderr when a duration is set."""
    if not opts.duration_s:
        return body(Session(opts, echo=click.echo))
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TimeElapsedColumn

    with Progress("[progress.description]{task.description}", BarColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("monitoring", total=opts.duration_s)
        session = Session(opts, echo=bar.console.print,
                          progress=lambda elapsed: bar.update(task, completed=elapsed))
        return body(session)


@click.command("run", context_settings={"ignore_unknown_options": True,
                                        "allow_interspersed_args": False})
@_common
@click.option("--pyroscope", metavar="URL",
              help="Also push profiles to this Pyroscope server (in-process sampler).")
@click.argument("command", nargs=-1, type=click.UNPROCESSED, required=True)
def run_cmd(command: tuple[str, ...], **kw: Any) -> int:
    """Run COMMAND under monitoring; exit with its exit status.

    \b
    kaizen-perf run -- python agent.py --task review
    kaizen-perf run --idle --duration 600 -- python agent.py

    Samples the whole process tree (CPU, memory, I/O per agent), samples stacks
    with py-spy, and collects the hooks of every Python process in the tree
    without code changes. SIGTERM and SIGHUP are forwarded to COMMAND.
    """
    _unknown_option(command, run_cmd)
    _check_environment()
    opts = _options(kw)
    return _with_progress(opts, lambda s: s.run(command))


def _check_environment() -> None:
    """Every KAIZEN_PERF_* variable is checked before anything starts: an unusable value is a
    usage error (exit 2) naming it, instead of a command that runs unmonitored; unknown
    names get a warning with the nearest real name."""
    import os

    from kaizen_perf.envcheck import env_problems, unknown_variables
    from kaizen_perf.errors import ConfigError

    for warning in unknown_variables(os.environ):
        click.echo(warning, err=True)
    problems = env_problems(os.environ)
    if problems:
        msg = " ".join(problems) + " Fix or unset the variable; nothing was started."
        raise ConfigError(msg)


@click.command("attach")
@_common
# hidden: kept only to explain why attach cannot do it
@click.option("--pyroscope", metavar="URL", hidden=True)
@click.argument("pid", type=int)
def attach_cmd(pid: int, **kw: Any) -> int:
    """Monitor running process PID (and its children) until it exits, --duration or Ctrl-C.

    Process metrics and stack samples work without code changes; in-process
    hooks need the agent to be started with `kaizen-perf run` or to call
    kaizen_perf.configure().
    """
    if kw["pyroscope"]:
        raise click.UsageError("--pyroscope works with `run` only: it needs the agent to load "
                               "the profiler in-process at start-up.")
    opts = _options(kw)
    return _with_progress(opts, lambda s: s.attach(pid))


COMMANDS = [run_cmd, attach_cmd]


@click.command("doctor")
@click.option("--pyroscope", metavar="URL", help="Also check that this Pyroscope server answers.")
def doctor_cmd(pyroscope: str | None) -> None:
    """Say what this machine allows (ptrace, eBPF, py-spy, Prometheus, Pyroscope) and how to
    enable what is missing."""
    from kaizen_perf.doctor import all_findings

    for f in all_findings(pyroscope):
        mark = {True: "ok  ", False: "MISSING", None: "n/a "}[f.ok]
        click.echo(f"[{mark}] {f.name}: {f.detail}")
        if f.fix:
            click.echo(f"          fix: {f.fix}")


COMMANDS.append(doctor_cmd)
