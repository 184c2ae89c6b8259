"""Fixtures for the client integrations: a scripted LLM server, a monitor, captured calls."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kaizen_perf import Monitor
from kaizen_perf.integrations import ApiCallRecord
from kaizen_perf.testing import InMemorySink
from tests.integrations.llm_server import LLMServer
from tests.integrations.openai_chat_server import OpenAIChatServer


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


@pytest.fixture
def kaizen_loopback() -> Iterator[None]:
    """Let Kaizen's LLM client reach a fake provider on this machine (see kaizen_loopback.py:
    Kaizen refuses loopback at connect time, by design, with no setting to turn it off)."""
    from tests.integrations.kaizen_loopback import allow_loopback

    restore = allow_loopback()
    yield
    restore()


@pytest.fixture
def sink() -> InMemorySink:
    """Every event the monitor dispatched, for assertions."""
    return InMemorySink()


@pytest.fixture
def kmon(sink: InMemorySink) -> Iterator[Monitor]:
    """A monitor with Kaizen instrumented into it (and restored afterwards)."""
    from kaizen_perf.integrations.kaizen import AGENTS, instrument, uninstrument

    mon = Monitor("process", environ={}, sinks=[sink])
    AGENTS.seen.clear()
    instrument(mon)
    yield mon
    uninstrument()
    AGENTS.seen.clear()
    mon.shutdown(2.0)


@pytest.fixture
def llm(kaizen_loopback: None) -> Iterator[OpenAIChatServer]:
    """The scripted OpenAI-compatible server Kaizen's client is pointed at."""
    server = OpenAIChatServer.start()
    yield server
    server.stop()
