"""Kaizen's public TracingManager and audit API, run on Kaizen and on compat alike.

Written from Kaizen 2.46's docstrings and source (``tracing_manager.py``,
``audit.py``, ``hooks/builtin/tracing_hook.py``). Spans go to an in-memory
exporter; Kaizen's real ``TracingHook`` and ``HookManager`` drive the managers.
"""

from __future__ import annotations

import asyncio
import json
import stat
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kaizen.core.autonomy.hooks import HookContext, HookEvent, HookManager, HookResult
from kaizen.core.autonomy.hooks.builtin.tracing_hook import TracingHook
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from tests.compat.conftest import Api


def _ctx(event: HookEvent, trace_id: str, **data: Any) -> HookContext:
    return HookContext(event_type=event, agent_id="agent-1", timestamp=time.time(),
                       data=data, trace_id=trace_id)


def _manager(api: Api, **kwargs: Any) -> tuple[Any, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    return api.mod("tracing_manager").TracingManager(exporter=exporter, **kwargs), exporter


# -- TracingManager ------------------------------------------------------------------------
def test_tracing_manager_configuration(api: Api) -> None:
    """The provider carries service.name; endpoint and batch settings are kept (batch clamped)."""
    manager, _ = _manager(api, service_name="svc", jaeger_host="jaeger.internal",
                          jaeger_port=4318, insecure=False, batch_size=64,
                          batch_timeout_ms=100, max_export_batch_size=128)
    try:
        assert isinstance(manager.tracer_provider, TracerProvider)
        assert manager.tracer_provider.resource.attributes["service.name"] == "svc"
        assert (manager.service_name, manager.jaeger_host, manager.jaeger_port,
                manager.insecure) == ("svc", "jaeger.internal", 4318, False)
        assert (manager.batch_size, manager.batch_timeout_ms,
                manager.max_export_batch_size) == (64, 100, 64)
    finally:
        manager.shutdown()


def test_span_from_hook_context(api: Api) -> None:
    """create_span_from_context names the span after the event and maps primitive fields."""
    manager, exporter = _manager(api, service_name="svc")
    ctx = HookContext(event_type=HookEvent.POST_TOOL_USE, agent_id="agent-1",
                      timestamp=time.time(), trace_id="hook-trace",
                      data={"tool_name": "db", "rows": 42, "ok": True, "obj": {"x": 1}},
                      metadata={"user_id": "u1", "parent_span_id": 7})
    span = manager.create_span_from_context(ctx)
    assert span.name == "post_tool_use" and span.is_recording()
    span.end()
    assert manager.force_flush() is True
    [done] = exporter.get_finished_spans()
    assert dict(done.attributes) == {"agent_id": "agent-1", "event_type": "post_tool_use",
                                     "trace_id": "hook-trace", "tool_name": "db", "rows": 42,
                                     "ok": True, "user_id": "u1"}
    manager.shutdown()


def test_parent_span_and_status(api: Api) -> None:
    """A child shares its parent's trace; results and exceptions set the span status."""
    manager, exporter = _manager(api, service_name="svc")
    parent = manager.create_span_from_context(_ctx(HookEvent.PRE_AGENT_LOOP, "t"))
    ok = manager.create_span_from_context(_ctx(HookEvent.PRE_TOOL_USE, "t"), parent_span=parent)
    bad = manager.create_span_from_context(_ctx(HookEvent.PRE_TOOL_USE, "t"), parent_span=parent)
    raised = manager.create_span_from_context(_ctx(HookEvent.PRE_TOOL_USE, "t"))
    manager.update_span_from_result(ok, HookResult(success=True))
    manager.update_span_from_result(bad, HookResult(success=False, error="API call failed"))
    manager.record_exception(raised, ValueError("db down"))
    for span in (ok, bad, raised, parent):
        span.end()
    manager.force_flush()
    by_id = {s.context.span_id: s for s in exporter.get_finished_spans()}
    p = parent.get_span_context()
    assert by_id[ok.get_span_context().span_id].parent.span_id == p.span_id
    assert ok.get_span_context().trace_id == p.trace_id
    assert ok.get_span_context().span_id != bad.get_span_context().span_id
    assert by_id[ok.get_span_context().span_id].status.status_code == StatusCode.OK
    assert by_id[bad.get_span_context().span_id].status.description == "API call failed"
    errored = by_id[raised.get_span_context().span_id]
    assert errored.status.status_code == StatusCode.ERROR
    assert [e.name for e in errored.events] == ["exception"]
    assert manager.shutdown() in (True, None)  # Kaizen returns None; compat says if it finished


def test_kaizen_tracing_hook_nests_spans(api: Api) -> None:
    """Kaizen's own TracingHook, triggered by a real HookManager, nests tool under loop."""
    manager, exporter = _manager(api, service_name="svc")
    hooks = HookManager()
    hooks.register_hook(TracingHook(tracing_manager=manager))
    trace = str(uuid.uuid4())

    async def run() -> list[list[HookResult]]:
        return [await hooks.trigger(event, "agent-1", data, timeout=5.0, trace_id=trace)
                for event, data in ((HookEvent.PRE_AGENT_LOOP, {}),
                                    (HookEvent.PRE_TOOL_USE, {"tool_name": "calc"}),
                                    (HookEvent.POST_TOOL_USE, {"tool_name": "calc"}),
                                    (HookEvent.POST_AGENT_LOOP, {}))]
    results = asyncio.run(run())
    assert all(r.success for [r] in results), results
    assert manager.force_flush() is True
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {"pre_agent_loop", "pre_tool_use", "post_tool_use", "post_agent_loop"}
    loop, tool = spans["pre_agent_loop"], spans["pre_tool_use"]
    assert tool.parent.span_id == loop.context.span_id
    assert spans["post_tool_use"].parent.span_id == tool.context.span_id
    assert len({s.context.trace_id for s in spans.values()}) == 1
    manager.shutdown()


# -- FileAuditStorage / AuditTrailManager ------------------------------------------------------
def _entry(api: Api, agent: str = "a1", action: str = "tool_execute", result: str = "success",
           user: str | None = None, ts: datetime | None = None) -> Any:
    return api.AuditEntry(timestamp=ts or datetime.now(UTC), agent_id=agent, action=action,
                          details={"tool": "bash"}, result=result, user_id=user,
                          metadata={"danger": "MODERATE"})


def test_file_storage_is_created_owner_only(api: Api, tmp_path: Path) -> None:
    """FileAuditStorage creates its directory and an owner-only (0o600) file at once."""
    path = tmp_path / "nested" / "audit.jsonl"
    storage = api.FileAuditStorage(str(path))
    assert path.exists() and storage.get_file_path() == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert asyncio.run(storage.count()) == 0 and asyncio.run(storage.query()) == []


def test_file_storage_filters(api: Api, tmp_path: Path) -> None:
    """query() filters by agent, action, user, result and time range, combined with AND."""
    storage = api.FileAuditStorage(str(tmp_path / "audit.jsonl"))
    old = datetime.now(UTC) - timedelta(hours=2)
    entries = [_entry(api, "a1", user="u1"), _entry(api, "a2", "permission_deny", "denied"),
               _entry(api, "a1", "checkpoint_save", "failure", "u2"), _entry(api, "a1", ts=old)]

    async def run() -> dict[str, list[Any]]:
        for e in entries:
            await storage.append(e)
        since = datetime.now(UTC) - timedelta(hours=1)
        return {"all": await storage.query(), "a1": await storage.query(agent_id="a1"),
                "deny": await storage.query(action="permission_deny"),
                "u1": await storage.query(user_id="u1"),
                "failure": await storage.query(result="failure"),
                "recent": await storage.query(start_time=since, end_time=datetime.now(UTC)),
                "both": await storage.query(agent_id="a1", action="tool_execute")}
    got = asyncio.run(run())
    assert asyncio.run(storage.count()) == 4
    assert got["all"] == entries
    assert [len(got[k]) for k in ("a1", "deny", "u1", "failure", "recent", "both")] == [
        3, 1, 1, 1, 3, 2]
    assert got["all"][0].metadata == {"danger": "MODERATE"} and got["u1"][0].user_id == "u1"


def test_file_storage_skips_malformed_lines(api: Api, tmp_path: Path) -> None:
    """A damaged line is skipped; the entries around it are still read."""
    storage = api.FileAuditStorage(str(tmp_path / "audit.jsonl"))
    asyncio.run(storage.append(_entry(api)))
    with open(storage.get_file_path(), "a") as f:
        f.write("not json\n")
    asyncio.run(storage.append(_entry(api, "a2")))
    assert [e.agent_id for e in asyncio.run(storage.query())] == ["a1", "a2"]


def test_trail_manager_records_and_queries(api: Api, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """record() timestamps entries now (UTC); every query_by_* method finds them."""
    monkeypatch.chdir(tmp_path)
    manager = api.AuditTrailManager()
    assert isinstance(manager.storage, api.FileAuditStorage)
    before = datetime.now(UTC)

    async def run() -> dict[str, Any]:
        await manager.record(agent_id="qa", action="tool_execute", details={"tool": "bash"},
                             result="success", user_id="u@example.com",
                             metadata={"level": "MODERATE"})
        await manager.record("qa", "permission_deny", {"tool": "rm"}, "denied")
        await manager.record("other", "tool_execute", {}, "failure")
        return {"agent": await manager.query_by_agent("qa"),
                "action": await manager.query_by_action("tool_execute"),
                "user": await manager.query_by_user("u@example.com"),
                "result": await manager.query_by_result("denied"),
                "range": await manager.query_by_timerange(before, datetime.now(UTC)),
                "all": await manager.query_all()}
    got = asyncio.run(run())
    assert (tmp_path / ".kaizen" / "audit.jsonl").exists()
    assert [len(got[k]) for k in ("agent", "action", "user", "result", "range", "all")] == [
        2, 2, 1, 1, 3, 3]
    first = got["all"][0]
    assert before <= first.timestamp <= datetime.now(UTC)
    assert (first.details, first.metadata) == ({"tool": "bash"}, {"level": "MODERATE"})
    assert got["result"][0].user_id is None and got["result"][0].metadata == {}


def test_canonical_store_forwarding(api: Api, tmp_path: Path) -> None:
    """A canonical store gets each entry; one that fails does not stop the local record."""
    calls: list[dict[str, Any]] = []

    class Store:
        def append_sync(self, **kwargs: Any) -> None:
            calls.append(kwargs)

    class Broken:
        def append_sync(self, **kwargs: Any) -> None:
            raise RuntimeError("down")
    storage = api.FileAuditStorage(str(tmp_path / "audit.jsonl"))
    asyncio.run(api.AuditTrailManager(storage, Store()).record("a1", "x", {"k": 1}, "success"))
    asyncio.run(api.AuditTrailManager(storage, canonical_store=Broken()).record(
        "a1", "y", {}, "failure"))
    assert calls == [{"actor": "a1", "action": "x", "resource": "kaizen.observability:a1",
                      "details": {"result": "success", "k": 1}}]
    assert asyncio.run(storage.count()) == 2


def test_audit_files_interchange(tmp_path: Path) -> None:
    """A file written through compat is read by Kaizen, and the other way round."""
    from kaizen.core.autonomy.observability import audit as kaizen_audit
    from kaizen.core.autonomy.observability.types import AuditEntry as KaizenEntry

    from kaizen_perf.compat import AuditEntry, FileAuditStorage
    path = str(tmp_path / "audit.jsonl")
    now = datetime.now(UTC)
    asyncio.run(FileAuditStorage(path).append(AuditEntry(now, "c", "x", {"n": 1}, "success")))
    asyncio.run(kaizen_audit.FileAuditStorage(path).append(
        KaizenEntry(now, "k", "y", {"n": 2}, "denied", "u")))
    lines = [json.loads(x) for x in Path(path).read_text().splitlines()]
    assert set(lines[0]) == set(lines[1])
    assert [e.agent_id for e in asyncio.run(kaizen_audit.FileAuditStorage(path).query())] == [
        "c", "k"]
    assert [e.user_id for e in asyncio.run(FileAuditStorage(path).query())] == [None, "u"]
