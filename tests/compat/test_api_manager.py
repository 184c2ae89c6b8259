"""Kaizen's ObservabilityManager and ``BaseAgent.enable_observability``, on Kaizen and compat.

Written from Kaizen 2.46's ``observability/manager.py`` and ``core/base_agent.py``.
For compat, ``BaseAgent.enable_observability`` is the one ``replace_observability()``
installs; the agent is a real Kaizen ``BaseAgent`` (no LLM call is made). Tracing
points at a closed loopback port: no span is exported in these tests.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kaizen.core.autonomy.hooks import HookEvent
from kaizen.core.autonomy.hooks.builtin.tracing_hook import TracingHook
from kaizen.core.base_agent import BaseAgent
from kaizen.core.config import BaseAgentConfig
from kaizen.signatures import InputField, OutputField, Signature
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kaizen_perf import Monitor
from kaizen_perf.compat.agent import replace_observability, restore_observability
from tests.compat.conftest import Api
from tests.helpers import free_port

KAIZEN_SIGNATURE = inspect.signature(BaseAgent.enable_observability)


class QA(Signature):
    """Question in, answer out."""

    question: str = InputField(description="the question")
    answer: str = OutputField(description="the answer")


def _obs(api: Api, *args: Any, **kwargs: Any) -> Any:
    kwargs.setdefault("jaeger_host", "127.0.0.1")
    kwargs.setdefault("jaeger_port", free_port())
    return api.ObservabilityManager(*args, **kwargs)


def test_all_components_by_default(api: Api, tmp_path: Path, logger_name: str,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """By default every component is on, in Kaizen's order, and reachable."""
    monkeypatch.chdir(tmp_path)
    obs = _obs(api)
    try:
        assert obs.get_service_name() == "kaizen-agent"
        assert obs.get_enabled_components() == ["metrics", "logging", "tracing", "audit"]
        assert all(obs.is_component_enabled(c) for c in ("metrics", "logging", "tracing",
                                                          "audit"))
        assert not obs.is_component_enabled("profiling")
        assert isinstance(obs.metrics, api.MetricsCollector)
        assert isinstance(obs.logging, api.LoggingManager)
        assert isinstance(obs.audit, api.AuditTrailManager)
        assert obs.get_tracing_manager() is obs.tracing
        assert isinstance(obs.get_logger(logger_name), api.StructuredLogger)
    finally:
        obs.shutdown()


def test_positional_arguments_bind_as_in_kaizen(api: Api) -> None:
    """service_name, the four enable flags, then jaeger_host, jaeger_port, insecure."""
    port = free_port()
    obs = api.ObservabilityManager("svc", False, True, True, False, "127.0.0.1", port, False)
    try:
        assert obs.get_enabled_components() == ["logging", "tracing"]
        assert (obs.tracing.jaeger_host, obs.tracing.jaeger_port, obs.tracing.insecure) == (
            "127.0.0.1", port, False)
        assert obs.tracing.service_name == "svc"
    finally:
        obs.shutdown()


def test_disabled_components_are_inert(api: Api) -> None:
    """With everything off: no logger or tracer (None), no metrics text, no audit entries."""
    obs = _obs(api, "svc", enable_metrics=False, enable_logging=False, enable_tracing=False,
               enable_audit=False)

    async def run() -> tuple[str, list[Any], list[Any]]:
        await obs.record_metric("x", 1.0)
        await obs.record_audit("a", "tool_execute", {}, "success")
        return (await obs.export_metrics(), await obs.query_audit_by_agent("a"),
                await obs.query_audit_by_action("tool_execute"))
    assert asyncio.run(run()) == ("", [], [])
    assert obs.get_logger("x") is None and obs.get_tracing_manager() is None
    assert (obs.metrics, obs.logging, obs.tracing, obs.audit) == (None, None, None, None)
    assert obs.get_enabled_components() == []
    obs.shutdown()


def test_record_metric_routes_by_type(api: Api) -> None:
    """record_metric feeds counters, gauges and histograms; 'summary' is not recorded."""
    obs = _obs(api, "svc", enable_tracing=False, enable_audit=False)

    async def run() -> str:
        await obs.record_metric("calls_total", 1.0, labels={"provider": "openai"})
        await obs.record_metric("calls_total", 2.0, "counter", {"provider": "openai"})
        await obs.record_metric("memory_bytes", 512.0, type="gauge")
        await obs.record_metric("latency_ms", 12.0, type="histogram")
        await obs.record_metric("size", 3.0, type="summary")
        return await obs.export_metrics()
    text = asyncio.run(run())
    assert obs.metrics.get_counter_value("calls_total", {"provider": "openai"}) == 3.0
    assert obs.metrics.get_gauge_value("memory_bytes") == 512.0
    assert obs.metrics.get_histogram_values("latency_ms") == [12.0]
    assert obs.metrics.get_metric_count() == 4 and "size" not in text
    assert 'calls_total{provider="openai"} 3.0' in text and "latency_ms_p50 12.0" in text


def test_audit_through_the_manager(api: Api, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """record_audit stores entries that query_audit_by_agent/action return."""
    monkeypatch.chdir(tmp_path)
    obs = _obs(api, "svc", enable_tracing=False)

    async def run() -> tuple[list[Any], list[Any]]:
        await obs.record_audit(agent_id="qa", action="tool_execute",
                               details={"tool_name": "bash"}, result="success",
                               user_id="u@example.com", metadata={"m": 1})
        await obs.record_audit("qa", "permission_deny", {"tool_name": "rm"}, "denied")
        return await obs.query_audit_by_agent("qa"), await obs.query_audit_by_action(
            "permission_deny")
    by_agent, by_action = asyncio.run(run())
    assert [(e.action, e.result, e.user_id) for e in by_agent] == [
        ("tool_execute", "success", "u@example.com"), ("permission_deny", "denied", None)]
    assert [e.details for e in by_action] == [{"tool_name": "rm"}]


def test_unwritable_audit_turns_only_audit_off(api: Api, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """When the default audit file cannot be made, audit is off and the rest still works."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".kaizen").write_text("a file where the audit directory should be")
    obs = _obs(api, "svc", enable_tracing=False)
    assert obs.audit is None and obs.get_enabled_components() == ["metrics", "logging"]
    asyncio.run(obs.record_audit("a", "x", {}, "success"))  # a no-op, not an error
    obs.shutdown()


def test_shutdown_clears_logging_context(api: Api, logger_name: str) -> None:
    """shutdown() clears every logger's context and stops tracing without raising."""
    obs = _obs(api, "svc", enable_audit=False)
    log = obs.get_logger(logger_name)
    log.add_context(agent_id="a")
    obs.shutdown()
    assert log.get_context() == {}


# -- BaseAgent.enable_observability ----------------------------------------------------------
@pytest.fixture
def agent(api: Api) -> Iterator[BaseAgent]:
    """A real Kaizen BaseAgent whose enable_observability is Kaizen's, or compat's."""
    mon = None
    if api.name == "compat":
        mon = Monitor("agent-under-test", environ={})
        replace_observability(monitor=mon)
    # Kaizen's offline "mock" provider; no MCP servers (the builtin one is a subprocess)
    a = BaseAgent(config=BaseAgentConfig(llm_provider="mock", model="mock-model"),
                  signature=QA(), mcp_servers=[])
    try:
        yield a
    finally:
        a.cleanup()
        restore_observability()
        if mon is not None:
            mon.shutdown(2.0)


def test_enable_observability_signature(api: Api, agent: BaseAgent) -> None:
    """The method has Kaizen's parameters: same names, order, kinds and defaults."""
    def shape(sig: inspect.Signature) -> list[tuple[str, Any, Any]]:
        return [(p.name, p.kind, p.default) for p in sig.parameters.values()]
    assert shape(inspect.signature(type(agent).enable_observability)) == shape(
        KAIZEN_SIGNATURE)


def test_enable_observability_positional(api: Api, agent: BaseAgent) -> None:
    """Positional arguments bind as in Kaizen, and Kaizen's TracingHook is registered."""
    port = free_port()
    obs = agent.enable_observability("svc", "127.0.0.1", port, True, [HookEvent.PRE_TOOL_USE],
                                     True, False, True, False)
    assert isinstance(obs, api.ObservabilityManager)
    assert obs.get_service_name() == "svc"
    assert obs.get_enabled_components() == ["metrics", "tracing"]
    assert (obs.tracing.jaeger_host, obs.tracing.jaeger_port) == ("127.0.0.1", port)
    assert agent._hook_manager is not None
    assert agent._hook_manager.registered_hook_names() == {"tracing_hook"}
    [hook] = {h for hs in agent._hook_manager._hooks.values() for _, h in hs}
    assert isinstance(hook, TracingHook) and hook.tracing_manager is obs.tracing
    assert hook.events_to_trace == [HookEvent.PRE_TOOL_USE]
    assert agent._tracing_manager is obs.tracing and agent._observability_manager is obs


def test_enable_observability_keywords_and_defaults(api: Api, agent: BaseAgent) -> None:
    """Keyword arguments work; the service name defaults to the agent's id; cleanup ends it."""
    obs = agent.enable_observability(jaeger_host="127.0.0.1", jaeger_port=free_port(),
                                     enable_audit=False, enable_tracing=False)
    assert obs.get_service_name() == agent.agent_id
    assert obs.get_enabled_components() == ["metrics", "logging"]
    assert agent._tracing_manager is None
    agent.cleanup()
    assert agent._observability_manager is None


# Kaizen 2.46's own run path warns about its own deprecated internals
@pytest.mark.filterwarnings("ignore:Deprecated since v2.5.0:DeprecationWarning")
def test_agent_run_fires_tracing_hook_spans(api: Api, agent: BaseAgent,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A real agent run drives Kaizen's TracingHook into the returned manager's tracer."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "0.2")  # nothing listens: give up soon
    obs = agent.enable_observability("svc", "127.0.0.1", free_port(), enable_audit=False)
    spans = InMemorySpanExporter()
    obs.tracing.tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    result = agent.run(question="What is 2 + 2?")
    assert isinstance(result, dict)
    finished = [s for s in spans.get_finished_spans() if s.name == "post_agent_loop"]
    assert finished and finished[0].attributes["agent_id"] == agent.agent_id
    assert agent._hook_manager.get_stats()["tracing_hook"]["failure_count"] == 0
