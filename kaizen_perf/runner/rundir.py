"""The run directory: ``.kaizen/runs/<run-id>/`` with a versioned ``run.json``.

Layout::

    run.json          command, agent ids, pids, start/end, exit status, versions, host
    metrics.jsonl     one line per agent per sampling tick (process metrics time series)
    hooks.json        per-agent hook summary at the end (loops, tools, API calls, cost)
    profiles/         folded stacks, speedscope JSON, flame graph (and per-window files)
    summary.txt       the human-readable summary printed at the end
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import socket
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from kaizen_perf._version import __version__
from kaizen_perf.errors import ConfigError
from kaizen_perf.events import ProcessSample

FORMAT_VERSION = 1
DEFAULT_BASE = Path(".kaizen") / "runs"


def new_run_id(now: float | None = None) -> str:
    """A sortable, unique run id: ``YYYYmmdd-HHMMSS-xxxx``."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    return f"{stamp}-{secrets.token_hex(2)}"


class RunDir:
    """Writes the files of one run."""

    def __init__(self, path: Path, run_id: str) -> None:
        self.path, self.run_id = path, run_id
        self.profiles = path / "profiles"
        self._metrics = None

    @classmethod
    def create(cls, out: str | Path | None = None) -> RunDir:
        """Create (and check writable) the run directory; a ConfigError says how to fix it."""
        run_id = new_run_id()
        path = Path(out) if out is not None else DEFAULT_BASE / run_id
        try:
            path.mkdir(parents=True, exist_ok=True)
            (path / "profiles").mkdir(exist_ok=True)
            probe = path / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            msg = (f"Cannot write the run directory {str(path)!r}: {exc.strerror}. "
                   "Choose a writable place with --out DIR.")
            raise ConfigError(msg) from None
        return cls(path, run_id)

    def write_run_json(self, info: dict[str, Any]) -> None:
        """(Re)write run.json atomically."""
        doc = {"format_version": FORMAT_VERSION, "run_id": self.run_id, **info,
               "versions": versions(), "host": host()}
        _atomic_write(self.path / "run.json", json.dumps(doc, indent=2, default=str))

    def append_samples(self, t: float, samples: list[ProcessSample]) -> None:
        """Append one tick of process samples to metrics.jsonl."""
        with open(self.path / "metrics.jsonl", "a") as fh:
            for s in samples:
                fh.write(json.dumps({"t": round(t, 3), **s._asdict()}) + "\n")

    def write_json(self, name: str, data: Any) -> None:
        """Write a JSON file in the run directory."""
        _atomic_write(self.path / name, json.dumps(data, indent=2, default=_default))

    def write_text(self, name: str, text: str) -> None:
        """Write a text file in the run directory."""
        _atomic_write(self.path / name, text)


def _default(obj: Any) -> Any:
    if hasattr(obj, "__dataclass_fields__"):
        return asdict(obj)
    return str(obj)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def versions() -> dict[str, str]:
    """Versions of what produced the run."""
    return {"kaizen_perf": __version__, "python": sys.version.split()[0],
            "platform": platform.platform()}


def host() -> dict[str, Any]:
    """The machine the run happened on."""
    return {"hostname": socket.gethostname(), "cpus": os.cpu_count(),
            "kernel": platform.release()}


def load_run(path: str | Path) -> dict[str, Any]:
    """Read run.json, checking its format version."""
    doc: dict[str, Any] = json.loads((Path(path) / "run.json").read_text())
    if doc.get("format_version") != FORMAT_VERSION:
        msg = (f"{path}/run.json has format version {doc.get('format_version')!r}; this "
               f"kaizen-perf reads version {FORMAT_VERSION}. Use a matching kaizen-perf.")
        raise ConfigError(msg)
    return doc
