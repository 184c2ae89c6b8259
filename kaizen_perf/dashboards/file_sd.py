"""Prometheus file-based service discovery: one JSON file per ``kaizen-perf run``.

``run --sd-file FILE`` writes ``[{"targets": ["HOST:PORT"], "labels": {...}}]``
when its /metrics endpoint is up and removes the file when the run ends, so a
Prometheus with ``file_sd_configs: [{files: [DIR/*.json]}]`` scrapes each run
for exactly as long as it lives. The file is replaced atomically: Prometheus
re-reads it on change and must never see half of it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
from collections.abc import Mapping
from pathlib import Path


def target_address(host: str, port: int) -> str:
    """``HOST:PORT`` that Prometheus can reach: a wildcard bind becomes this host's name."""
    if host in ("0.0.0.0", "::", ""):
        host = socket.getfqdn()
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def write_target(path: str | Path, address: str, labels: Mapping[str, str]) -> Path:
    """Write the file_sd JSON for one target atomically; OSError when it cannot be written."""
    target = Path(path)
    text = json.dumps([{"targets": [address], "labels": dict(labels)}], indent=2) + "\n"
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # Prometheus often runs as its own user
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def remove_target(path: str | Path) -> None:
    """Remove the file (Prometheus then drops the target); a missing file is fine."""
    with contextlib.suppress(OSError):  # the run is over; a stale target only shows as down
        Path(path).unlink(missing_ok=True)
