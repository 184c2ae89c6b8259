"""The Kaizen BaseAgent integration: the original design's agent-run example, ported."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from kaizen_perf import Monitor
from kaizen_perf.compat import FileAuditStorage
from kaizen_perf.events import LoopEvent
from kaizen_perf.integrations.kaizen import ObservedAgentMixin, observed_run
from kaizen_perf.testing import capture_events


class BaseAgent:
    """Stands in for kaizen.core.base_agent.BaseAgent (not installable here): config + run()."""

    class Config:
        name = "researcher"

    def __init__(self) -> None:
        self.config = self.Config()

    async def run(self, **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("input") == "fail":
            return {"error": "could not answer"}
        if kwargs.get("input") == "raise":
            raise TimeoutError("model timed out")
        return {"answer": 42}


class Researcher(ObservedAgentMixin, BaseAgent):
    pass


def agent(mon: Monitor, tmp_path: Path) -> Researcher:
    a = Researcher()
    a.enable_observability(monitor=mon, audit_storage=FileAuditStorage(tmp_path / "audit.jsonl"))
    return a


def test_observability_with_real_agent(mon: Monitor, tmp_path: Path) -> None:
    """The original's tier-2 test: a run exports agent_loop_start/duration and is audited."""
    a = agent(mon, tmp_path)
    with capture_events(mon) as events:
        result = asyncio.run(a.run(input="Test"))
    assert result == {"answer": 42}
    metrics = asyncio.run(a.observability.export_metrics())
    assert 'agent_loop_start{agent_id="researcher"} 1.0' in metrics
    assert 'agent_loop_duration_count{agent_id="researcher"} 1' in metrics
    assert 'kaizen_agent_loop_iterations_total{agent="tester",status="ok"} 1' in metrics
    assert [type(e) for e in events] == [LoopEvent]
    assert a.observability.audit is not None
    entries = asyncio.run(a.observability.audit.query_by_agent("researcher"))
    assert [(e.action, e.result) for e in entries] == [("agent_execution", "success")]
    (span,) = a.observability.tracing.finished  # type: ignore[union-attr]
    assert span.operation_name == "agent_run"


def test_outcomes_and_redacted_logs(mon: Monitor, tmp_path: Path,
                                    caplog: pytest.LogCaptureFixture) -> None:
    """Error results and exceptions are audited as failures; logged inputs never show values."""
    a = agent(mon, tmp_path)
    with caplog.at_level(logging.INFO, logger="researcher"):
        asyncio.run(a.run(input="fail", secret="sk-live-123"))
        with pytest.raises(TimeoutError):
            asyncio.run(a.run(input="raise"))
    assert "sk-live-123" not in caplog.text
    started = json.loads(caplog.records[0].getMessage())
    assert started["context"]["inputs"] == {"input": "<str len=4>", "secret": "<str len=11>"}
    assert a.observability.audit is not None
    entries = asyncio.run(a.observability.audit.query_by_action("agent_execution"))
    assert [e.result for e in entries] == ["failure", "failure"]
    assert entries[1].details["error"] == "TimeoutError"
    text = mon.export_metrics()
    assert 'kaizen_agent_loop_iterations_total{agent="tester",status="error"} 1' in text


def test_decorator_on_a_sync_run(mon: Monitor, tmp_path: Path) -> None:
    """@observed_run works on a synchronous run() too, audit included."""
    class Plain:
        name = "plain"

        def __init__(self) -> None:
            from kaizen_perf.compat import ObservabilityManager
            self.observability = ObservabilityManager(
                "plain", monitor=mon, audit_storage=FileAuditStorage(tmp_path / "p.jsonl"))

        @observed_run
        def run(self, **kwargs: Any) -> dict[str, Any]:
            return {"ok": True}

    p = Plain()
    assert p.run(x=1) == {"ok": True}
    assert "agent_loop_start" in asyncio.run(p.observability.export_metrics())
    assert len((tmp_path / "p.jsonl").read_text().splitlines()) == 1
