"""The run directory: ``.kaizen/runs/<run-id>/`` with a versioned ``run.json``.

Layout::

    run.json          command, agent ids, pids, start/end, exit status, versions, host
    metrics.jsonl     one line per agent per sampling tick (process metrics time series)
    hooks.json        per-agent hook summary at the end (loops, tools, API calls, cost)
    profiles/         folded stacks, speedscope JSON, flame graph (and per-window files)
    summary.txt       the human-readable summary printed at the end

The directory is created mode 0700 and its files are written mode 0600 (they hold
command lines, stacks and costs); ``KAIZEN_PERF_RUN_DIR_MODE`` (octal, e.g.
``0750``) asks for another directory mode, files then get it without execute
bits. At the end of the run :meth:`RunDir.seal` sets every file and directory
in it (profiles and the report included) to those modes and replaces each secret
of the command line wherever a file quotes it (py-spy puts the command line in
its flame graph and stacks).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import secrets
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from kaizen_perf._version import __version__
from kaizen_perf.errors import ConfigError
from kaizen_perf.events import ProcessSample

FORMAT_VERSION = 1
DEFAULT_BASE = Path(".kaizen") / "runs"
ENV_RUN_DIR_MODE = "KAIZEN_PERF_RUN_DIR_MODE"
_MIN_SCRUB = 6  #: shorter command-line secrets are hidden in run.json only, not in every file


def run_dir_modes(environ: Mapping[str, str] | None = None) -> tuple[int, int]:
    """(directory mode, file mode): 0700/0600 unless ``KAIZEN_PERF_RUN_DIR_MODE`` says."""
    raw = (os.environ if environ is None else environ).get(ENV_RUN_DIR_MODE)
    if not raw:
        return 0o700, 0o600
    try:
        mode = int(raw, 8)
    except ValueError:
        mode = -1
    if not 0o700 <= mode <= 0o777 or mode & 0o700 != 0o700:
        msg = (f"{ENV_RUN_DIR_MODE}={raw!r} is not valid: expected an octal directory mode "
               "from 0700 to 0777 that keeps rwx for the owner, such as 0750.")
        raise ConfigError(msg)
    return mode, mode & 0o666


def new_run_id(now: float | None = None) -> str:
    """A sortable, unique run id: ``YYYYmmdd-HHMMSS-xxxx``."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    return f"{stamp}-{secrets.token_hex(2)}"


class RunDir:
    """Writes the files of one run."""

    def __init__(self, path: Path, run_id: str, modes: tuple[int, int] = (0o700, 0o600)) -> None:
        self.path, self.run_id = path, run_id
        self.profiles = path / "profiles"
        self._metrics = None
        self.dir_mode, self.file_mode = modes

    @classmethod
    def create(cls, out: str | Path | None = None) -> RunDir:
        """Create (and check writable) the run directory; a ConfigError says how to fix it."""
        run_id = new_run_id()
        modes = run_dir_modes()
        path = Path(out) if out is not None else DEFAULT_BASE / run_id
        try:
            path.mkdir(parents=True, exist_ok=True)
            os.chmod(path, modes[0])  # also an existing --out: it is this run's directory
            (path / "profiles").mkdir(mode=modes[0], exist_ok=True)
            os.chmod(path / "profiles", modes[0])
            probe = path / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            msg = (f"Cannot write the run directory {str(path)!r}: {exc.strerror}. "
                   "Choose a writable place with --out DIR.")
            raise ConfigError(msg) from None
        return cls(path, run_id, modes)

    def write_run_json(self, info: dict[str, Any]) -> None:
        """(Re)write run.json atomically."""
        doc = {"format_version": FORMAT_VERSION, "run_id": self.run_id, **info,
               "versions": versions(), "host": host()}
        _atomic_write(self.path / "run.json", json.dumps(doc, indent=2, default=str),
                      self.file_mode)

    def append_samples(self, t: float, samples: list[ProcessSample]) -> None:
        """Append one tick of process samples to metrics.jsonl."""
        path = self.path / "metrics.jsonl"
        with open(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, self.file_mode),
                  "a") as fh:
            for s in samples:
                fh.write(json.dumps({"t": round(t, 3), **s._asdict()}) + "\n")

    def write_json(self, name: str, data: Any) -> None:
        """Write a JSON file in the run directory."""
        _atomic_write(self.path / name, json.dumps(data, indent=2, default=_default),
                      self.file_mode)

    def write_text(self, name: str, text: str) -> None:
        """Write a text file in the run directory."""
        _atomic_write(self.path / name, text, self.file_mode)

    def seal(self, secrets: Sequence[tuple[str, str]] = ()) -> None:
        """Give every file and directory of the run its mode, and replace each command-line
        secret (``(original, replacement)``, see ``redact.argv_secrets``) wherever a file
        quotes it. Problems with single files are skipped: the run's result stands."""
        pairs = [(o.encode(), r.encode()) for o, r in secrets if len(o) >= _MIN_SCRUB]
        for root, dirs, files in os.walk(self.path):
            for d in dirs:
                with contextlib.suppress(OSError):
                    os.chmod(os.path.join(root, d), self.dir_mode)
            for f in files:
                path = Path(root, f)
                with contextlib.suppress(OSError):
                    if pairs and path.is_file() and not path.is_symlink():
                        _scrub(path, pairs, self.file_mode)
                    os.chmod(path, self.file_mode)
        with contextlib.suppress(OSError):
            os.chmod(self.path, self.dir_mode)


def _default(obj: Any) -> Any:
    if hasattr(obj, "__dataclass_fields__"):
        return asdict(obj)
    return str(obj)


def _atomic_write(path: Path, text: str, mode: int = 0o600) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()  # created anew below with the mode asked for
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _scrub(path: Path, pairs: Sequence[tuple[bytes, bytes]], mode: int) -> None:
    """Replace each secret in one file (atomically, only when one occurs)."""
    data = path.read_bytes()
    new = data
    for original, replacement in pairs:
        new = new.replace(original, replacement)
    if new is data or new == data:
        return
    tmp = path.with_name(path.name + ".scrub")
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "wb") as fh:
        fh.write(new)
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
