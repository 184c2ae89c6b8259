"""The OTLP/HTTP span exporter: SDK spans, headers, compression, unreachable endpoints."""

from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from kaizen_perf import Monitor
from kaizen_perf._context import format_traceparent
from kaizen_perf.exporters.otlp_wire import OtlpHttpSpanExporter, parse_headers
from kaizen_perf.tracing import TraceSink
from tests.helpers import free_port
from tests.tracing.receiver import _decode_traces as decode_traces
from tests.tracing.receiver import otlp_receiver


def _spans(mon: Monitor) -> list[object]:
    [sink] = [s for s in mon.pipeline._sinks if isinstance(s, TraceSink)]
    return list(sink.exporters["memory"].get_finished_spans())  # type: ignore[attr-defined]


def test_sdk_spans_are_sent_as_opentelemetry_encodes_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """SDK spans given to export() (a user's tracer provider) reach the receiver as
    OpenTelemetry's encoder writes them, for loops, tools, chats, errors and points."""
    monkeypatch.setenv("TRACEPARENT", format_traceparent(0xABC, 0xDEF))
    mon = Monitor("r", traces="memory", pricing=None)
    with mon.agent_loop():
        with mon.tool("ünïcode tool"):
            mon.record_api_call("anthropic", "claude-sonnet-4-5", input_tokens=2**40,
                                output_tokens=3, duration_s=0.5, error="RateLimitError")
        with pytest.raises(ValueError), mon.tool("bad"):
            raise ValueError("x")
        mon.permission_check("bash", "denied", reason="policy", duration_s=0.001)
        mon.checkpoint("save", size_bytes=10, duration_s=0.01)
        mon.control_request("approval", outcome="timeout")
        mon.interrupt("immediate")
        mon.task("review", duration_s=1.0)
    mon.shutdown(2.0)
    spans = _spans(mon)
    assert len(spans) == 9
    with otlp_receiver() as rec:
        exporter = OtlpHttpSpanExporter(endpoint=rec.url + "/v1/traces", environ={})
        assert exporter.export(spans).name == "SUCCESS"  # type: ignore[arg-type]
        exporter.shutdown()
    theirs = encode_spans(spans).SerializeToString()  # type: ignore[arg-type]
    assert rec.spans == decode_traces(theirs) and len(rec.spans) == 9


def test_headers_follow_the_otel_format() -> None:
    """OTEL_EXPORTER_OTLP_HEADERS is k=v pairs, comma-separated, values URL-encoded."""
    assert parse_headers("a=1, Authorization=Bearer%20x ,bad,=y") == {
        "a": "1", "authorization": "Bearer x"}


def test_gzip_compression_and_traces_endpoint_variables() -> None:
    """OTEL_EXPORTER_OTLP_COMPRESSION=gzip compresses; the TRACES endpoint is used as is."""
    with otlp_receiver() as rec:
        exporter = OtlpHttpSpanExporter(environ={
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": rec.url + "/v1/traces",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
            "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"})
        mon = Monitor("r", traces="memory")
        with mon.tool("t"):
            pass
        mon.shutdown(2.0)
        assert exporter.export(_spans(mon)).name == "SUCCESS"  # type: ignore[arg-type]
        exporter.shutdown()
    assert [s.name for s in rec.spans] == ["execute_tool t"]
    assert rec.headers[0]["content-encoding"] == "gzip"


def test_an_unreachable_endpoint_is_a_failure_with_the_reason() -> None:
    """A refused connection fails the batch (no retry loop) and keeps the reason for the log."""
    exporter = OtlpHttpSpanExporter(endpoint=f"http://127.0.0.1:{free_port()}/v1/traces",
                                    environ={})
    mon = Monitor("r", traces="memory")
    with mon.tool("t"):
        pass
    mon.shutdown(2.0)
    result = exporter.export(_spans(mon))  # type: ignore[arg-type]
    exporter.shutdown()
    assert result.name == "FAILURE"
    assert exporter.last_error is not None and "ConnectionError" in exporter.last_error
