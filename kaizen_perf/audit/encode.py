"""The write path's encoding of a record: its canonical JSON and hash, assembled from parts.

``AuditEntry.compute_hash`` serialises the whole body (details included) with
sorted keys each time; verification uses it. The writer instead serialises
details and metadata once, on the caller's thread (:func:`json_value`), and
assembles the body around that text in sorted-key order (:func:`seal`): the
same bytes, so the same hash, at a fraction of the cost. The stored forms (a
SQL row, a JSON line) reuse the same text. ``tests/audit/test_encode.py``
checks the identity with ``canonical`` on awkward values.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from json.encoder import encode_basestring  # the C version when _json is built
from typing import Any

from kaizen_perf.audit.model import FORMAT_VERSION, AuditEntry, Draft, canonical

_MAX_DEPTH = 64


def js(value: Any) -> str:
    """``canonical(value)`` as text; strings and None without the general encoder."""
    if type(value) is str:
        return encode_basestring(value)
    if value is None:
        return "null"
    return canonical(value).decode()


def is_plain(value: Any, depth: int = 0) -> bool:
    """True when ``value`` is already what a JSON round trip gives back (exact JSON types)."""
    t = type(value)
    if t is str or t is int or t is float or t is bool or value is None:
        return True
    if depth >= _MAX_DEPTH:
        return False
    if t is dict:
        return (all(type(k) is str for k in value)
                and all(is_plain(v, depth + 1) for v in value.values()))
    if t is list:
        return all(is_plain(v, depth + 1) for v in value)
    return False


def json_value(value: Any) -> tuple[Any, str]:
    """(the JSON value a store gives back for ``value``, its canonical text)."""
    text = js(value)
    return (value if is_plain(value) else json.loads(text)), text


@dataclass(frozen=True, slots=True)
class Sealed:
    """A record with its place in the chain, and its canonical text around the hash."""

    entry: AuditEntry
    details_json: str
    metadata_json: str
    before_hash: str  #: canonical body up to (and including) the details
    after_hash: str  #: the rest of the canonical body

    def line(self) -> bytes:
        """The stored JSON line: ``canonical(entry.to_dict())`` and a newline."""
        return f'{self.before_hash},"hash":"{self.entry.hash}"{self.after_hash}\n'.encode()

    def row(self) -> tuple[Any, ...]:
        """The SQL row (``sql.to_row(entry)``)."""
        e = self.entry
        return (e.seq, e.id, e.ts, e.agent_id, e.user_id, e.action, self.details_json,
                e.result, self.metadata_json, e.prev_hash, e.hash)


def seal(draft: Draft, seq: int, prev_hash: str) -> Sealed:
    """Give a draft its place in the chain and its hash (``model.chained``, faster)."""
    details = draft.details_json if draft.details_json is not None else js(draft.details)
    metadata = draft.metadata_json if draft.metadata_json is not None else js(draft.metadata)
    # the keys of AuditEntry.body() in sorted order; "hash" sorts between details and id
    before = (f'{{"action":{js(draft.action)},"agent":{js(draft.agent_id)},'
              f'"details":{details}')
    after = (f',"id":{js(draft.id)},"metadata":{metadata},"prev":{js(prev_hash)},'
             f'"result":{js(draft.result)},"seq":{int(seq)},"ts":{js(draft.ts)},'
             f'"user":{js(draft.user_id)},"v":{FORMAT_VERSION}}}')
    digest = hashlib.sha256((before + after).encode()).hexdigest()
    entry = AuditEntry(seq, draft.id, draft.ts, draft.agent_id, draft.user_id, draft.action,
                       draft.details, draft.result, draft.metadata, prev_hash, digest)
    return Sealed(entry, details, metadata, before, after)
