"""A Pyroscope push receiver on 127.0.0.1 for tests (standard library only).

It implements ``POST /push.v1.PusherService/Push`` and decodes what pyroscope-io
sends: a gzip body holding a protobuf ``PushRequest``::

    PushRequest      { repeated RawProfileSeries series = 1; }
    RawProfileSeries { repeated LabelPair labels = 1; repeated RawSample samples = 2; }
    LabelPair        { string name = 1; string value = 2; }
    RawSample        { bytes raw_profile = 1; string ID = 2; }

``raw_profile`` is an uncompressed pprof ``Profile`` (google/pprof profile.proto):
sample_type = 1, sample = 2 {location_id = 1, value = 2, label = 3 {key = 1, str = 2}},
location = 4 {id = 1, line = 4 {function_id = 1}}, function = 5 {id = 1, name = 2,
filename = 4}, string_table = 6, period = 12.
"""

from __future__ import annotations

import gzip
import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

PUSH_PATH = "/push.v1.PusherService/Push"


# -- protobuf wire format -------------------------------------------------------------------
def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7


def fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    """``(field number, value)`` per field: ints for varint/fixed, bytes for length-delimited."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 1:
            value, i = int.from_bytes(buf[i:i + 8], "little"), i + 8
        elif wire == 2:
            size, i = _varint(buf, i)
            value, i = buf[i:i + size], i + size
        elif wire == 5:
            value, i = int.from_bytes(buf[i:i + 4], "little"), i + 4
        else:
            msg = f"unsupported protobuf wire type {wire} for field {number}"
            raise ValueError(msg)
        yield number, value


def _ints(value: int | bytes) -> list[int]:
    """A repeated integer field: packed (bytes of varints) or one unpacked value."""
    if isinstance(value, int):
        return [value]
    out, i = [], 0
    while i < len(value):
        n, i = _varint(value, i)
        out.append(n)
    return out


def _bytes(value: int | bytes) -> bytes:
    assert isinstance(value, bytes), value
    return value


# -- pprof ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PprofSample:
    """One pprof sample: function names leaf first, its first value, its string labels."""

    functions: tuple[str, ...]
    value: int
    labels: dict[str, str]


@dataclass
class _Pprof:
    strings: list[str] = field(default_factory=list)
    functions: dict[int, int] = field(default_factory=dict)  # id -> name string index
    locations: dict[int, list[int]] = field(default_factory=dict)  # id -> function ids
    raw_samples: list[bytes] = field(default_factory=list)
    sample_types: list[tuple[int, int]] = field(default_factory=list)


def _read_pprof(raw: bytes) -> _Pprof:
    p = _Pprof()
    for number, value in fields(raw):
        if number == 1:
            vt = dict(fields(_bytes(value)))
            p.sample_types.append((int(vt.get(1, 0)), int(vt.get(2, 0))))
        elif number == 2:
            p.raw_samples.append(_bytes(value))
        elif number == 4:
            loc_id, funcs = 0, []
            for n, v in fields(_bytes(value)):
                if n == 1:
                    loc_id = int(v)
                elif n == 4:
                    funcs.append(int(dict(fields(_bytes(v))).get(1, 0)))
            p.locations[loc_id] = funcs
        elif number == 5:
            fn = dict(fields(_bytes(value)))
            p.functions[int(fn.get(1, 0))] = int(fn.get(2, 0))
        elif number == 6:
            p.strings.append(_bytes(value).decode("utf-8", "replace"))
    return p


def decode_pprof(raw: bytes) -> tuple[list[PprofSample], list[tuple[str, str]]]:
    """The samples of a pprof profile and its sample types as (type, unit) strings."""
    p = _read_pprof(raw)
    samples = []
    for raw_sample in p.raw_samples:
        locs: list[int] = []
        values: list[int] = []
        labels: dict[str, str] = {}
        for n, v in fields(raw_sample):
            if n == 1:
                locs += _ints(v)
            elif n == 2:
                values += _ints(v)
            elif n == 3:
                lab = dict(fields(_bytes(v)))
                labels[p.strings[int(lab.get(1, 0))]] = p.strings[int(lab.get(2, 0))]
        names = tuple(p.strings[p.functions[f]] for loc in locs for f in p.locations[loc])
        samples.append(PprofSample(names, values[0] if values else 0, labels))
    types = [(p.strings[t], p.strings[u]) for t, u in p.sample_types]
    return samples, types


# -- push requests ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Series:
    """One series of a push: its labels and decoded pprof samples."""

    labels: dict[str, str]
    samples: list[PprofSample]
    sample_types: list[tuple[str, str]]


def decode_push(body: bytes) -> list[Series]:
    """The series of a PushRequest body (gzip or not)."""
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    out = []
    for number, series in fields(body):
        if number != 1:
            continue
        labels: dict[str, str] = {}
        samples: list[PprofSample] = []
        types: list[tuple[str, str]] = []
        for n, v in fields(_bytes(series)):
            if n == 1:
                pair = dict(fields(_bytes(v)))
                labels[_bytes(pair[1]).decode()] = _bytes(pair.get(2, b"")).decode()
            elif n == 2:
                raw = dict(fields(_bytes(v))).get(1, b"")
                decoded, types = decode_pprof(_bytes(raw))
                samples += decoded
        out.append(Series(labels, samples, types))
    return out


@dataclass
class Received:
    """What the receiver got: headers (lower-case keys, plus ``x-body-is-gzip``) and series."""

    headers: list[dict[str, str]] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class PushReceiver:
    """A real HTTP server on 127.0.0.1 that accepts pyroscope-io pushes."""

    def __init__(self) -> None:
        self.received = Received()
        received = self.received

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path != PUSH_PATH:
                    self.send_response(404)
                else:
                    decoded = decode_push(body)
                    with received.lock:
                        headers = {k.lower(): v for k, v in self.headers.items()}
                        headers["x-body-is-gzip"] = str(body[:2] == b"\x1f\x8b")
                        received.headers.append(headers)
                        received.series += decoded
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        name="test-pyroscope-receiver", daemon=True)

    def __enter__(self) -> PushReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
