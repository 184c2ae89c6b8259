"""Fixtures for the eBPF tests: real bpftrace when the machine allows it."""

from __future__ import annotations

import pytest

from kaizen_perf.collectors.ebpf import Availability, detect
from tests.helpers import need, need_binary


@pytest.fixture(scope="session")
def ebpf() -> Availability:
    """eBPF works here (bpftrace, BTF, privileges, tracefs), else skip (fail in CI)."""
    need_binary("bpftrace", "bpftrace")
    found = detect()
    need(found.ok, f"eBPF unavailable: {found.reason} (fix: {found.fix})")
    return found
