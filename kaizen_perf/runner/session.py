"""One monitoring session: a child command (``run``) or an existing process (``attach``).

The session owns a :class:`~kaizen_perf.monitor.Monitor` that serves /metrics,
a process collector ticking every ``interval_s`` on the main thread, a
forwarding receiver for hook events from bootstrapped Python children, and
(optionally) the py-spy profiler. It ends when the process exits, the duration
passes or the user interrupts, then writes the run directory and the summary.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from kaizen_perf.collectors.process import AGENT_ENV, ProcessCollector
from kaizen_perf.config import (
    ENV_ALERT_RULES,
    ENV_ALERT_WEBHOOK,
    ENV_ALERTS,
    ENV_BUDGET_USD,
    ENV_PRICING_FILE,
    ENV_STUCK_AFTER,
)
from kaizen_perf.errors import ConfigError
from kaizen_perf.forward import ForwardReceiver
from kaizen_perf.monitor import Monitor
from kaizen_perf.redact import argv_secrets, redact_argv
from kaizen_perf.runner.procs import (
    alive,
    children_cpu,
    cmdline,
    exit_status,
    poll_exited,
    sleep_until_next,
    socket_path,
)
from kaizen_perf.runner.rundir import RunDir
from kaizen_perf.runner.stopping import TreeStopper, forward_signals
from kaizen_perf.runner.summary import build_summary, render_summary

if TYPE_CHECKING:
    from kaizen_perf.server import MetricsServer

BOOTSTRAP_DIR = str(Path(__file__).resolve().parent.parent / "bootstrap")


@dataclass(frozen=True)
class RunOptions:
    """Everything ``run``/``attach`` can be told."""

    agent_id: str | None = None
    out: str | None = None
    interval_s: float = 1.0
    rate_hz: int = 30  # both profiles together: py-spy's cost as 50 Hz on-CPU alone was
    idle: bool = False
    profile: bool = True
    pyroscope: str | None = None
    metrics_addr: str = "127.0.0.1:9464"
    duration_s: float | None = None
    window_s: float = 10.0
    grace_s: float = 5.0
    sd_file: str | None = None
    ebpf: bool = False
    ebpf_syscalls_s: float | None = None
    profile_own: bool = False  # keep kaizen-perf's own threads in the profile
    #: kinds of stack profile, each sampled at its share of rate_hz (idle: wall-clock only)
    kinds: tuple[str, ...] = ("cpu", "wall")


class Session:
    """Monitors one process tree and writes its run directory."""

    mon: Monitor  # set by _open(), once the root agent's name is known
    receiver: ForwardReceiver

    def __init__(self, opts: RunOptions, *, echo: Callable[[str], None] = print,
                 progress: Callable[[float], None] | None = None) -> None:
        self.opts, self._echo, self._progress = opts, echo, progress
        self.rundir = RunDir.create(opts.out)
        self._sock = socket_path(self.rundir.path)
        self._profiler: Any = None
        self._ebpf: Any = None
        self._warnings: list[str] = []
        self._stopper: TreeStopper | None = None
        self._secrets: list[tuple[str, str]] = []  # command-line secrets, scrubbed from files

    # -- entry points ------------------------------------------------------------------
    def run(self, cmd: Sequence[str]) -> int:
        """Start ``cmd`` under monitoring; returns its exit status."""
        agent = os.environ.get(AGENT_ENV) or self.opts.agent_id or Path(cmd[0]).name
        self._open(agent)
        # its own process group, so stopping it reaches every process it started; not from a
        # terminal, where it must stay in the foreground group (Ctrl-C, reading the terminal)
        own_group = not sys.stdin.isatty()
        command, self._secrets = redact_argv(cmd), argv_secrets(cmd)
        # signals are taken before the command starts: one arriving in between is applied
        # to the command as soon as it exists, never lost (nor kills the runner alone)
        stoppers: list[TreeStopper] = []
        pending: list[int] = []
        restore = forward_signals(lambda s: stoppers[0].begin(s) if stoppers
                                   else pending.append(s), sigint=own_group)
        try:
            child = subprocess.Popen(list(cmd), env=self.child_env(agent),
                                     process_group=0 if own_group else None)
        except (FileNotFoundError, PermissionError) as exc:
            restore()
            self.close()
            msg = (f"Unknown command {cmd[0]!r}: not found on PATH. Check the command after "
                   "`--`." if isinstance(exc, FileNotFoundError) else
                   f"Command {cmd[0]!r} is not executable. Check its permissions.")
            raise ConfigError(msg) from None
        info = {"mode": "run", "command": command, "root_pid": child.pid}
        self._stopper = stopper = TreeStopper(child.pid, own_group=own_group,
                                              grace_s=self.opts.grace_s)
        stoppers.append(stopper)
        for signum in pending:
            stopper.begin(signum)
        try:
            status = self._monitor(child.pid, agent, info,
                                   lambda: poll_exited(stopper, child.pid))
            if child.poll() is None:  # --duration passed: stop the whole tree, then wait
                stopper.begin(signal.SIGTERM)
                while child.poll() is None:
                    stopper.poll()
                    time.sleep(0.05)
            code = child.wait()
            # what the command left running (grandchildren) is stopped too: no orphans
            info["stopped_left_behind"] = stopper.finish()
            info["killed_after_grace"] = stopper.killed
            info["children_rusage_cpu_s"] = children_cpu()
        finally:
            restore()
        return self._finish(info, status, exit_status(code))

    def attach(self, pid: int) -> int:
        """Monitor an existing process (and its children) until it exits, the duration or Ctrl-C."""
        if not psutil.pid_exists(pid):
            self.close()
            msg = f"No process with PID {pid}. Check the PID (ps -ef) and try again."
            raise ConfigError(msg)
        proc = psutil.Process(pid)
        agent = self.opts.agent_id or proc.name()
        self._open(agent)
        argv = cmdline(proc)
        info = {"mode": "attach", "command": redact_argv(argv), "root_pid": pid}
        self._secrets = argv_secrets(argv)
        status = self._monitor(pid, agent, info, lambda: not alive(proc))
        # not our child: its exit status is its parent's to read, so none is recorded
        self._finish(info, {**status, "still_running": alive(proc)}, None)
        return 0

    def _open(self, agent: str) -> None:
        """The runner's monitor (named after the root agent, whose budget it tracks) and the
        socket children forward their hook events to."""
        environ = _runner_environ(os.environ)
        # the runner evaluates alerts for every agent at no cost to them (unless told not to)
        environ.setdefault(ENV_ALERTS, "1")
        self.mon = Monitor(agent, environ=environ, metrics_addr=self.opts.metrics_addr)
        if self.mon.alerts is not None:  # what fired goes into the run (the report shows it)
            from kaizen_perf.alerts.jsonl import FILE_NAME, JsonlNotifier

            self.mon.alerts.notifiers.append(JsonlNotifier(self.rundir.path / FILE_NAME,
                                                           file_mode=self.rundir.file_mode))
        self.receiver = ForwardReceiver(self._sock, self.mon.pipeline.put).start()

    @property
    def _server(self) -> MetricsServer:
        """The runner's /metrics server (a session's monitor always serves one)."""
        server = self.mon.server
        assert server is not None, "the session's monitor was made with metrics_addr"
        return server

    # -- the loop ---------------------------------------------------------------------------
    def child_env(self, agent: str) -> dict[str, str]:
        """The child's environment: bootstrap, agent id, forwarding socket, no own server."""
        env = dict(os.environ)
        env.setdefault(AGENT_ENV, agent)
        env["KAIZEN_PERF_BOOTSTRAP"] = "1"
        # the bootstrap is lazy: it instruments these clients when a child first imports one
        from kaizen_perf.integrations import CLIENTS

        env["KAIZEN_PERF_BOOTSTRAP_CLIENTS"] = ",".join(CLIENTS)
        # alerts are evaluated once, here, over every agent's forwarded events (no duplicates);
        # budgets stay on in the children too: only they can stop their own agent code
        env[ENV_ALERTS] = "0"
        env["KAIZEN_PERF_FORWARD_SOCKET"] = self._sock
        env.pop("KAIZEN_PERF_METRICS_ADDR", None)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (BOOTSTRAP_DIR, env.get("PYTHONPATH"))
                                            if p)
        if self.opts.pyroscope:
            env["KAIZEN_PERF_PYROSCOPE_URL"] = self.opts.pyroscope
        return env

    def _monitor(self, pid: int, agent: str, info: dict[str, Any],
                 ended: Callable[[], bool]) -> dict[str, Any]:
        self.collector = ProcessCollector(pid, agent)
        self._echo(f"kaizen-perf: monitoring PID {pid} as agent {agent!r}; "
                   f"metrics at {self._server.url}/metrics; run directory {self.rundir.path}")
        self._echo(f"kaizen-perf: watch it live from another terminal: {top_command()} "
                   f"{self._server.host}:{self._server.port}")
        self._start_profiler(pid)
        self._start_ebpf(pid, agent)
        self._write_sd_file(agent)
        start = time.time()
        self.rundir.write_run_json({**info, "agents": [agent], "start": start})
        deadline = None if self.opts.duration_s is None else time.monotonic() + self.opts.duration_s
        interrupted = False
        try:
            while not ended() and (deadline is None or time.monotonic() < deadline):
                self._tick(start)
                if self._progress is not None and self.opts.duration_s:
                    self._progress(time.time() - start)
                sleep_until_next(self.opts.interval_s, ended)
        except KeyboardInterrupt:
            interrupted = True
        self._tick(start)
        return {"start": start, "end": time.time(), "interrupted": interrupted}

    def _tick(self, start: float) -> None:
        if self._stopper is not None:
            self._stopper.remember()  # descendants, before their parents can exit
        samples = self.collector.tick()
        for sample in samples:
            self.mon.pipeline.put(sample)
        self.rundir.append_samples(time.time() - start, samples)
        self._tick_profilers()

    def _tick_profilers(self) -> None:
        for name, profiler in (("py-spy", self._profiler), ("bpftrace", self._ebpf)):
            if profiler is not None:
                with self.mon.pipeline.lock:
                    self.mon.metrics.families["kaizen_perf_profiler_cpu_seconds_total"].set(
                        (name,), profiler.cpu_seconds)

    def _start_profiler(self, pid: int) -> None:
        if not self.opts.profile:
            return
        from kaizen_perf.runner.profiling import start_profiles

        self._profiler = start_profiles(pid, self.rundir.profiles, kinds=self._kinds(),
                                        rate_hz=self.opts.rate_hz, window_s=self.opts.window_s,
                                        include_own=self.opts.profile_own,
                                        on_warning=self._warn)

    def _kinds(self) -> tuple[str, ...]:
        from kaizen_perf.runner.profiling import kinds_for

        return kinds_for(self.opts.idle, self.opts.kinds)

    def _start_ebpf(self, pid: int, agent: str) -> None:
        """Kernel latency per agent (--ebpf); when eBPF cannot run, one warning and /proc only."""
        if not (self.opts.ebpf or self.opts.ebpf_syscalls_s):
            return
        from kaizen_perf.collectors.ebpf import EbpfCollector, process_tree

        seen = self.collector.agent_of_pid  # every process seen, also those that exited
        self._ebpf = EbpfCollector(process_tree(pid), put=self.mon.pipeline.put,
                                   agent_of=lambda p: seen.get(p, agent),
                                   run_dir=self.rundir.path, warn=self._warn,
                                   syscalls_s=self.opts.ebpf_syscalls_s)
        if not self._ebpf.start():
            self._ebpf = None

    def _write_sd_file(self, agent: str) -> None:
        """Announce /metrics to Prometheus file_sd (removed in close()); a failure only warns."""
        if not self.opts.sd_file:
            return
        from kaizen_perf.dashboards.file_sd import target_address, write_target

        addr = target_address(self._server.host, self._server.port)
        try:
            write_target(self.opts.sd_file, addr, {"agent": agent, "run_id": self.rundir.run_id})
        except OSError as exc:
            self._warn(f"cannot write --sd-file {self.opts.sd_file!r}: {exc.strerror}; "
                       "Prometheus will not discover this run")

    def _warn(self, message: str) -> None:
        self._warnings.append(message)
        self._echo(f"kaizen-perf: warning: {message}")

    # -- the end ----------------------------------------------------------------------------
    def _finish(self, info: dict[str, Any], status: dict[str, Any], code: int | None) -> int:
        profile, by_agent = self._stop_profiler()
        if self._ebpf is not None:
            self._ebpf.stop(timeout_s=5.0)  # flushes the last window into the pipeline
            self._tick_profilers()
        self.receiver.stop()
        self.mon.flush()
        if self.mon.alerts is not None:  # the last events' alerts, before the report is written
            try:
                self.mon.alerts.evaluate()
            except Exception as exc:  # the run's files matter more than a last evaluation
                self._warn(f"last alert evaluation failed: {exc!r}")
        agents = self.collector.agents()
        self.rundir.write_run_json({**info, **status, "agents": agents, "exit_status": code,
                                    "pids": sorted(self.collector.pids_seen),
                                    "pid_agents": {str(p): a for p, a in
                                                   self.collector.agent_of_pid.items()},
                                    "idle": self.opts.idle, **self._profile_dirs(),
                                    "warnings": self._warnings})
        with self.mon.pipeline.lock:
            summary = build_summary(self.mon.metrics.families, self.collector, profile,
                                    by_agent)
        summary["wall_s"] = status["end"] - status["start"]  # for "where the time went"
        if "profile" in summary and self._profiler is not None:  # which kinds, first shown
            summary["profile"]["kinds"] = list(self._profiler.kinds)
        self.rundir.write_json("hooks.json", summary)
        text = render_summary(summary, self.rundir.path, exit_status=code)
        self.rundir.write_text("summary.txt", text)
        report = self._write_report()
        self.rundir.seal(self._secrets)  # modes 0700/0600; command-line secrets scrubbed
        self._echo(text + report)
        self.close()
        return 0 if code is None else code

    def _stop_profiler(self) -> tuple[Any, dict[str, Any]]:
        """The first kind's profile (for the summary) and each agent's part of it; every
        kind's files, per-agent ones included, are written."""
        if self._profiler is None:
            return None, {}
        from kaizen_perf.runner.profiling import stop_profiles

        return stop_profiles(self._profiler, self.rundir.profiles, self.collector.agent_of_pid,
                             self.collector.default_agent)

    def _profile_dirs(self) -> dict[str, Any]:
        """run.json's ``profiles``: the folder of each kind of profile the run recorded."""
        if self._profiler is None:
            return {}
        from kaizen_perf.runner.profiling import profile_dirs

        return {"profiles": profile_dirs(self.rundir.profiles, self.rundir.path,
                                         self._profiler.kinds)}

    def _write_report(self) -> str:
        """The HTML report, written at the end of every run (a failure is reported, not raised)."""
        from kaizen_perf.report.build import write_report

        try:
            return f"report: {write_report(self.rundir.path)}\n"
        except Exception as exc:  # the run itself succeeded; say why there is no report
            return f"report: not written ({exc})\n"

    def close(self) -> None:
        """Stop the receiver and the monitor (idempotent)."""
        if self.opts.sd_file:
            from kaizen_perf.dashboards.file_sd import remove_target
            remove_target(self.opts.sd_file)
        if self._ebpf is not None:
            self._ebpf.stop(timeout_s=2.0)  # idempotent; covers runs that end in an error
        if hasattr(self, "mon"):  # absent when the session ended before it started
            self.receiver.stop()
            self.mon.shutdown(2.0)


#: settings the runner's own monitor takes from the environment: budgets (gauges and
#: threshold alerts over all agents) and alerting. Never the hard stop: it belongs to the agent.
_RUNNER_ENV = (ENV_BUDGET_USD, ENV_ALERTS, ENV_ALERT_RULES, ENV_ALERT_WEBHOOK, ENV_STUCK_AFTER,
               ENV_PRICING_FILE)


def _runner_environ(environ: Mapping[str, str]) -> dict[str, str]:
    return {k: environ[k] for k in _RUNNER_ENV if k in environ}


def top_command(cwd: Path | None = None) -> str:
    """How to start ``kaizen-perf`` from another terminal: by name when it is on PATH, else
    the script beside this Python (a virtualenv that is not activated), relative when short."""
    import shutil

    if shutil.which("kaizen-perf"):
        return "kaizen-perf top"
    script = Path(sys.executable).parent / "kaizen-perf"
    if not script.exists():
        return f"{sys.executable} -m kaizen_perf top"
    try:
        return f"{script.relative_to(cwd or Path.cwd())} top"
    except ValueError:
        return f"{script} top"
