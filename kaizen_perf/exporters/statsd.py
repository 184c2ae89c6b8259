"""StatsD / DogStatsD metrics over non-blocking UDP, sent from the dispatcher thread.

Per batch, counters are summed per name and tags and durations become timers
(``|ms``); lines are packed into datagrams of at most ``max_datagram`` bytes
(newline-separated, as StatsD and DogStatsD accept). The socket is
non-blocking and the address is resolved once at start-up, so a slow DNS or a
full socket buffer costs a counted drop, never a wait.

Names: ``<prefix>.<metric>`` with the Prometheus names minus ``kaizen_`` and
unit suffixes (``kaizen.tool_calls``, ``kaizen.tool_duration``). Labels are
DogStatsD tags (``|#agent:researcher,tool:search,status:ok``) when tags are on,
else folded into the name (``kaizen.tool_calls.researcher.search.ok``).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Sequence

from kaizen_perf import events as ev
from kaizen_perf.config import Settings, parse_addr
from kaizen_perf.cost import usd_text
from kaizen_perf.errors import ConfigError
from kaizen_perf.pipeline import SinkBase

Labels = tuple[tuple[str, str], ...]
#: counters whose amounts are integer pico-dollars (sent as exact decimal US dollars)
_PICO_COUNTERS = frozenset({"api_cost_usd"})
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")


def _status(error: str | None) -> str:
    return "ok" if error is None else "error"


class StatsdSink(SinkBase):
    """Pipeline sink: events → StatsD lines → UDP datagrams."""

    def __init__(self, host: str, port: int, *, prefix: str = "kaizen", tags: bool = False,
                 max_datagram: int = 1432,
                 socket_factory: Callable[[int], socket.socket] | None = None) -> None:
        try:
            family, _, _, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        except OSError as exc:
            msg = (f"KAIZEN_PERF_STATSD_ADDR={host}:{port} cannot be resolved ({exc}); "
                   "give an IP address or a resolvable host name.")
            raise ConfigError(msg) from None
        self._addr = addr
        make = socket_factory or (lambda fam: socket.socket(fam, socket.SOCK_DGRAM))
        self._sock = make(family)
        self._sock.setblocking(False)
        self._prefix, self._tags, self._max = prefix, tags, max_datagram
        self._name_cache: dict[tuple[str, Labels], str] = {}
        self.sent_datagrams = 0
        self.failed_datagrams = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> StatsdSink:
        """The sink for ``KAIZEN_PERF_STATSD_ADDR``/``_PREFIX``/``_TAGS``."""
        assert settings.statsd_addr is not None
        host, port = parse_addr(settings.statsd_addr)
        return cls(host, port, prefix=settings.statsd_prefix, tags=settings.statsd_tags)

    # -- building lines -------------------------------------------------------------------------
    def _key(self, name: str, labels: Labels) -> str:
        key = (name, labels)
        cached = self._name_cache.get(key)
        if cached is not None:
            return cached
        if self._tags:
            suffix = ",".join(f"{k}:{_UNSAFE.sub('_', v)}" for k, v in labels)
            line = f"{self._prefix}.{name}:{{}}|{{}}" + (f"|#{suffix}" if suffix else "")
        else:
            parts = ".".join(_UNSAFE.sub("_", v) or "_" for _, v in labels)
            line = f"{self._prefix}.{name}{'.' + parts if parts else ''}:{{}}|{{}}"
        if len(self._name_cache) < 50_000:  # bounded like the Prometheus series cap
            self._name_cache[key] = line
        return line

    def handle(self, batch: Sequence[ev.Event]) -> None:
        """Turn a batch into StatsD lines and send them."""
        counters: dict[str, float] = {}
        dollars: dict[str, int] = {}  # pico-dollar counters: summed exactly, converted once
        lines: list[str] = []

        def count(name: str, labels: Labels, value: float = 1) -> None:
            key = self._key(name, labels)
            if name in _PICO_COUNTERS:
                dollars[key] = dollars.get(key, 0) + int(value)
            else:
                counters[key] = counters.get(key, 0) + value

        def timer(name: str, labels: Labels, seconds: float) -> None:
            lines.append(self._key(name, labels).format(f"{seconds * 1000:.3f}", "ms"))

        def gauge(name: str, labels: Labels, value: float) -> None:
            lines.append(self._key(name, labels).format(_num(value), "g"))

        emitters = _EMIT
        for event in batch:
            emit = emitters.get(type(event))
            if emit is not None:
                emit(event, count, timer, gauge)
        lines.extend(key.format(_num(value), "c") for key, value in counters.items())
        lines.extend(key.format(usd_text(pico), "c") for key, pico in dollars.items())
        self._send(lines)

    def _send(self, lines: list[str]) -> None:
        packet: list[str] = []
        size = 0
        for line in lines:
            if packet and size + len(line) + 1 > self._max:
                self._sendto("\n".join(packet))
                packet, size = [], 0
            packet.append(line)
            size += len(line) + 1
        if packet:
            self._sendto("\n".join(packet))

    def _sendto(self, payload: str) -> None:
        try:
            self._sock.sendto(payload.encode(), self._addr)
            self.sent_datagrams += 1
        except OSError:  # buffer full, network down, ICMP refused: count, never wait
            self.failed_datagrams += 1

    @property
    def export_errors(self) -> dict[str, int]:
        """Datagrams that could not be sent, for ``kaizen_perf_export_errors_total``."""
        return {"statsd": self.failed_datagrams}

    def close(self, timeout_s: float) -> None:
        """Close the socket."""
        self._sock.close()


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.6f}"


Count = Callable[..., None]


def _loop(e: ev.LoopEvent, count: Count, timer: Count, gauge: Count) -> None:
    labels = (("agent", e.agent),)
    count("agent_loop_iterations", (*labels, ("status", _status(e.error))))
    timer("agent_loop_duration", labels, (e.end_ns - e.start_ns) / 1e9)


def _tool(e: ev.ToolEvent, count: Count, timer: Count, gauge: Count) -> None:
    labels = (("agent", e.agent), ("tool", e.tool))
    count("tool_calls", (*labels, ("status", _status(e.error))))
    timer("tool_duration", labels, (e.end_ns - e.start_ns) / 1e9)


def _api(e: ev.ApiCallEvent, count: Count, timer: Count, gauge: Count) -> None:
    labels = (("agent", e.agent), ("provider", e.provider), ("model", e.model))
    count("api_requests", (*labels, ("status", _status(e.error))))
    timer("api_request_duration", labels, e.duration_s)
    for kind, n in (("input", e.input_tokens), ("output", e.output_tokens),
                    ("cache_read", e.cache_read_tokens), ("cache_write", e.cache_write_tokens)):
        if n:
            count("api_tokens", (*labels, ("type", kind)), n)
    if e.cost_pico > 0:  # summed as exact pico-dollars, sent as exact decimal dollars
        count("api_cost_usd", labels, e.cost_pico)


def _permission(e: ev.PermissionEvent, count: Count, timer: Count, gauge: Count) -> None:
    count("permission_checks", (("agent", e.agent), ("tool", e.tool), ("decision", e.decision)))
    timer("permission_check_duration", (("agent", e.agent),), e.duration_s)


def _checkpoint(e: ev.CheckpointEvent, count: Count, timer: Count, gauge: Count) -> None:
    labels = (("agent", e.agent), ("op", e.op))
    count("checkpoint_operations", (*labels, ("status", _status(e.error))))
    timer("checkpoint_duration", labels, e.duration_s)


def _hook(e: ev.HookEvent, count: Count, timer: Count, gauge: Count) -> None:
    labels = (("agent", e.agent), ("hook", e.hook))
    count("hook_executions", (*labels, ("status", _status(e.error))))
    timer("hook_duration", labels, e.duration_s)


def _interrupt(e: ev.InterruptEvent, count: Count, timer: Count, gauge: Count) -> None:
    count("interrupts", (("agent", e.agent), ("kind", e.kind)))


def _control(e: ev.ControlEvent, count: Count, timer: Count, gauge: Count) -> None:
    labels = (("agent", e.agent), ("kind", e.kind))
    count("control_requests", (*labels, ("outcome", e.outcome)))
    timer("control_request_duration", labels, e.duration_s)


def _task(e: ev.TaskEvent, count: Count, timer: Count, gauge: Count) -> None:
    labels = (("agent", e.agent), ("task_type", e.task_type), ("complexity", e.complexity))
    count("tasks", (*labels, ("status", _status(e.error))))
    timer("task_duration", labels, e.duration_s)


def _process(e: ev.ProcessSample, count: Count, timer: Count, gauge: Count) -> None:
    labels = (("agent", e.agent),)
    gauge("process_resident_memory", labels, e.rss_bytes)
    gauge("process_threads", labels, e.threads)
    gauge("process_open_fds", labels, e.open_fds)


_EMIT: dict[type, Callable[..., None]] = {
    ev.LoopEvent: _loop, ev.ToolEvent: _tool, ev.ApiCallEvent: _api,
    ev.PermissionEvent: _permission, ev.CheckpointEvent: _checkpoint, ev.HookEvent: _hook,
    ev.InterruptEvent: _interrupt, ev.ControlEvent: _control, ev.TaskEvent: _task,
    ev.ProcessSample: _process,
}
