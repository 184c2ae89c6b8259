"""Shared test helpers: real-component gating and small utilities."""

from __future__ import annotations

import os
import shutil
import socket

import pytest

REQUIRE_E2E = os.environ.get("KAIZEN_PERF_REQUIRE_E2E") == "1"


def need(condition: bool, reason: str) -> None:
    """Skip when a real component is missing; fail instead under KAIZEN_PERF_REQUIRE_E2E=1 (CI)."""
    if condition:
        return
    if REQUIRE_E2E:
        pytest.fail(f"required component missing (KAIZEN_PERF_REQUIRE_E2E=1): {reason}")
    pytest.skip(reason)


def need_binary(name: str, package: str) -> str:
    """The path of a binary, or skip/fail with the Debian package that provides it."""
    path = shutil.which(name)
    need(path is not None, f"{name} not found on PATH (apt-get install {package})")
    assert path is not None
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
