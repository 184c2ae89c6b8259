"""``kaizen-perf top``: a live terminal view of monitored agents."""

from __future__ import annotations

import contextlib
import select
import sys
import termios
import tty
from collections.abc import Iterator

import click
from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from kaizen_perf.alerts.specs import StuckRule
from kaizen_perf.cli import exitcodes
from kaizen_perf.config import STUCK_AFTER_S, Settings
from kaizen_perf.errors import ConfigError
from kaizen_perf.metrics.summary import cost_text
from kaizen_perf.report.breakdown import Part
from kaizen_perf.top import AgentRow, Poller


def _url(target: str) -> str:
    if target.startswith(("http://", "https://")):
        return target if "/metrics" in target else target.rstrip("/") + "/metrics"
    host, _, port = target.rpartition(":")
    if not port.isdigit():
        raise click.BadParameter(f"{target!r} is not a URL or HOST:PORT such as 127.0.0.1:9464.")
    return f"http://{host or '127.0.0.1'}:{port}/metrics"


def _fmt(v: float | None, spec: str, scale: float = 1.0, missing: str = "–") -> str:
    return missing if v is None else format(v * scale, spec)


def _tool_costs(r: AgentRow, shown: int = 3) -> str:
    """The costliest tools (``reasoning`` included), then how many more."""
    parts = [f"{tool} {cost_text(usd, 0).removeprefix('$')}" for tool, usd in r.tool_costs[:shown]
             if usd > 0]
    more = len(r.tool_costs) - shown
    return " · ".join(parts) + (f" +{more}" if more > 0 else "")


def _alerts(r: AgentRow, stuck_after_s: float) -> str:
    """The alerts the monitor says are firing; without its alert engine (alerts off), an
    agent past the stuck rule's threshold still shows as stuck."""
    shown = list(r.alerts)
    if (StuckRule.default_name not in shown and r.stuck_s is not None
            and r.stuck_s > stuck_after_s):
        shown.append("stuck")
    return " ".join(shown)


def stuck_after(environ: dict[str, str] | None = None) -> float:
    """The stuck rule's threshold from the same setting the monitor uses."""
    try:
        return Settings.load(environ).stuck_after_s
    except ConfigError:  # a bad unrelated setting must not stop the view
        return STUCK_AFTER_S


def render(rows: list[AgentRow], url: str, error: str | None,
           stuck_after_s: float = STUCK_AFTER_S) -> Group:
    """The screen: a title line, the per-agent table and a key hint."""
    table = Table(expand=True)
    width = max([len(r.agent) for r in rows] + [5])
    table.add_column("agent", no_wrap=True, min_width=width)
    for name, justify in [("CPU %", "right"), ("RSS MiB", "right"),
                          ("loops/s", "right"), ("tool p95 ms", "right"), ("cost $", "right"),
                          ("$/hour", "right"), ("cost by tool $", "left"), ("alerts", "left")]:
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for r in rows:
        table.add_row(r.agent, _fmt(r.cpu_percent, ".1f"), _fmt(r.rss_bytes, ".1f", 2**-20),
                      _fmt(r.loops_per_s, ".2f"), _fmt(r.tool_p95_s, ".2f", 1e3),
                      cost_text(r.cost_usd, r.unpriced_calls).removeprefix("$"),
                      _fmt(r.cost_per_hour, ".2f", missing="unknown" if r.unpriced_calls else "–"),
                      _tool_costs(r), _alerts(r, stuck_after_s))
    title = Text(f"kaizen-perf top  {url}", style="bold")
    where = time_table(rows)
    status = Text(error, style="red") if error else Text("q or Ctrl-C quits", style="dim")
    if not rows and not error:
        status = Text("waiting for data… (q or Ctrl-C quits)", style="dim")
    return Group(title, table, *([where] if where is not None else []), status)


def _part(p: Part) -> str:
    cost = "" if p.cost_usd is None else f" {cost_text(p.cost_usd, 0)}"
    return f"{p.seconds:.2f} s{cost}"


def time_table(rows: list[AgentRow], shown: int = 3) -> Table | None:
    """Where the time went, per agent, since the run started: the figures of the report's
    "Where the time went" (LLM calls and each tool, summed from the hooks, with their cost),
    and the agent's own CPU. None while no agent has hook timings."""
    timed = [r for r in rows if r.time_parts]
    if not timed:
        return None
    table = Table(title="where the time went (since the run started)", expand=True,
                  title_justify="left")
    table.add_column("agent", no_wrap=True)
    table.add_column("LLM calls", justify="right", no_wrap=True)
    table.add_column("tools, longest first", justify="left")
    table.add_column("agent CPU", justify="right", no_wrap=True)
    for r in timed:
        llm = [p for p in r.time_parts if p.label == "LLM calls"]
        tools = [p for p in r.time_parts if p.label.startswith("tool ")]
        text = " · ".join(f"{p.label.removeprefix('tool ')} {_part(p)}" for p in tools[:shown])
        if len(tools) > shown:
            text += f" +{len(tools) - shown}"
        table.add_row(r.agent, _part(llm[0]) if llm else "–", text,
                      _fmt(r.cpu_seconds, ".2f") + (" s" if r.cpu_seconds is not None else ""))
    return table


@contextlib.contextmanager
def _keys() -> Iterator[object]:
    """Put a terminal stdin in cbreak mode so single key presses can be read."""
    if not sys.stdin.isatty():
        yield None
        return
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield fd
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _wait_for_q(fd: object, timeout_s: float) -> bool:
    """Wait up to ``timeout_s``; True when 'q' was pressed."""
    if fd is None:
        select.select([], [], [], timeout_s)
        return False
    ready, _, _ = select.select([sys.stdin], [], [], timeout_s)
    return bool(ready) and sys.stdin.read(1).lower() == "q"


@click.command("top")
@click.argument("target", default="127.0.0.1:9464")
@click.option("--interval", type=click.FloatRange(min=0.2), default=1.0, show_default=True,
              help="Seconds between updates.")
@click.option("--once", is_flag=True, help="Print one table (after two scrapes) and exit.")
def top_cmd(target: str, interval: float, once: bool) -> int:
    """Live view of monitored agents: CPU, RSS, loop rate, tool p95, cost, cost per hour,
    and where each agent's time went (LLM calls, each tool, its own CPU, with costs).

    TARGET is a /metrics URL or HOST:PORT (default: the endpoint of a `kaizen-perf run`
    in progress, 127.0.0.1:9464). Rates are over the last minute.
    """
    url = _url(target)
    poller, threshold = Poller(url), stuck_after()
    if once:
        poller.poll()
        select.select([], [], [], interval)
        rows = poller.poll()
        from rich.console import Console

        Console().print(render(rows, url, poller.error, threshold))
        # a script asking for one table must learn that there was nothing to read
        return exitcodes.RUNTIME if poller.error else exitcodes.OK
    with _keys() as fd, Live(render([], url, None), refresh_per_second=4,
                             screen=False) as live:
        try:
            while True:
                rows = poller.poll()
                live.update(render(rows, url, poller.error, threshold))
                if _wait_for_q(fd, interval):
                    break
        except KeyboardInterrupt:
            pass
    return exitcodes.OK


COMMANDS = [top_cmd]
