"""Span records encoded straight to OTLP equal what OpenTelemetry's encoder makes of SDK spans."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SpanExporter, SpanExportResult

from kaizen_perf import Monitor
from kaizen_perf._context import parse_traceparent
from kaizen_perf.exporters.span_outputs import MemorySpanExporter
from kaizen_perf.tracing import Sampler, TraceSink

_WALL = 1_700_000_000_000_000_000
_CALLER = "00-0000000000000000000000000000abcd-00000000000000ef-01"


class _Capture(SpanExporter):
    """Takes encoded requests only: the SDK path raising proves the record encoder ran."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def export_encoded(self, body: bytes) -> SpanExportResult:
        self.bodies.append(body)
        return SpanExportResult.SUCCESS

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        raise AssertionError("SDK spans were built for an encoded exporter")


def _run(traceparent: str | None, max_batch: int = 2048,
         sampler: Sampler | None = None) -> tuple[_Capture, MemorySpanExporter]:
    """Every kind of span, through a Monitor (whose scopes read ``TRACEPARENT``)."""
    capture, memory = _Capture(), MemorySpanExporter()
    sink = TraceSink([("wire", capture), ("memory", memory)], to_wall_ns=lambda ns: ns + _WALL,
                     resource=Resource.create({"service.name": "svc"}), sampler=sampler,
                     root=parse_traceparent(traceparent), max_batch=max_batch)
    mon = Monitor("r", sinks=[sink], pricing=None)
    mon.hook_executed("outside_any_scope", duration_s=0.001)
    for _ in range(2):  # the second round hits the cached shapes
        with mon.agent_loop():
            with mon.tool("ünïcode tool"):
                mon.record_api_call("anthropic", "claude-sonnet-4-5", input_tokens=2**40,
                                    output_tokens=3, cache_read_tokens=7, duration_s=0.5,
                                    error="RateLimitError")
            with mon.tool("other"):
                pass
            with pytest.raises(ValueError), mon.tool("bad"):
                raise ValueError("x")
            mon.permission_check("bash", "denied", reason="policy", duration_s=0.001)
            mon.checkpoint("save", size_bytes=10, duration_s=0.01)
            mon.control_request("approval", outcome="timeout")
            mon.interrupt("immediate")
            mon.task("review", duration_s=1.0)
    with pytest.raises(KeyError), mon.agent_loop():
        raise KeyError("loop failed")
    assert mon.shutdown(5.0)
    return capture, memory


def _decoded(bodies: Sequence[bytes]) -> tuple[list[Span], list[ExportTraceServiceRequest]]:
    requests = []
    for body in bodies:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        requests.append(request)
    spans = [s for r in requests for rs in r.resource_spans for ss in rs.scope_spans
             for s in ss.spans]
    return spans, requests


@pytest.mark.parametrize("traceparent", [_CALLER, None], ids=["caller-trace", "own-trace"])
@pytest.mark.parametrize("max_batch", [2048, 3], ids=["one-request", "many-requests"])
def test_record_encoding_equals_the_sdk_encoding_of_the_same_spans(
        traceparent: str | None, max_batch: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Names, attributes, ids, times, status, parent links and flags match span for span."""
    if traceparent is None:
        monkeypatch.delenv("TRACEPARENT", raising=False)
    else:
        monkeypatch.setenv("TRACEPARENT", traceparent)
    capture, memory = _run(traceparent, max_batch)
    sdk_spans = memory.get_finished_spans()
    ours, requests = _decoded(capture.bodies)
    theirs, [sdk_request] = _decoded([encode_spans(sdk_spans).SerializeToString()])
    assert len(ours) == len(theirs) == 22
    assert ours == theirs
    assert (max_batch == 3) == (len(requests) > 1)
    for request in requests:  # every request carries the resource and the scope
        [resource_spans] = request.resource_spans
        assert resource_spans.resource == sdk_request.resource_spans[0].resource
        [scope_spans] = resource_spans.scope_spans
        assert scope_spans.scope == sdk_request.resource_spans[0].scope_spans[0].scope
    # the checks the equality relies on, spelled out
    by_name = {s.name: s for s in reversed(ours)}  # first of each name
    loop, tool = by_name["invoke_agent r"], by_name["execute_tool ünïcode tool"]
    assert tool.parent_span_id == loop.span_id and tool.trace_id == loop.trace_id
    assert by_name["execute_tool bad"].status.code == 2
    assert tool.start_time_unix_nano > _WALL and tool.end_time_unix_nano > tool.start_time_unix_nano
    outside = by_name["hook outside_any_scope"]
    for span in (outside, loop):  # a point hook outside any scope, a top-level scope
        if traceparent is None:
            assert span.parent_span_id == b"" and span.flags == 0x100
        else:
            assert span.trace_id.hex() == "abcd".zfill(32)
            assert span.parent_span_id.hex() == "ef".zfill(16) and span.flags == 0x300


def test_sampled_out_spans_are_neither_encoded_nor_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """With ratio 0 only errors and the rest of their traces reach both exporters."""
    monkeypatch.delenv("TRACEPARENT", raising=False)
    capture, memory = _run(None, sampler=Sampler(0.0, 10.0))
    ours, _ = _decoded(capture.bodies)
    names = sorted(s.name for s in ours)
    assert names == sorted(s.name for s in memory.get_finished_spans())
    assert "hook outside_any_scope" not in names  # its own trace, clean and fast
    assert names.count("chat claude-sonnet-4-5") == 2 and names.count("invoke_agent r") == 3
    assert "execute_tool ünïcode tool" in names  # ends after its child's error


def test_memory_exporter_builds_spans_only_when_read_and_keeps_them_after_shutdown() -> None:
    """Records stay records until read; a later read returns the same spans, in order."""
    calls: list[int] = []
    memory = MemorySpanExporter()

    def to_sdk(record: object) -> ReadableSpan:
        calls.append(1)
        return ReadableSpan(f"span {len(calls)}")

    assert memory.export_records([(0, 1, 0, False, 0)] * 2, to_sdk)
    assert calls == []
    memory.shutdown()
    assert [s.name for s in memory.get_finished_spans()] == ["span 1", "span 2"]
    assert [s.name for s in memory.get_finished_spans()] == ["span 1", "span 2"]
    assert len(calls) == 2
    assert not memory.export_records([(0, 1, 0, False, 0)], to_sdk)
    memory.clear()
    assert memory.get_finished_spans() == ()


def test_console_exporter_gets_sdk_spans() -> None:
    """An SDK exporter (console) still receives finished spans, printed as JSON."""
    out = io.StringIO()
    sink = TraceSink([("console", ConsoleSpanExporter(out=out))], to_wall_ns=lambda ns: ns + _WALL)
    mon = Monitor("r", sinks=[sink])
    with mon.agent_loop(), mon.tool("t"):
        pass
    assert mon.shutdown(5.0)
    decoder, text, names = json.JSONDecoder(), out.getvalue(), []
    pos = 0
    while pos < len(text.rstrip()):
        span, pos = decoder.raw_decode(text, pos)
        names.append(span["name"])
        pos += 1
    assert names == ["execute_tool t", "invoke_agent r"]
