"""OTLP protobuf bytes straight from span records: no SDK span objects on the default path.

The OTLP exporter's thread turns the dispatcher's :data:`~kaizen_perf.tracing.spans.SpanRecord`
tuples into an ``ExportTraceServiceRequest`` without building a ``ReadableSpan``,
a ``SpanContext`` or an attribute dict per span. What makes it cheap:

- **Shapes.** A loop or tool span without an error has a name, a kind and
  attributes that depend only on its agent (and tool): they are described once
  (by :meth:`SpanBuilder.describe`, so every name still comes from
  :mod:`kaizen_perf.tracing.genai` and is redacted there) and cached as bytes. Per span
  only the ids and the two times are packed.
- **One join.** A span's length is known before its bytes exist (fixed-width ids
  and times plus the cached shape), so every piece of every span goes into one
  list and one ``b"".join`` builds the request.
- Other spans (API calls, point hooks, errors) take the general path: described
  per span, attributes encoded through the cached ``KeyValue`` table of
  :mod:`kaizen_perf.exporters.otlp_wire`.

This is kaizen-perf's one span encoder. Its output equals what OpenTelemetry's own
encoder writes for the equivalent SDK spans (the tests decode and compare both).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from kaizen_perf.exporters.otlp_wire import SMALL, key_value, ld, span_attribute, varint
from kaizen_perf.tracing import genai as g
from kaizen_perf.tracing.spans import LOOP, SCOPE, TOOL, SpanBuilder, SpanRecord

_pack_id = struct.Struct(">Q").pack  # span ids are big-endian bytes on the wire
_pack_times = struct.Struct("<BQBQ").pack  # fields 7 and 8, fixed64 little-endian
_pack_flags = struct.Struct("<I").pack
_LEN = [varint(n) for n in range(1 << 14)]  # length prefixes of up to two bytes
_MAX_SHAPES = 10_000  # per event type; past it the cache starts over
# status (field 15, empty: UNSET) and flags (field 16: "has is_remote", "is_remote")
_TAIL_LOCAL = b"\x7a\x00\x85\x01" + _pack_flags(0x100)
_TAIL_REMOTE = b"\x7a\x00\x85\x01" + _pack_flags(0x300)
_FIXED = 2 + 16 + 2 + 8 + 18 + len(_TAIL_LOCAL)  # trace id, span id, times, tail
# a link (field 13) to a local span: trace id, span id, flags "has is_remote" (field 6)
_LINK_HEAD, _LINK_TAIL = b"\x6a\x21\x0a\x10", b"\x35" + _pack_flags(0x100)
_LINK_SIZE = 2 + 2 + 16 + 2 + 8 + len(_LINK_TAIL)
_TOOL_WIDTH = 14  # a tool record without a link


def _link(trace_id: int, span_id: int) -> bytes:
    """The ``Span.links`` entry of an ``execute_tool`` span to the chat span that asked."""
    return b"".join((_LINK_HEAD, trace_id.to_bytes(16, "big"), b"\x12\x08", _pack_id(span_id),
                     _LINK_TAIL))


def _len(n: int) -> bytes:
    return _LEN[n] if n < 16384 else varint(n)


class RecordEncoder:
    """Encodes batches of span records as OTLP ``ExportTraceServiceRequest`` bytes."""

    def __init__(self, builder: SpanBuilder) -> None:
        self._describe, self._event_of = builder.describe, builder.event_of
        self._link_of = builder.link_of
        resource_msg = b"".join(ld(0x0A, key_value(k, v))
                                for k, v in builder.resource.attributes.items())
        scope_msg = ld(0x0A, SCOPE.name.encode()) + (
            ld(0x12, SCOPE.version.encode()) if SCOPE.version else b"")
        self._resource_field = ld(0x0A, resource_msg)
        self._scope_field = ld(0x0A, scope_msg)
        # (name + kind bytes, attribute bytes, fixed length) per agent / (agent, tool)
        self._loops: dict[str, tuple[bytes, bytes, int]] = {}
        self._tools: dict[tuple[str, str], tuple[bytes, bytes, int]] = {}

    def request(self, records: Sequence[SpanRecord]) -> bytes:
        """One request holding every record (one resource, one scope)."""
        parts: list[bytes] = []
        extend = parts.extend
        loops, tools = self._loops, self._tools
        for record in records:
            # the layouts of ToolEvent and LoopEvent after the five resolved items
            # (the equality test with OpenTelemetry's encoder fails if they change)
            code = record[0]
            link = b""
            if code == TOOL and record[9] is None:
                if len(record) > _TOOL_WIDTH:  # asked for by a chat span: linked to it
                    link = _link(record[_TOOL_WIDTH], record[_TOOL_WIDTH + 1])
                    record = record[:_TOOL_WIDTH]
                (_, trace_id, parent_id, remote, off,
                 agent, tool, start, end, _, _, span_id, _, _) = record  # last: args_hash
                shape = tools.get((agent, tool))
                if shape is None:
                    shape = self._shape(tools, (agent, tool), record)
            elif code == LOOP and record[8] is None:
                _, trace_id, parent_id, remote, off, agent, start, end, _, _, span_id, _ = record
                shape = loops.get(agent)
                if shape is None:
                    shape = self._shape(loops, agent, record)
            else:
                body = self._general(record)
                extend((b"\x12", _len(len(body)), body))
                continue
            name_kind, attrs, fixed = shape
            if parent_id:
                parent = b"\x22\x08" + _pack_id(parent_id)
                tail = _TAIL_REMOTE if remote else _TAIL_LOCAL
                size = fixed + 10
            else:
                parent, tail, size = b"", _TAIL_LOCAL, fixed
            if link:
                size += _LINK_SIZE
            extend((b"\x12", _len(size), b"\x0a\x10", trace_id.to_bytes(16, "big"),
                    b"\x12\x08", _pack_id(span_id), parent, name_kind,
                    _pack_times(0x39, start + off, 0x41, end + off), attrs, link, tail))
        spans = b"".join(parts)
        scope_spans_len = len(self._scope_field) + len(spans)
        scope_spans_head = b"\x12" + varint(scope_spans_len)
        resource_spans_len = (len(self._resource_field) + len(scope_spans_head)
                              + scope_spans_len)
        return b"".join((b"\x0a", varint(resource_spans_len), self._resource_field,
                         scope_spans_head, self._scope_field, spans))

    def _shape(self, cache: dict[Any, tuple[bytes, bytes, int]], key: Any,
               record: SpanRecord) -> tuple[bytes, bytes, int]:
        """Describe a loop/tool span once; its name, kind and attributes as bytes."""
        data = self._describe(self._event_of(record), 0)
        name_kind = ld(0x2A, data.name.encode()) + b"\x30" + SMALL[data.kind.value + 1]
        attrs = b"".join(ld(0x4A, key_value(k, v)) for k, v in data.attributes.items())
        shape = (name_kind, attrs, _FIXED + len(name_kind) + len(attrs))
        if len(cache) >= _MAX_SHAPES:
            cache.clear()
        cache[key] = shape
        return shape

    def _general(self, record: SpanRecord) -> bytes:
        """Any span, described per span (API calls, point hooks, errors)."""
        _, trace_id, parent_id, remote, off = record[:5]
        event = self._event_of(record)
        target = self._link_of(record)
        data = self._describe(event, off)
        parts = [b"\x0a\x10", trace_id.to_bytes(16, "big"), b"\x12\x08", _pack_id(event.span_id)]
        if parent_id:
            parts += (b"\x22\x08", _pack_id(parent_id))
        parts += (ld(0x2A, data.name.encode()), b"\x30", SMALL[data.kind.value + 1],
                  _pack_times(0x39, data.start_ns, 0x41, data.end_ns))
        parts += [span_attribute(k, v) for k, v in data.attributes.items()]
        if data.error is not None:
            parts.append(ld(0x4A, key_value(g.ERROR_TYPE, data.error)))
        if target is not None:
            parts.append(_link(*target))
        if data.error is None:
            parts.append(b"\x7a\x00")
        else:
            description = ld(0x12, data.error.encode()) if data.error else b""
            parts.append(ld(0x7A, description + b"\x18\x02"))  # STATUS_CODE_ERROR
        parts += (b"\x85\x01", _pack_flags(0x300 if parent_id and remote else 0x100))
        return b"".join(parts)
