"""The audit record and its hash: what is stored, and how its SHA-256 is computed.

Every record (a user's entry, or a record the trail writes about itself such as
``audit.checkpoint``) has the same shape. Its hash covers the canonical JSON of
every field except the hash itself, including the previous record's hash, so the
records form one chain. Canonical JSON: sorted keys, no spaces, UTF-8.

Timestamps are stored as fixed-width UTC strings (``2025-01-31T12:00:00.123456Z``)
so text order is time order in every store.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

FORMAT_VERSION = 1
GENESIS = "0" * 64
RESULTS = ("success", "failure", "denied")

#: actions the trail writes about itself (prefix ``audit.``)
CHECKPOINT = "audit.checkpoint"
RETENTION = "audit.retention"
TAIL_TRUNCATED = "audit.tail_truncated"
WRITE_FAILED = "audit.write_failed"
#: a writer found records on disk that the signed head anchor does not cover (see chain.unproven)
UNPROVEN = "audit.unproven"


#: what ``json.dumps`` builds on every call with these options, built once
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                              default=str)


def canonical(obj: Any) -> bytes:
    """The one byte form that is hashed and stored."""
    return _CANONICAL.encode(obj).encode()


def normalize(value: Any) -> Any:
    """The JSON value a store gives back for ``value`` (so hashing before and after agree)."""
    if value is None or isinstance(value, str | int | bool):
        return value
    return json.loads(canonical(value))


_TS_SECOND: tuple[int, str] = (-1, "")  # the last second formatted (entries come in bursts)


def format_ts(unix_ns: int) -> str:
    """Fixed-width UTC timestamp with microseconds."""
    global _TS_SECOND
    secs, ns = divmod(unix_ns, 1_000_000_000)
    cached = _TS_SECOND
    if cached[0] != secs:
        cached = (secs, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)))
        _TS_SECOND = cached  # one tuple store: safe without a lock
    return f"{cached[1]}.{ns // 1000:06d}Z"


def ts_of(moment: datetime) -> str:
    """The stored form of an aware (or UTC-naive) datetime."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def uuid7(unix_ns: int | None = None) -> str:
    """A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then random bits."""
    ms = (time.time_ns() if unix_ns is None else unix_ns) // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & (2**48 - 1)) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64
    value |= 0b10 << 62 | rand & (2**62 - 1)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(frozen=True, slots=True)
class Draft:
    """An entry before it has a place in the chain (built on the caller's thread).

    ``details_json`` and ``metadata_json``, when given, are ``canonical()`` of
    details and metadata as text, computed once so the writer need not.
    """

    id: str
    ts: str
    agent_id: str
    user_id: str | None
    action: str
    details: Any
    result: str
    metadata: Any
    details_json: str | None = field(default=None, compare=False, repr=False)
    metadata_json: str | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One immutable record of the trail, as stored."""

    seq: int
    id: str
    ts: str
    agent_id: str
    user_id: str | None
    action: str
    details: Any
    result: str
    metadata: Any
    prev_hash: str
    hash: str = field(default="")

    @property
    def timestamp(self) -> datetime:
        """The entry's time as an aware UTC datetime."""
        return datetime.strptime(self.ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)

    def body(self) -> dict[str, Any]:
        """Every hashed field, under its stored name."""
        return {"v": FORMAT_VERSION, "seq": self.seq, "id": self.id, "ts": self.ts,
                "agent": self.agent_id, "user": self.user_id, "action": self.action,
                "details": self.details, "result": self.result, "metadata": self.metadata,
                "prev": self.prev_hash}

    def compute_hash(self) -> str:
        """SHA-256 of the canonical body."""
        return hashlib.sha256(canonical(self.body())).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """The stored JSON object (body plus hash)."""
        return {**self.body(), "hash": self.hash}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AuditEntry:
        """Rebuild from :meth:`to_dict`; raises ``KeyError``/``TypeError`` on a damaged object."""
        if d["v"] != FORMAT_VERSION:
            msg = f"unknown audit record format version {d['v']!r}"
            raise TypeError(msg)
        return cls(seq=int(d["seq"]), id=str(d["id"]), ts=str(d["ts"]), agent_id=str(d["agent"]),
                   user_id=d["user"], action=str(d["action"]), details=d["details"],
                   result=str(d["result"]), metadata=d["metadata"], prev_hash=str(d["prev"]),
                   hash=str(d["hash"]))


def chained(draft: Draft, seq: int, prev_hash: str) -> AuditEntry:
    """Give a draft its place in the chain and its hash."""
    entry = AuditEntry(seq, draft.id, draft.ts, draft.agent_id, draft.user_id, draft.action,
                       draft.details, draft.result, draft.metadata, prev_hash)
    return dataclasses.replace(entry, hash=entry.compute_hash())


@dataclass(frozen=True, slots=True)
class AuditReceipt:
    """What ``record()`` returns: the entry's id and sequence number once durable.

    ``durable`` is False only under the ``degrade`` policy when the store could
    not write (then ``seq`` is -1 and the entry was not recorded).
    """

    id: str
    seq: int
    durable: bool = True


@dataclass(frozen=True, slots=True)
class Filter:
    """A query: every given field must match; times are stored-form strings."""

    agent_id: str | None = None
    user_id: str | None = None
    action: str | None = None
    result: str | None = None
    start: str | None = None
    end: str | None = None
    limit: int | None = None
    include_checkpoints: bool = False

    def matches(self, e: AuditEntry) -> bool:
        """True when ``e`` passes every condition (used by stores that scan)."""
        if e.action == CHECKPOINT and not self.include_checkpoints and self.action != CHECKPOINT:
            return False
        return ((self.agent_id is None or e.agent_id == self.agent_id)
                and (self.user_id is None or e.user_id == self.user_id)
                and (self.action is None or e.action == self.action)
                and (self.result is None or e.result == self.result)
                and (self.start is None or e.ts >= self.start)
                and (self.end is None or e.ts < self.end))
