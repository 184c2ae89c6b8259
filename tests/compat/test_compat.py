"""What compat adds to Kaizen's API, and where it deliberately differs.

The shared behaviour is in the ``test_api_*`` files, which run on both packages.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from kaizen_perf import Monitor
from kaizen_perf._context import CURRENT
from kaizen_perf.compat import (
    AuditEntry,
    FileAuditStorage,
    MetricsCollector,
    ObservabilityManager,
    TracingManager,
)
from tests.compat.conftest import COMPAT, KAIZEN, MODULES


def _public(obj: Any) -> dict[str, Any]:
    return {n: v for n, v in vars(obj).items() if not n.startswith("_") and callable(v)}


def _params(fn: Any) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("module", MODULES)
def test_every_public_name_and_signature_exists(module: str) -> None:
    """Each public class, method and argument of Kaizen's module is in compat's, in order
    and with Kaizen's defaults (compat may only add keyword-only arguments)."""
    kaizen, compat = (importlib.import_module(f"{p}.{module}") for p in (KAIZEN, COMPAT))
    names = getattr(kaizen, "__all__", None) or [
        n for n, v in vars(kaizen).items() if getattr(v, "__module__", "") == kaizen.__name__]
    assert names
    for name in names:
        assert hasattr(compat, name), f"{module}.{name} is missing from compat"
        k_obj, c_obj = getattr(kaizen, name), getattr(compat, name)
        if not inspect.isclass(k_obj):
            continue
        for meth, k_fn in {"__init__": k_obj.__init__, **_public(k_obj)}.items():
            c_fn = getattr(c_obj, meth, None)
            assert c_fn is not None, f"{module}.{name}.{meth} is missing from compat"
            theirs, ours = _params(k_fn), _params(c_fn)
            extra = ours[len(theirs):]
            assert ours[:len(theirs)] == theirs, f"{name}.{meth}: {ours} != {theirs}"
            assert all(k == inspect.Parameter.KEYWORD_ONLY for _, k, _ in extra), (name, meth)


def test_package_exports_kaizens_names() -> None:
    """``kaizen_perf.compat`` exports everything Kaizen's package does."""
    kaizen, compat = (importlib.import_module(p) for p in (KAIZEN, COMPAT))
    assert set(kaizen.__all__) <= set(compat.__all__)


def test_histogram_memory_is_bounded() -> None:
    """A series keeps its last ``window`` values; totals, buckets and count cover them all."""
    c = MetricsCollector(window=8, recent=5, buckets=(10, 100))
    for i in range(10_000):
        c.histogram("lat_ms", float(i % 200))
    assert c.get_histogram_values("lat_ms") == [float(i % 200) for i in range(9_992, 10_000)]
    assert c.get_metric_count() == 10_000 and len(c._metrics) == 5
    samples = {(s.name, s.labels.get("le")): s.value
               for f in text_string_to_metric_families(c.render()) for s in f.samples}
    assert samples[("lat_ms_count", None)] == 10_000
    assert samples[("lat_ms_bucket", "10.0")] == 550  # 0..10 in each of 50 cycles of 200
    assert samples[("lat_ms_sum", None)] == sum(i % 200 for i in range(10_000))


def test_series_cap_folds_into_overflow() -> None:
    """Past ``max_series`` a new label value folds into __overflow__ and is counted."""
    c = MetricsCollector(max_series=2)
    for tool in ("a", "b", "c", "d"):
        c.counter("calls", 1.0, {"tool": tool})
    assert c.get_counter_value("calls", {"tool": "__overflow__"}) == 2.0
    assert "kaizen_compat_series_overflow_total 2" in c.render()


def test_unusable_values_are_ignored_and_names_made_valid() -> None:
    """Negative or NaN steps are ignored (logged); any name still exports as valid text."""
    c = MetricsCollector()
    c.counter("calls", -1.0)
    c.histogram("lat", float("nan"))
    c.counter("tool.calls-total", 2.0, {"tool-name": "x"})
    assert c.get_counter_value("calls") == 0.0 and c.get_histogram_values("lat") == []
    assert c.get_counter_value("tool.calls-total", {"tool-name": "x"}) == 2.0
    [fam] = text_string_to_metric_families(c.render())
    assert (fam.samples[0].name, fam.samples[0].labels) == ("tool_calls_total",
                                                           {"tool_name": "x"})


def test_file_appends_from_threads_never_interleave(tmp_path: Path) -> None:
    """Eight threads appending at once leave one whole JSON object per line."""
    storage = FileAuditStorage(tmp_path / "audit.jsonl")
    big = {"blob": "x" * 10_000}

    def write(n: int) -> None:
        for i in range(25):
            storage.append_sync(AuditEntry(datetime.now(UTC), f"a{n}", "act", big, "success",
                                           metadata={"i": i}))
    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = storage.file_path.read_text().splitlines()
    assert len(lines) == 200 and all(json.loads(x)["details"] == big for x in lines)


def test_monitor_backs_metrics_and_audit(tmp_path: Path) -> None:
    """With a monitor, export_metrics adds its kaizen_* families and audit entries land in
    its durable, verifiable trail (opened on first use)."""
    db = tmp_path / "audit.db"
    mon = Monitor("researcher", environ={"KAIZEN_PERF_AUDIT_URL": f"sqlite:///{db}",
                                         "KAIZEN_PERF_AUDIT_AUTO": "none"})
    try:
        obs = ObservabilityManager("researcher", enable_tracing=False, monitor=mon)
        assert not db.exists()
        with mon.tool("search"):
            pass

        async def run() -> tuple[str, list[AuditEntry]]:
            await obs.record_metric("custom_total", 1.0)
            await obs.record_audit("researcher", "tool_execute", {"tool": "search"},
                                   "success", user_id="u1")
            return await obs.export_metrics(), await obs.query_audit_by_agent("researcher")
        text, entries = asyncio.run(run())
        assert "custom_total 1.0" in text
        assert 'kaizen_tool_calls_total{agent="researcher",tool="search",status="ok"} 1' in text
        assert [(e.action, e.user_id, e.details) for e in entries] == [
            ("tool_execute", "u1", {"tool": "search"})]
        assert db.exists() and mon.audit.verify().ok
    finally:
        mon.shutdown(2.0)


def test_spans_join_the_kaizen_perf_scope() -> None:
    """A hook span with no explicit parent is a child of the active kaizen-perf scope, and
    ``span()`` makes itself that scope for the block."""
    from kaizen.core.autonomy.hooks import HookContext, HookEvent
    exporter = InMemorySpanExporter()
    manager = TracingManager("svc", exporter=exporter)
    token = CURRENT.set((0xABC, 0xDEF, None))
    try:
        span = manager.create_span_from_context(HookContext(
            event_type=HookEvent.PRE_TOOL_USE, agent_id="a", timestamp=0.0, data={}))
        span.end()

        async def inside() -> tuple[int, int]:
            async with manager.span("agent_run", {"n": 1}) as outer:
                scope = CURRENT.get()
                assert scope is not None
                ctx = outer.get_span_context()
                return scope[1], ctx.span_id
        scope_span, outer_span = asyncio.run(inside())
    finally:
        CURRENT.reset(token)
    manager.force_flush()
    by_name = {s.name: s for s in exporter.get_finished_spans()}
    assert by_name["pre_tool_use"].context.trace_id == 0xABC
    assert by_name["pre_tool_use"].parent.span_id == 0xDEF
    assert by_name["agent_run"].parent.span_id == 0xDEF and scope_span == outer_span
    manager.shutdown()


def test_log_lines_carry_the_scope_ids(caplog: pytest.LogCaptureFixture) -> None:
    """Without ids in its context, a line gets the active kaizen-perf scope's trace and span."""
    obs = ObservabilityManager("svc", enable_tracing=False, enable_audit=False)
    log = obs.get_logger("compat-scope-ids")
    assert log is not None
    log.logger.propagate = True
    token = CURRENT.set((0xABC, 0xDEF, None))
    try:
        with caplog.at_level("INFO", logger="compat-scope-ids"):
            log.info("working", step=1)
    finally:
        CURRENT.reset(token)
        log.logger.handlers.clear()
    line = json.loads(caplog.records[-1].getMessage())
    assert (line["trace_id"], line["span_id"]) == (f"{0xABC:032x}", f"{0xDEF:016x}")


class _Stuck(InMemorySpanExporter):
    """An exporter whose export waits until released (a collector that does not answer)."""

    def __init__(self) -> None:
        super().__init__()
        self.release, self.entered = threading.Event(), threading.Event()

    def export(self, spans: Any) -> SpanExportResult:
        self.entered.set()
        self.release.wait(10)
        return super().export(spans)


def test_shutdown_keeps_its_deadline() -> None:
    """shutdown(timeout) returns False at its deadline when the exporter hangs, else True."""
    healthy = TracingManager("svc", exporter=InMemorySpanExporter())
    healthy.tracer.start_span("y").end()
    assert healthy.shutdown(timeout=5) is True
    stuck = _Stuck()
    manager = TracingManager("svc", exporter=stuck, batch_timeout_ms=10)
    manager.tracer.start_span("x").end()
    assert stuck.entered.wait(10)
    try:
        assert manager.shutdown(timeout=0) is False
    finally:
        stuck.release.set()


def test_replace_is_idempotent_and_restorable() -> None:
    """Replacing twice and restoring once gives back Kaizen's own method object."""
    from kaizen.core.base_agent import BaseAgent

    from kaizen_perf.compat.agent import is_replaced, replace_observability, restore_observability
    original = BaseAgent.__dict__["enable_observability"]
    mon = Monitor("replace-test", environ={})
    try:
        replace_observability(monitor=mon)
        replace_observability(monitor=mon)
        assert is_replaced()
        restore_observability()
        assert not is_replaced()
        assert BaseAgent.__dict__["enable_observability"] is original
        restore_observability()  # nothing to undo: a no-op
        assert BaseAgent.__dict__["enable_observability"] is original
    finally:
        restore_observability()
        mon.shutdown(2.0)
