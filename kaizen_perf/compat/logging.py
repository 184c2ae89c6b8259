"""``StructuredLogger`` / ``LoggingManager`` with Kaizen's API: JSON lines with context.

Each line is one JSON object with Kaizen's keys (``timestamp``, ``level``,
``message``, ``context``, ``agent_id``, ``trace_id``, ``span_id``), handed to the
standard ``logging`` logger's level method as Kaizen does. Differences, all
deliberate: when the context has no ``trace_id``/``span_id``, those of the active
kaizen-perf scope are filled in (so a line joins its span); a value that is not
JSON-serialisable is written as its ``str()`` instead of raising ``TypeError``
into the agent.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from kaizen_perf._context import CURRENT
from kaizen_perf.compat.types import LogEntry, LogLevel

logger = logging.getLogger(__name__)
_LEVELS: dict[str, int] = {"DEBUG": logging.DEBUG, "INFO": logging.INFO,
                           "WARNING": logging.WARNING, "ERROR": logging.ERROR,
                           "CRITICAL": logging.CRITICAL}


class StructuredLogger:
    """A logger whose every line carries the context added with :meth:`add_context`."""

    def __init__(self, name: str) -> None:
        self.logger = logging.getLogger(name)
        self.context: dict[str, Any] = {}
        self._name = name
        # Kaizen's behaviour: a logger nobody configured still prints (stderr, INFO)
        if not self.logger.handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("%(message)s"))
            self.logger.addHandler(handler)
            self.logger.setLevel(logging.INFO)

    def add_context(self, **kwargs: Any) -> None:
        """Add persistent context to every later line (merged; later values win)."""
        self.context.update(kwargs)

    def clear_context(self) -> None:
        """Forget the persistent context."""
        self.context.clear()

    def get_context(self) -> dict[str, Any]:
        """A copy of the persistent context."""
        return self.context.copy()

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

    def _log(self, level: str, message: str, extra: dict[str, Any]) -> None:
        if not self.logger.isEnabledFor(_LEVELS[level]):
            return  # decide before building the line: a disabled level costs one check
        self.log_entry(self.entry(level, message, extra))  # type: ignore[arg-type]

    def entry(self, level: LogLevel, message: str, extra: dict[str, Any]) -> LogEntry:
        """The record one call would log (context merged, ids filled in)."""
        context = {**self.context, **extra}
        trace_id, span_id = self.context.get("trace_id"), self.context.get("span_id")
        scope = CURRENT.get()
        if scope is not None and trace_id is None and span_id is None:
            trace_id, span_id = f"{scope[0]:032x}", f"{scope[1]:016x}"
        return LogEntry(datetime.now(UTC), level, message, context,
                        self.context.get("agent_id"), trace_id, span_id)

    def log_entry(self, entry: LogEntry) -> None:
        """Log a ready-made entry."""
        line = json.dumps({"timestamp": entry.timestamp.isoformat(), "level": entry.level,
                           "message": entry.message, "context": entry.context,
                           "agent_id": entry.agent_id, "trace_id": entry.trace_id,
                           "span_id": entry.span_id}, default=str)
        getattr(self.logger, entry.level.lower())(line)


class LoggingManager:
    """One :class:`StructuredLogger` per name."""

    def __init__(self) -> None:
        self._loggers: dict[str, StructuredLogger] = {}

    def get_logger(self, name: str) -> StructuredLogger:
        """The logger for ``name`` (created on first use, then the same one)."""
        found = self._loggers.get(name)
        if found is None:
            found = self._loggers[name] = StructuredLogger(name)
        return found

    def get_all_loggers(self) -> dict[str, StructuredLogger]:
        """A copy of the name → logger map."""
        return self._loggers.copy()

    def clear_all_context(self) -> None:
        """Clear the context of every logger."""
        for each in self._loggers.values():
            each.clear_context()

    def set_log_level(self, level: LogLevel) -> None:
        """Set the level of every logger created so far."""
        number = _LEVELS.get(level)
        if number is None:
            msg = (f"Log level {level!r} is not valid: expected one of DEBUG, INFO, WARNING, "
                   "ERROR, CRITICAL.")
            raise ValueError(msg)
        for each in self._loggers.values():
            each.logger.setLevel(number)

    def get_logger_count(self) -> int:
        """How many loggers exist."""
        return len(self._loggers)


__all__ = ["LoggingManager", "StructuredLogger"]
