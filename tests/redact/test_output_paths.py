"""A corpus of realistic secrets pushed through every output a hook feeds: 0 may leak."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from kaizen_perf import Monitor
from kaizen_perf.audit import open_trail
from kaizen_perf.logs import configure_logging, get_logger
from kaizen_perf.tracing import TraceSink
from tests.audit.conftest import KEY
from tests.redact.corpus import CONTEXTUAL, KINDS


def corpus(per_kind: int = 2) -> list[tuple[str, str]]:
    """``(kind, secret)``: ``per_kind`` generated secrets of every format, plus the ones only
    their context makes secret (passwords in URLs, Bearer values, AccountKey=...)."""
    rng = random.Random(19)
    out = [(kind, make(rng)) for kind, make in KINDS.items() for _ in range(per_kind)]
    return out + [("contextual", text) for text, _ in CONTEXTUAL]


def _secret_part(kind: str, value: str) -> str:
    """What must not appear: the generated secret, or the secret inside a contextual text."""
    if kind != "contextual":
        return value
    return dict(CONTEXTUAL)[value]


def _spans(mon: Monitor) -> list[Any]:
    [sink] = [s for s in mon.pipeline._sinks if isinstance(s, TraceSink)]
    return list(sink.exporters["memory"].get_finished_spans())  # type: ignore[attr-defined]


def _span_text(span: Any) -> str:
    return json.dumps({"name": span.name, "attributes": dict(span.attributes or {}),
                       "status": span.status.description, "events": [
                           dict(e.attributes or {}) for e in span.events]}, default=str)


def test_corpus_covers_at_least_50_secrets_of_15_formats() -> None:
    """The corpus is big and varied enough to mean something."""
    items = corpus()
    assert len(items) >= 50
    assert len({kind for kind, _ in items if kind != "contextual"}) >= 15


def test_no_secret_reaches_spans_metrics_event_log_audit_or_logs(tmp_path: Path) -> None:
    """Each secret goes in through error=, reasons, audit details and log fields; none comes
    out of the spans (status and attributes), /metrics, the audit trail (entries and automatic
    entries) or the JSON logs (the agent's and the hook-event log)."""
    mon = Monitor("leaks", environ={
        "KAIZEN_PERF_TRACES": "memory", "KAIZEN_PERF_LOG_EVENTS": "all",
        "KAIZEN_PERF_AUDIT_URL": f"sqlite:///{tmp_path / 'audit.db'}",
        "KAIZEN_PERF_AUDIT_KEY": KEY.decode(),
        "KAIZEN_PERF_AUDIT_AUTO": "permission,checkpoint,api_call"})
    logs = tmp_path / "app.jsonl"
    configure_logging(file=str(logs))  # the agent's own logs and the hook-event log
    log = get_logger("app")
    items = corpus()
    for _, value in items:
        mon.record_api_call("anthropic", "claude-haiku-4-5", 10, 2, duration_s=0.1,
                            error=f"upstream said: {value}")
        mon.permission_check("bash", "denied", reason=f"blocked {value}")
        mon.checkpoint("save", 10, 0.01, error=value)
        mon.audit.record("tool_execute", {"note": f"ran with {value}"}, result="failure")
        log.error("call failed", detail=value)
    metrics = mon.export_metrics()
    mon.shutdown(10.0)
    configure_logging(file=None)
    spans = [_span_text(s) for s in _spans(mon)]
    assert len(spans) >= 2 * len(items)  # chat and point spans were all exported
    trail = open_trail(f"sqlite:///{tmp_path / 'audit.db'}", agent_id="reader", key=KEY)
    audited = json.dumps([e.to_dict() for e in trail.query(include_checkpoints=True)])
    trail.close()
    outputs = {"spans": "\n".join(spans), "metrics": metrics, "audit": audited,
               "logs": logs.read_text()}
    assert all(outputs.values()), {k: len(v) for k, v in outputs.items()}
    assert '"event":"api_call"' in outputs["logs"] and '"event":"call failed"' in outputs["logs"]
    leaks = [(where, kind) for kind, value in items for where, text in outputs.items()
             if _secret_part(kind, value) in text]
    assert leaks == [], f"{len(leaks)} leaks: {leaks[:10]}"
