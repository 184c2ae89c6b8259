"""``StructuredLogger`` / ``LoggingManager``: JSON log lines with persistent context.

Each line is one JSON object (timestamp, level, logger, message, context) written
through the standard ``logging`` module, so the application's handlers decide where
it goes. The trace and span ids of the active kaizen-perf scope are added, so a log
line can be joined to its span.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from kaizen_perf._context import CURRENT
from kaizen_perf.compat.types import LogEntry

_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING,
           "ERROR": logging.ERROR, "CRITICAL": logging.CRITICAL}


class StructuredLogger:
    """A logger whose every line carries the context added with :meth:`add_context`."""

    def __init__(self, name: str, *, agent_id: str | None = None) -> None:
        self.name, self.agent_id = name, agent_id
        self.logger = logging.getLogger(name)
        self.context: dict[str, Any] = {}

    def add_context(self, **kwargs: Any) -> None:
        """Add persistent context to every later line."""
        self.context.update(kwargs)

    def debug(self, message: str, **extra: Any) -> None:
        self._log("DEBUG", message, extra)

    def info(self, message: str, **extra: Any) -> None:
        self._log("INFO", message, extra)

    def warning(self, message: str, **extra: Any) -> None:
        self._log("WARNING", message, extra)

    def error(self, message: str, **extra: Any) -> None:
        self._log("ERROR", message, extra)

    def critical(self, message: str, **extra: Any) -> None:
        self._log("CRITICAL", message, extra)

    def entry(self, level: str, message: str, extra: dict[str, Any]) -> LogEntry:
        """The record a line is rendered from."""
        scope = CURRENT.get()
        trace, span = (None, None) if scope is None else (f"{scope[0]:032x}", f"{scope[1]:016x}")
        return LogEntry(datetime.now(UTC), level, message,  # type: ignore[arg-type]
                        {**self.context, **extra}, self.agent_id, trace, span)

    def _log(self, level: str, message: str, extra: dict[str, Any]) -> None:
        number = _LEVELS[level]
        if not self.logger.isEnabledFor(number):
            return
        e = self.entry(level, message, extra)
        line: dict[str, Any] = {"timestamp": e.timestamp.isoformat(), "level": level,
                                "logger": self.name, "message": message, "context": e.context}
        if e.agent_id:
            line["agent_id"] = e.agent_id
        if e.trace_id:
            line["trace_id"], line["span_id"] = e.trace_id, e.span_id
        self.logger.log(number, "%s", json.dumps(line, default=str, ensure_ascii=False))


class LoggingManager:
    """One :class:`StructuredLogger` per name."""

    def __init__(self, *, agent_id: str | None = None) -> None:
        self.agent_id = agent_id
        self._loggers: dict[str, StructuredLogger] = {}

    def get_logger(self, name: str) -> StructuredLogger:
        """The logger for ``name`` (created on first use)."""
        if name not in self._loggers:
            self._loggers[name] = StructuredLogger(name, agent_id=self.agent_id)
        return self._loggers[name]
