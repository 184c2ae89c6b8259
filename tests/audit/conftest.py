"""Fixtures for the audit tests: a real PostgreSQL server, and one fresh trail URL per store."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kaizen_perf.audit import AuditTrail, open_trail
from tests.helpers import free_port, need

PG_BIN = Path("/usr/lib/postgresql/15/bin")
KEY = b"test-key-0123456789abcdef"
STORES = ["sqlite", "jsonl", "postgres"]


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throw-away PostgreSQL 15 on 127.0.0.1 (initdb in a temp dir), stopped at the end."""
    need((PG_BIN / "initdb").exists() and shutil.which("runuser") is not None,
         f"PostgreSQL binaries not found in {PG_BIN} (apt-get install postgresql)")
    pytest.importorskip("psycopg")
    root = Path(tempfile.mkdtemp(prefix="kaizen-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = free_port()
    run = lambda *cmd: subprocess.run(_as_postgres([str(c) for c in cmd]), check=True,  # noqa: E731
                                      capture_output=True, timeout=60)
    run(PG_BIN / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=on"
    run(PG_BIN / "pg_ctl", "-D", data, "-o", opts, "-l", root / "log", "-w", "-t", "30", "start")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        run(PG_BIN / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def url_for(tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[str], str]:
    """Makes a fresh, empty trail URL for a store kind (sqlite, jsonl, postgres)."""
    def make(kind: str) -> str:
        name = uuid.uuid4().hex[:10]
        if kind == "sqlite":
            return f"sqlite:///{tmp_path / name / 'audit.db'}"
        if kind == "jsonl":
            return f"jsonl:///{tmp_path / name}"
        server = request.getfixturevalue("postgres_server")
        return f"{server}?table=t_{name}"
    return make


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, url_for: Callable[[str], str]) -> str:
    """A fresh trail URL, once per store kind."""
    return url_for(request.param)


@pytest.fixture
def make_trail() -> Iterator[Callable[..., AuditTrail]]:
    """Opens trails with the test key; closes them all at the end."""
    opened: list[AuditTrail] = []

    def make(url: str, **options: Any) -> AuditTrail:
        options.setdefault("key", KEY)
        options.setdefault("agent_id", "agent-1")
        options.setdefault("policy", "deny")
        trail = open_trail(url, **options)
        opened.append(trail)
        return trail
    yield make
    for trail in opened:
        trail.close(5.0)
