"""The write path's encoding is byte-identical to the canonical form verification recomputes."""

from __future__ import annotations

import math
from collections import OrderedDict
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from kaizen_perf.audit import sql
from kaizen_perf.audit.chain import Chainer
from kaizen_perf.audit.encode import is_plain, json_value, seal
from kaizen_perf.audit.model import Draft, canonical, format_ts, normalize, uuid7
from kaizen_perf.audit.signing import Signer
from kaizen_perf.audit.sqlite_store import SqliteStore

AWKWARD: list[Any] = [
    None, "", "plain", "ünïcödé ✓ 🚀", "quote \" backslash \\ tab \t nl \n nul \0 \x7f \u2028",
    0, -1, 2**70, 0.1, 1e300, -0.0, math.inf, True, False, [], {},
    {"b": 1, "a": [1, 2.5, None, {"z": "é", "y": []}], "ä": {"nested": {"deep": True}}},
    (1, 2, "tuple"), {2: "int key"},
    OrderedDict([("z", 1), ("a", 2)]), {"set": sorted({3, 1, 2})}, [[[[["deep"]]]]],
]


class _Str(str):
    pass


@pytest.mark.parametrize("value", AWKWARD, ids=range(len(AWKWARD)))
def test_json_value_is_the_normalized_value_and_its_canonical_text(value: Any) -> None:
    got, text = json_value(value)
    assert got == normalize(value) or (isinstance(got, float) and math.isnan(got))
    assert type(got) is type(normalize(value))
    assert text.encode() == canonical(normalize(value))


def test_is_plain_rejects_what_json_would_change() -> None:
    assert is_plain({"a": [1, "x", None, 2.5, True]})
    for changed in [(1,), {1: "a"}, OrderedDict(a=1), {"a": (1,)}, _Str("s"), {"s": {1}}]:
        assert not is_plain(changed), changed


@pytest.mark.parametrize("details", AWKWARD, ids=range(len(AWKWARD)))
@pytest.mark.parametrize("prepared", [True, False], ids=["drafted", "raw"])
def test_seal_gives_the_hash_line_and_row_of_the_canonical_form(details: Any,
                                                                prepared: bool) -> None:
    metadata = {"run": "r-1", "n": 3}
    d_value, d_text = json_value(details)
    m_value, m_text = json_value(metadata)
    if prepared:
        draft = Draft(uuid7(), format_ts(1_700_000_000_123_456_789), "agént-1", "ü 1",
                      "tool_execute \"x\"", d_value, "success", m_value, d_text, m_text)
    else:  # drafts the trail writes about itself carry no prepared text
        draft = Draft(uuid7(), format_ts(0), "a", None, "audit.checkpoint", details,
                      "failure", None)
    sealed = seal(draft, 42, "f" * 64)
    entry = sealed.entry
    assert entry.hash == entry.compute_hash()
    assert sealed.line() == canonical(entry.to_dict()) + b"\n"
    assert sealed.row() == sql.to_row(entry)


def test_format_ts_is_exact_across_second_boundaries() -> None:
    for ns in (0, 999_999_999, 1_000_000_000, 1_700_000_000_999_999_000, 1_700_000_001_000_001):
        assert format_ts(ns) == format_ts(ns + 0)  # cached second
    assert format_ts(1_700_000_000_999_999_000) == "2023-11-14T22:13:20.999999Z"
    assert format_ts(1_700_000_001_000_001_000) == "2023-11-14T22:13:21.000001Z"
    assert format_ts(1_700_000_000_000_000_000) == "2023-11-14T22:13:20.000000Z"


def test_sqlite_chain_state_follows_another_connection(tmp_path: Path) -> None:
    """Two stores (connections) on one file take turns: the cached chain end is refreshed
    whenever the other one committed, so the chain stays gap-free."""
    signer = Signer(b"k" * 32)
    chainer = Chainer(signer, "a", interval=3, now_ts=lambda: format_ts(0))
    stores = [SqliteStore(tmp_path / "a.db"), SqliteStore(tmp_path / "a.db")]
    for i in range(10):
        draft = Draft(uuid7(), format_ts(i), "a", None, "step", {"i": i}, "success", None)
        stores[i % 3 % 2].append(chainer.builder([draft]))
    entries = [s.entry for s in stores[0].scan() if s.entry is not None]
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert all(e.prev_hash == p.hash for p, e in pairwise(entries))
    head = stores[1].head()
    assert head is not None and head.seq == entries[-1].seq
    for store in stores:
        store.close()
