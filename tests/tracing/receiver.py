"""A real OTLP/HTTP receiver on 127.0.0.1 that decodes protobuf with opentelemetry-proto."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


@dataclass
class Span:
    """One decoded span with its resource attributes."""

    name: str
    trace_id: int
    span_id: int
    parent_id: int
    kind: int
    start_ns: int
    end_ns: int
    status_code: int
    attributes: dict[str, Any]
    resource: dict[str, Any]


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


def attrs(kvs: Any) -> dict[str, Any]:
    """OTLP KeyValue list → dict."""
    return {kv.key: _value(kv.value) for kv in kvs}


@dataclass
class Receiver:
    """What the receiver got: spans, metric requests, request headers."""

    url: str
    spans: list[Span] = field(default_factory=list)
    metrics: list[ExportMetricsServiceRequest] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def by_name(self, prefix: str) -> list[Span]:
        """Spans whose name starts with ``prefix``."""
        with self.lock:
            return [s for s in self.spans if s.name.startswith(prefix)]


def _decode_traces(body: bytes) -> list[Span]:
    req = ExportTraceServiceRequest()
    req.ParseFromString(body)
    out = []
    for rs in req.resource_spans:
        resource = attrs(rs.resource.attributes)
        for ss in rs.scope_spans:
            for s in ss.spans:
                out.append(Span(
                    s.name, int.from_bytes(s.trace_id, "big"), int.from_bytes(s.span_id, "big"),
                    int.from_bytes(s.parent_span_id, "big") if s.parent_span_id else 0,
                    s.kind, s.start_time_unix_nano, s.end_time_unix_nano, s.status.code,
                    attrs(s.attributes), resource))
    return out


@contextmanager
def otlp_receiver(*, hang: bool = False) -> Iterator[Receiver]:
    """Serve OTLP/HTTP on a free port; ``hang`` accepts requests and never answers."""
    stop = threading.Event()
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if hang:
                stop.wait(120)
                return
            rec = holder["rec"]
            with rec.lock:
                rec.headers.append({k.lower(): v for k, v in self.headers.items()})
                if self.path.endswith("/v1/traces"):
                    rec.spans.extend(_decode_traces(body))
                elif self.path.endswith("/v1/metrics"):
                    req = ExportMetricsServiceRequest()
                    req.ParseFromString(body)
                    rec.metrics.append(req)
            payload = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    holder["rec"] = Receiver(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, name="otlp-receiver", daemon=True)
    thread.start()
    try:
        yield holder["rec"]
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
