"""Spans from hook events, checked in a real OTLP/HTTP receiver (protobuf decoded)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

from kaizen_perf import Monitor
from kaizen_perf._context import format_traceparent
from tests.tracing.receiver import otlp_receiver

SPAN_KIND_INTERNAL, SPAN_KIND_CLIENT = 1, 3
STATUS_ERROR = 2


def _monitor(url: str, **kw: object) -> Monitor:
    return Monitor("researcher", traces="otlp", otlp_endpoint=url, **kw)  # type: ignore[arg-type]


def _run_one_iteration(mon: Monitor) -> None:
    with mon.agent_loop():
        with mon.tool("web_search"):
            mon.record_api_call("anthropic", "claude-sonnet-4-5", input_tokens=100,
                                output_tokens=20, cache_read_tokens=1000,
                                cache_write_tokens=50, duration_s=0.25)
        mon.permission_check("bash", "denied", reason="policy", duration_s=0.001)
        mon.checkpoint("save", size_bytes=52_000, duration_s=0.02)
        mon.hook_executed("pre_tool", duration_s=0.0004)
        mon.control_request("approval", duration_s=0.2, outcome="timeout")
        mon.interrupt("graceful")
        with pytest.raises(RuntimeError), mon.tool("flaky"):
            raise RuntimeError("boom")


def test_span_tree_names_attributes_and_links_reach_the_receiver() -> None:
    """One loop iteration becomes invoke_agent → execute_tool → chat spans with GenAI attributes."""
    with otlp_receiver() as rec:
        mon = _monitor(rec.url)
        _run_one_iteration(mon)
        assert mon.shutdown(5.0)
        [loop] = rec.by_name("invoke_agent researcher")
        [tool] = rec.by_name("execute_tool web_search")
        [chat] = rec.by_name("chat claude-sonnet-4-5")
        [flaky] = rec.by_name("execute_tool flaky")
    assert {s.trace_id for s in rec.spans} == {loop.trace_id}
    assert loop.parent_id == 0
    assert tool.parent_id == loop.span_id and flaky.parent_id == loop.span_id
    assert chat.parent_id == tool.span_id
    assert chat.kind == SPAN_KIND_CLIENT and tool.kind == SPAN_KIND_INTERNAL
    assert chat.attributes["gen_ai.operation.name"] == "chat"
    assert chat.attributes["gen_ai.provider.name"] == "anthropic"
    assert chat.attributes["gen_ai.request.model"] == "claude-sonnet-4-5"
    assert chat.attributes["gen_ai.usage.input_tokens"] == 100 + 1000 + 50
    assert chat.attributes["gen_ai.usage.output_tokens"] == 20
    assert chat.attributes["gen_ai.usage.cache_read.input_tokens"] == 1000
    assert chat.attributes["kaizen.tool"] == "web_search"
    assert chat.end_ns - chat.start_ns == 250_000_000
    assert tool.attributes["gen_ai.tool.name"] == "web_search"
    assert loop.attributes["gen_ai.agent.name"] == "researcher"
    assert loop.start_ns <= tool.start_ns <= tool.end_ns <= loop.end_ns
    assert abs(loop.end_ns - time.time_ns()) < 60e9, "wall-clock times, not perf counters"
    assert flaky.status_code == STATUS_ERROR and flaky.attributes["error.type"] == "RuntimeError"
    names = {s.name for s in rec.spans if s.parent_id == loop.span_id}
    assert {"permission_check bash", "checkpoint save", "hook pre_tool",
            "control_request approval", "interrupt graceful"} <= names
    [control] = rec.by_name("control_request")
    assert control.status_code == STATUS_ERROR and control.attributes["error.type"] == "timeout"
    assert loop.resource["service.name"] == "researcher"


def test_traceparent_in_the_environment_makes_spans_children_of_the_caller(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With TRACEPARENT set (as the Claude Agent SDK does), the loop span joins that trace."""
    trace_id, parent = 0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331
    monkeypatch.setenv("TRACEPARENT", format_traceparent(trace_id, parent))
    with otlp_receiver() as rec:
        mon = _monitor(rec.url)
        with mon.agent_loop(), mon.tool("t"):
            pass
        mon.record_api_call("anthropic", "claude-sonnet-4-5", input_tokens=1, duration_s=0.1)
        assert mon.shutdown(5.0)
    [loop] = rec.by_name("invoke_agent")
    [chat] = rec.by_name("chat")
    assert loop.trace_id == trace_id and loop.parent_id == parent
    assert chat.trace_id == trace_id and chat.parent_id == parent, "outside a scope: the caller"
    assert {s.trace_id for s in rec.spans} == {trace_id}


_CHILD = textwrap.dedent("""
    import sys
    from kaizen_perf import Monitor
    mon = Monitor("child", traces="otlp", otlp_endpoint=sys.argv[1])
    with mon.agent_loop():
        with mon.tool("child_tool"):
            pass
    sys.exit(0 if mon.shutdown(5.0) else 3)
""")


def test_a_subprocess_started_with_child_env_continues_the_trace() -> None:
    """A monitored child started with child_env() puts its spans under the parent's tool span."""
    from kaizen_perf.tracing import child_env
    with otlp_receiver() as rec:
        mon = _monitor(rec.url)
        with mon.agent_loop(), mon.tool("spawn"):
            subprocess.run([sys.executable, "-c", _CHILD, rec.url], env=child_env(),
                           check=True, timeout=60)
        assert mon.shutdown(5.0)
    [spawn] = rec.by_name("execute_tool spawn")
    [child_loop] = rec.by_name("invoke_agent child")
    [child_tool] = rec.by_name("execute_tool child_tool")
    assert child_loop.trace_id == spawn.trace_id == child_tool.trace_id
    assert child_loop.parent_id == spawn.span_id
    assert child_tool.parent_id == child_loop.span_id


def test_automatic_propagation_injects_traceparent_into_popen() -> None:
    """With propagate_subprocess on, a plain subprocess.run sees the current span as TRACEPARENT."""
    from kaizen_perf.tracing import stop_propagating_to_subprocesses
    mon = Monitor("p", traces="memory", propagate_subprocess=True)
    try:
        with mon.agent_loop(), mon.tool("spawn"):
            out = subprocess.run([sys.executable, "-c",
                                  "import os; print(os.environ.get('TRACEPARENT'))"],
                                 capture_output=True, text=True, check=True, timeout=60)
            explicit = subprocess.run(
                [sys.executable, "-c", "import os; print(os.environ['TRACEPARENT'])"],
                env={**os.environ, "TRACEPARENT": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"},
                capture_output=True, text=True, check=True, timeout=60)
        outside = subprocess.run([sys.executable, "-c",
                                  "import os; print(os.environ.get('TRACEPARENT'))"],
                                 capture_output=True, text=True, check=True, timeout=60)
    finally:
        stop_propagating_to_subprocesses()
        mon.shutdown(5.0)
    value = out.stdout.strip()
    assert value.startswith("00-") and value.endswith("-01") and len(value) == 55
    assert explicit.stdout.strip() == "00-" + "1" * 32 + "-" + "2" * 16 + "-01"
    assert outside.stdout.strip() == str(os.environ.get("TRACEPARENT"))


def test_standard_otel_variables_switch_the_exporter_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_ENDPOINT/HEADERS and OTEL_SERVICE_NAME work."""
    with otlp_receiver() as rec:
        monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rec.url)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=acme,authorization=Bearer t0k")
        monkeypatch.setenv("OTEL_SERVICE_NAME", "research-service")
        mon = Monitor("researcher")
        with mon.agent_loop():
            pass
        assert mon.shutdown(5.0)
    [loop] = rec.by_name("invoke_agent")
    assert loop.resource["service.name"] == "research-service"
    assert rec.headers[0]["x-tenant"] == "acme"


def test_no_variables_means_no_trace_sink(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without KAIZEN_PERF_TRACES or OTEL_* variables nothing is exported (no surprise traffic)."""
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT",
                 "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    from kaizen_perf.config import Settings
    from kaizen_perf.outputs import build_sinks
    assert build_sinks(Settings.load({}), to_wall_ns=lambda ns: ns, environ={}) == []
    sinks = build_sinks(Settings.load({}), to_wall_ns=lambda ns: ns,
                        environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"})
    assert [type(s).__name__ for s in sinks] == ["TraceSink"]
    for sink in sinks:
        sink.close(1.0)  # type: ignore[attr-defined]


def test_unknown_otel_exporter_name_is_a_config_error() -> None:
    """OTEL_TRACES_EXPORTER=zipkin fails at start-up with the supported names."""
    from kaizen_perf.config import Settings
    from kaizen_perf.errors import ConfigError
    from kaizen_perf.tracing import exporter_kinds
    with pytest.raises(ConfigError, match="otlp, console, memory or none"):
        exporter_kinds(Settings.load({}), {"OTEL_TRACES_EXPORTER": "zipkin"})
