"""The OTLP protobuf wire primitives, and the OTLP/HTTP span exporter that sends them.

OpenTelemetry's encoder builds a protobuf object per span, attribute and value:
about 16 µs of CPU per span, all of it holding the GIL, which an agent waking
from a 1 ms tool call then waits for (measured: +3.8 % on such a loop). Our
spans have a fixed shape and their attributes repeat (operation, agent, tool
and model names), so kaizen-perf writes the protobuf wire format directly: the
primitives here (varints, length-delimited fields, cached ``KeyValue`` bytes) and
the one span encoder built on them, :class:`~kaizen_perf.exporters.otlp_records.RecordEncoder`.
SDK spans handed to :meth:`OtlpHttpSpanExporter.export` (a user's own tracer
provider) are encoded by OpenTelemetry's encoder instead: kaizen-perf keeps one.

Wire format (opentelemetry-proto ``trace/v1``): ExportTraceServiceRequest{1:
ResourceSpans{1: Resource{1: KeyValue*}, 2: ScopeSpans{1: scope, 2: Span*}}}.
The tests decode the output with opentelemetry-proto.

Configuration follows the OpenTelemetry variables: ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``
(full URL) or ``OTEL_EXPORTER_OTLP_ENDPOINT`` (+ ``/v1/traces``), ``…_HEADERS``,
``…_CERTIFICATE`` and ``…_COMPRESSION`` (``gzip``), the ``TRACES`` form first.
"""

from __future__ import annotations

import gzip
import os
import struct
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote

import requests
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

_pack_q = struct.Struct("<Q").pack
_pack_d = struct.Struct("<d").pack
_pack_i = struct.Struct("<I").pack


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


SMALL = [bytes([i]) for i in range(0x80)]
_TWO_BYTES = [_varint(n) for n in range(1 << 14)]  # lengths and most token counts


def varint(n: int) -> bytes:
    return _TWO_BYTES[n] if n < 16384 else _varint(n)


def ld(tag: int, payload: bytes) -> bytes:
    """A length-delimited field (tag already includes wire type 2)."""
    return SMALL[tag] + varint(len(payload)) + payload if tag < 0x80 else (
        varint(tag) + varint(len(payload)) + payload)


def _any_value(value: Any) -> bytes:
    if isinstance(value, bool):
        return b"\x10" + (b"\x01" if value else b"\x00")
    if isinstance(value, int):
        return b"\x18" + varint(value & 0xFFFFFFFFFFFFFFFF)
    if isinstance(value, float):
        return b"\x21" + _pack_d(value)
    if isinstance(value, tuple | list):  # array_value (5): ArrayValue{1: AnyValue*}
        return ld(0x2A, b"".join(ld(0x0A, _any_value(v)) for v in value))
    return ld(0x0A, str(value).encode())


_KV_CACHE: dict[tuple[str, Any, type], bytes] = {}
_CACHEABLE = (str, bool, tuple)  # a tuple, not ``str | bool``: no union built per call
_KEYS: dict[str, bytes] = {}  # encoded key field per attribute name (a few dozen names)
_ATTR_CACHE: dict[tuple[str, Any, type], bytes] = {}


def _key(key: str) -> bytes:
    encoded = _KEYS.get(key)
    if encoded is None:
        encoded = ld(0x0A, key.encode())
        if len(_KEYS) < 4096:
            _KEYS[key] = encoded
    return encoded


def key_value(key: str, value: Any) -> bytes:
    """An encoded KeyValue, cached for repeating string/bool pairs (bounded)."""
    cacheable = isinstance(value, _CACHEABLE)
    if cacheable:
        hit = _KV_CACHE.get((key, value, type(value)))
        if hit is not None:
            return hit
    if type(value) is int:  # token counts: the commonest uncached value, no isinstance chain
        body = b"\x18" + varint(value & 0xFFFFFFFFFFFFFFFF)
        encoded = _key(key) + b"\x12" + SMALL[len(body)] + body  # body < 12 bytes
    else:
        encoded = _key(key) + ld(0x12, _any_value(value))
    if cacheable and len(_KV_CACHE) < 20_000:
        _KV_CACHE[(key, value, type(value))] = encoded
    return encoded


def span_attribute(key: str, value: Any) -> bytes:
    """A span's ``attributes`` field (9) holding one KeyValue; cached like :func:`key_value`."""
    if type(value) is str or type(value) is bool or type(value) is tuple:
        hit = _ATTR_CACHE.get((key, value, type(value)))
        if hit is None:
            hit = ld(0x4A, key_value(key, value))
            if len(_ATTR_CACHE) < 20_000:
                _ATTR_CACHE[(key, value, type(value))] = hit
        return hit
    return ld(0x4A, key_value(key, value))


# -- the exporter ------------------------------------------------------------------------------
def _env(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(f"OTEL_EXPORTER_OTLP_TRACES_{name}") or environ.get(
        f"OTEL_EXPORTER_OTLP_{name}")
    return value.strip() if value else None


def parse_headers(raw: str | None) -> dict[str, str]:
    """``k1=v1,k2=v2`` (values URL-encoded) as OTEL_EXPORTER_OTLP_HEADERS defines it."""
    headers: dict[str, str] = {}
    for item in (raw or "").split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            headers[unquote(key.strip()).lower()] = unquote(value.strip())
    return headers


def _session(url: str) -> requests.Session:
    """A session with what requests reads from the environment on every request (proxies
    and ``NO_PROXY``, ``.netrc`` credentials) looked up once, here: per request it cost
    ~200 µs of CPU per batch, in a thread that competes with the agent for the GIL."""
    session = requests.Session()
    session.proxies = requests.utils.get_environ_proxies(url)
    session.auth = requests.utils.get_netrc_auth(url)
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False
    return session


class OtlpHttpSpanExporter(SpanExporter):
    """POSTs encoded spans to an OTLP/HTTP receiver; one attempt per batch, with a timeout."""

    def __init__(self, *, endpoint: str | None = None, timeout_s: float = 3.0,
                 environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        full = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
        base = (env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip() or "http://localhost:4318")
        self.endpoint = endpoint or full or base.rstrip("/") + "/v1/traces"
        self._headers = {"content-type": "application/x-protobuf",
                         **parse_headers(_env(env, "HEADERS"))}
        self._gzip = (_env(env, "COMPRESSION") or "none").lower() == "gzip"
        if self._gzip:
            self._headers["content-encoding"] = "gzip"
        self._timeout = timeout_s
        self._session = _session(self.endpoint)
        self._verify: str | bool = _env(env, "CERTIFICATE") or self._session.verify
        self.last_error: str | None = None

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Send one batch of SDK spans (encoded by OpenTelemetry's own encoder: kaizen-perf's
        spans come as records through :meth:`export_encoded`); SUCCESS only on a 2xx answer."""
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

        return self.export_encoded(encode_spans(spans).SerializeToString())

    def export_encoded(self, body: bytes) -> SpanExportResult:
        """Send one encoded ``ExportTraceServiceRequest``; SUCCESS only on a 2xx answer."""
        if self._gzip:
            body = gzip.compress(body, compresslevel=1)
        try:
            answer = self._session.post(self.endpoint, data=body, headers=self._headers,
                                        timeout=self._timeout, verify=self._verify)
        except requests.RequestException as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            return SpanExportResult.FAILURE
        if 200 <= answer.status_code < 300:
            return SpanExportResult.SUCCESS
        self.last_error = f"HTTP {answer.status_code}: {answer.text[:200]}"
        return SpanExportResult.FAILURE

    def shutdown(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered here."""
        return True
