"""The run directory's alert log: every firing and resolution, one JSON line each.

``kaizen-perf run`` evaluates alerts in its own monitor; this notifier appends
each notification to ``<run dir>/alerts.jsonl`` so the report shows what fired
during the run (the same document a webhook receives, with ``version``).
Values are redacted like every other output (a summary or a stuck agent's
stack snapshot can quote arguments), and the file is created with the run
directory's file mode (0600 unless ``KAIZEN_PERF_RUN_DIR_MODE`` says).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kaizen_perf.alerts.model import Alert

FILE_NAME = "alerts.jsonl"
FORMAT_VERSION = 1


class JsonlNotifier:
    """Appends each alert notification to a JSON-lines file (flushed per line)."""

    def __init__(self, path: str | Path, *, file_mode: int = 0o600,
                 redact: Callable[[Any], Any] | None = None) -> None:
        self.path, self._mode = Path(path), file_mode
        if redact is None:
            from kaizen_perf.redact import redact as default

            redact = default
        self._redact = redact
        self._lock = threading.Lock()  # notify() and close() may come from different threads

    def notify(self, alert: Alert) -> None:
        """Append one line; an OSError reaches the engine, which logs it (rate-limited)."""
        line = json.dumps({"version": FORMAT_VERSION, **self._redact(alert.to_json())},
                          default=str, sort_keys=True)
        with self._lock, open(os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                                      self._mode), "a", encoding="utf-8") as fh:
            fh.write(line + "\n")

