"""Fixtures for the client integrations: a scripted LLM server, a monitor, captured calls."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kaizen_perf import Monitor
from kaizen_perf.integrations import ApiCallRecord
from tests.integrations.llm_server import LLMServer


@pytest.fixture
def server() -> Iterator[LLMServer]:
    srv = LLMServer.start()
    yield srv
    srv.stop()


@pytest.fixture
def mon() -> Iterator[Monitor]:
    m = Monitor("tester", environ={})
    yield m
    m.shutdown(2.0)


@pytest.fixture
def calls() -> list[ApiCallRecord]:
    return []
