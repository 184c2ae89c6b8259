"""Export entries as JSON lines (the stored form, hashes included), a JSON array, or CSV."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import IO

from kaizen_perf.audit.model import AuditEntry, canonical
from kaizen_perf.errors import ConfigError

FORMATS = ("jsonl", "json", "csv")
CSV_COLUMNS = ("seq", "id", "ts", "agent", "user", "action", "result", "details", "metadata",
               "prev", "hash")


def export_entries(entries: Iterable[AuditEntry], format: str, out: IO[str]) -> int:
    """Write ``entries`` to ``out`` in ``format``; returns how many were written."""
    if format not in FORMATS:
        msg = f"Export format {format!r} is not valid: expected one of {', '.join(FORMATS)}."
        raise ConfigError(msg)
    count = 0
    if format == "csv":
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for e in entries:
            writer.writerow(csv_row(e))
            count += 1
        return count
    if format == "json":
        items = [e.to_dict() for e in entries]
        json.dump(items, out, indent=2, ensure_ascii=False)
        out.write("\n")
        return len(items)
    for e in entries:
        out.write(canonical(e.to_dict()).decode() + "\n")
        count += 1
    return count


def csv_row(e: AuditEntry) -> list[str]:
    """One CSV row (JSON fields as compact JSON text)."""
    return [str(e.seq), e.id, e.ts, e.agent_id, e.user_id or "", e.action, e.result,
            canonical(e.details).decode(), canonical(e.metadata).decode(), e.prev_hash, e.hash]
