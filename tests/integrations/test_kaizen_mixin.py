"""``ObservedAgentMixin`` on real Kaizen agents; what a program that never imports Kaizen pays."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kaizen.core.base_agent import BaseAgent
from kaizen.core.config import BaseAgentConfig
from kaizen.signatures import InputField, OutputField, Signature

from kaizen_perf import Monitor
from kaizen_perf.events import LoopEvent
from kaizen_perf.integrations.kaizen import ObservedAgentMixin, instrument, uninstrument
from kaizen_perf.integrations.kaizen._agents import AGENTS
from kaizen_perf.testing import InMemorySink
from tests.helpers import free_port
from tests.integrations.kaizen_loopback import local_url
from tests.integrations.openai_chat_server import OpenAIChatServer, Turn


class Question(Signature):
    """Answer a question."""

    question: str = InputField(desc="Question")
    answer: str = OutputField(desc="Answer")


class Observed(ObservedAgentMixin, BaseAgent):
    """A Kaizen agent opted in by its class."""


@pytest.fixture
def base(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Monitor, InMemorySink]]:
    """The process-wide monitor the mixin records into, with a sink to read events back."""
    from kaizen_perf import monitor as monitor_module

    sink = InMemorySink()
    mon = Monitor("process", environ={}, sinks=[sink])
    monkeypatch.setattr(monitor_module, "_global", mon)
    AGENTS.reset()
    yield mon, sink
    AGENTS.reset()
    mon.shutdown(2.0)


@pytest.fixture
def llm(kaizen_loopback: None) -> Iterator[OpenAIChatServer]:
    server = OpenAIChatServer.start()
    yield server
    server.stop()


def agent(server: OpenAIChatServer, **kw: Any) -> Observed:
    config = BaseAgentConfig(llm_provider="openai", model="gpt-4o-mini", api_key="sk-test",
                             base_url=local_url(server.url), **kw)
    return Observed(config=config, signature=Question(), mcp_servers=[], agent_id="opted-in")


def quietly(fn: Any, *args: Any, **kwargs: Any) -> Any:
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Kaizen's own extension points
        return fn(*args, **kwargs)


def test_run_and_run_async_are_observed_by_agent_id(
        base: tuple[Monitor, InMemorySink], llm: OpenAIChatServer) -> None:
    """Both of Kaizen's entry points are one loop iteration each, labelled agent.agent_id,
    with the outcome Kaizen returned."""
    mon, sink = base
    llm.script(Turn(json.dumps({"answer": "a"}), prompt_tokens=3, completion_tokens=1),
               Turn.error(500))
    quietly(agent(llm).run, question="sync")
    result = quietly(asyncio.run, agent(llm, use_async_llm=True).run_async(question="async"))
    mon.flush()
    loops = sink.of(LoopEvent)
    assert [(e.agent, e.error) for e in loops] == [("opted-in", None),
                                                   ("opted-in", result["type"])]


def test_with_instrument_a_run_is_counted_once(
        base: tuple[Monitor, InMemorySink], llm: OpenAIChatServer) -> None:
    """When instrument() observes every run, the mixin steps aside."""
    mon, sink = base
    llm.script(Turn(json.dumps({"answer": "a"}), prompt_tokens=3, completion_tokens=1))
    instrument(mon)
    try:
        quietly(agent(llm).run, question="once")
    finally:
        uninstrument()
    mon.flush()
    assert [e.agent for e in sink.of(LoopEvent)] == ["opted-in"]


def test_enable_observability_keeps_kaizens_signature_and_tracing_hook(
        base: tuple[Monitor, InMemorySink], llm: OpenAIChatServer) -> None:
    """The mixin does not replace enable_observability: positional and Kaizen's keyword
    arguments bind as Kaizen documents them, and its TracingHook is registered."""
    observed = agent(llm)
    manager = observed.enable_observability("svc", "localhost", free_port(), True,
                                            enable_metrics=True, enable_audit=False)
    try:
        assert manager.get_service_name() == "svc"
        assert "tracing" in manager.get_enabled_components()
        assert any("tracing" in name.lower()
                   for name in observed.hook_manager.registered_hook_names())
    finally:
        manager.shutdown()


def test_replace_observability_is_reachable_from_the_integration(
        base: tuple[Monitor, InMemorySink], llm: OpenAIChatServer) -> None:
    """kaizen_perf.integrations.kaizen.replace_observability() makes Kaizen's own method return
    compat's manager, called with Kaizen's signature; restore_observability() undoes it."""
    from kaizen.core.autonomy.observability.manager import ObservabilityManager as KaizenManager

    from kaizen_perf.compat import ObservabilityManager as CompatManager
    from kaizen_perf.integrations.kaizen import replace_observability, restore_observability

    mon, _ = base
    replace_observability(mon)
    try:
        manager = agent(llm).enable_observability("svc", "localhost", free_port(), True,
                                                  enable_tracing=False, enable_audit=False)
        assert isinstance(manager, CompatManager)
    finally:
        restore_observability()
    manager = agent(llm).enable_observability("svc", enable_tracing=False, enable_audit=False)
    assert isinstance(manager, KaizenManager)


def test_a_program_that_never_imports_kaizen_has_nothing_patched(tmp_path: Path) -> None:
    """Under kaizen-perf run, a program without Kaizen never loads Kaizen or our integration."""
    probe = ("import json, sys; print(json.dumps(sorted(m for m in sys.modules "
             "if m == 'kaizen' or m.startswith(('kaizen.', 'kaizen_perf.integrations.kaizen')))))")
    proc = subprocess.run(
        [sys.executable, "-m", "kaizen_perf", "run", "--no-profile", "--metrics-addr", ":0",
         "--out", str(tmp_path / "run"), "--", sys.executable, "-c", probe],
        capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("[")))
    assert loaded == []
