"""Structured JSON logs with trace context and redaction (structlog), and the hook-event log.

Every line is one JSON object with ``timestamp`` (UTC, ISO 8601), ``level``,
``event``, ``logger``, ``agent``, and ``trace_id``/``span_id`` of the current
span (the same hex ids the traces carry, so a log line finds its span), plus
whatever was bound. Three sources share one processor chain and one writer:

- ``get_logger(name)`` for agent code (``log.bind(task="x").info("started")``),
  and :func:`bind`/:func:`unbind` for context that follows the thread or task;
- stdlib ``logging`` records, once :func:`configure_logging` is called with
  ``stdlib="root"`` (or ``"kaizen_perf"`` for kaizen-perf's own records only);
- hook events (:class:`EventLogSink`, ``KAIZEN_PERF_LOG_EVENTS=errors|all``),
  rendered on the dispatcher thread with the ids of the event's own span.

The global structlog configuration is never touched: loggers are wrapped with
our chain explicitly, so an application's own structlog set-up keeps working.
Values are redacted (:mod:`kaizen_perf.redact`) before they are written.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from structlog.contextvars import bind_contextvars, merge_contextvars, unbind_contextvars
from structlog.processors import JSONRenderer, StackInfoRenderer, TimeStamper, format_exc_info
from structlog.typing import EventDict, Processor, WrappedLogger

from kaizen_perf._context import CURRENT
from kaizen_perf.config import Settings
from kaizen_perf.events import Event
from kaizen_perf.exporters.eventlog import render_events
from kaizen_perf.exporters.logfile import LineWriter
from kaizen_perf.pipeline import SinkBase
from kaizen_perf.redact import Redactor, default_redactor

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR, "critical": logging.CRITICAL}


@dataclass(frozen=True)
class LogConfig:
    """The resolved logging set-up (one per process; replaced by :func:`configure_logging`)."""

    writer: LineWriter
    agent: str
    level: int
    redactor: Redactor


_config: LogConfig | None = None


def _current() -> LogConfig:
    global _config
    if _config is None:
        _config = LogConfig(LineWriter(), "agent", logging.INFO, default_redactor())
    return _config


# -- processors ------------------------------------------------------------------------------------
def add_trace_context(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Add ``trace_id``/``span_id`` of the current span (hex, as in the traces)."""
    scope = CURRENT.get()
    if scope is not None:
        event_dict.setdefault("trace_id", f"{scope[0]:032x}")
        event_dict.setdefault("span_id", f"{scope[1]:016x}")
    return event_dict


def _add_agent(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    event_dict.setdefault("agent", _current().agent)
    return event_dict


def _add_level(_: WrappedLogger, method: str, event_dict: EventDict) -> EventDict:
    event_dict.setdefault("level", "warning" if method == "warn" else method)
    return event_dict


def _redact(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    out: EventDict = _current().redactor.redact(event_dict)
    return out


_FIRST = ("timestamp", "level", "event", "logger", "agent")


def _order(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """The fixed fields first, as in the event log: easier to read and to grep."""
    first = {k: event_dict.pop(k) for k in _FIRST if k in event_dict}
    first.update(event_dict)
    return first


def processors() -> list[Processor]:
    """The chain every log line goes through (redaction before anything we add)."""
    return [merge_contextvars, _add_level, StackInfoRenderer(), format_exc_info, _redact,
            add_trace_context, _add_agent, TimeStamper(fmt="iso", utc=True, key="timestamp"),
            _order, JSONRenderer(serializer=_dumps)]


def _dumps(obj: Any, **kw: Any) -> str:
    return json.dumps(obj, default=str, separators=(",", ":"), ensure_ascii=False)


class _LineLogger:
    """The structlog 'logger' at the end of the chain: writes the rendered line."""

    def msg(self, message: str) -> None:
        _current().writer.write(message + "\n")

    debug = info = warning = warn = error = critical = exception = log = msg


def get_logger(name: str = "agent", **initial: Any) -> Any:
    """A structlog logger writing JSON lines with trace context: ``get_logger(__name__)``."""
    wrapper = structlog.make_filtering_bound_logger(_current().level)
    log = structlog.wrap_logger(_LineLogger(), processors=processors(), wrapper_class=wrapper,
                                context_class=dict)
    return log.bind(logger=name, **initial)


def bind(**values: Any) -> None:
    """Add context to every line logged from this thread or asyncio task from now on."""
    bind_contextvars(**values)


def unbind(*keys: str) -> None:
    """Remove context added with :func:`bind`."""
    unbind_contextvars(*keys)


# -- stdlib routing --------------------------------------------------------------------------------
class StdlibHandler(logging.Handler):
    """Routes stdlib ``logging`` records through the same processors and writer."""

    def __init__(self) -> None:
        super().__init__()
        self._chain = processors()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            event: MutableMapping[str, Any] = {"event": record.getMessage(),
                                               "logger": record.name}
            if record.exc_info:
                event["exc_info"] = record.exc_info
            method = record.levelname.lower()
            result: Any = event
            for proc in self._chain:
                result = proc(None, method, result)
            _current().writer.write(str(result) + "\n")
        except Exception:  # logging must never raise into the caller
            self.handleError(record)


_handlers: list[tuple[logging.Logger, StdlibHandler]] = []


def configure_logging(settings: Settings | None = None, *, stream: Any = None,
                      file: str | None = None, level: str = "info", agent: str | None = None,
                      retention_days: int | None = None, redactor: Redactor | None = None,
                      stdlib: str | None = None) -> LogConfig:
    """Set up the JSON log output (arguments win over ``settings``); returns the config.

    ``stdlib="root"`` routes every stdlib record through the chain (replacing any
    handler installed by an earlier call); ``"kaizen_perf"`` only kaizen-perf's own.
    """
    global _config
    if level not in _LEVELS:
        msg = f"Log level {level!r} is not one of {', '.join(_LEVELS)}."
        from kaizen_perf.errors import ConfigError
        raise ConfigError(msg)
    path = file if file is not None else (settings.log_file if settings else None)
    keep = retention_days or (settings.log_retention_days if settings else 30)
    old = _config
    _config = LogConfig(LineWriter(path, stream=stream, retention_days=keep),
                        agent or (settings.agent_id if settings else "agent"), _LEVELS[level],
                        redactor or default_redactor())
    if old is not None and old.writer.path is not None:
        old.writer.close()
    _route_stdlib(stdlib)
    return _config


def _route_stdlib(target: str | None) -> None:
    for logger, handler in _handlers:
        logger.removeHandler(handler)
    _handlers.clear()
    if target is None:
        return
    logger = logging.getLogger() if target == "root" else logging.getLogger(target)
    handler = StdlibHandler()
    logger.addHandler(handler)
    _handlers.append((logger, handler))


# -- hook events -----------------------------------------------------------------------------
class EventLogSink(SinkBase):
    """Pipeline sink: hook events as JSON lines (all, or only failures), one write per batch."""

    def __init__(self, *, errors_only: bool = False, writer: LineWriter | None = None,
                 redactor: Redactor | None = None,
                 to_wall_ns: Callable[[int], int] | None = None) -> None:
        self._errors_only = errors_only
        self._writer = writer
        self._redactor = redactor
        self._to_wall_ns = to_wall_ns or (lambda ns: ns)
        self.lines = 0
        self.shed_events = 0

    #: under overload the pipeline may skip this sink's batches (counted as
    #: kaizen_perf_events_dropped_total{sink="logs-shed"}); metrics stay exact
    sheddable = True

    def shed(self, batch: Sequence[Event]) -> None:
        """Skip a batch the dispatcher has no time for (counted)."""
        self.shed_events += len(batch)

    @property
    def dropped_events(self) -> dict[str, int]:
        """Hook events not logged because of overload."""
        return {"logs-shed": self.shed_events} if self.shed_events else {}

    def handle(self, batch: Sequence[Event]) -> None:
        """Render and write the batch's events (dispatcher thread)."""
        cfg = _current()
        text, n = render_events(batch, offset_ns=self._to_wall_ns(0),
                                errors_only=self._errors_only,
                                redactor=self._redactor or cfg.redactor)
        if n:
            self.lines += n
            (self._writer or cfg.writer).write(text)

    @property
    def write_errors(self) -> int:
        """Lines that could not be written (disk full, closed stream)."""
        return (self._writer or _current().writer).write_errors

    def close(self, timeout_s: float) -> None:
        """Flush (the file stays usable for loggers until the process ends)."""
        writer = self._writer or _current().writer
        if writer.path is None:
            writer.close()

