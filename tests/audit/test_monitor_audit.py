"""The audit trail as the Monitor exposes it: mon.audit, automatic entries, budget stops."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kaizen_perf import BudgetExceeded, Monitor


def test_automatic_entries_from_hooks_are_durable_and_verify(tmp_path: Path) -> None:
    """With a store configured, tool calls, permission decisions, checkpoints and interrupts
    become audit entries, next to explicit records; the trail verifies."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    mon = Monitor("auditor", environ={}, audit_url=url)
    try:
        receipt = mon.audit.record(action="deploy", result="success", user_id="alice",
                                   details={"api_key": "sk-ant-api03-" + "x" * 40})
        with mon.tool("bash"):
            pass
        mon.permission_check(tool="bash", decision="denied", reason="policy")
        mon.checkpoint(op="save", size_bytes=10, duration_s=0.01)
        mon.interrupt(kind="immediate")
        mon.flush()
        entries = mon.audit.query(agent_id="auditor")
    finally:
        mon.shutdown(5.0)
    actions = [e.action for e in entries]
    assert receipt.seq >= 1 and actions[0] == "deploy"
    assert actions == ["deploy", "tool_execute", "permission_check", "checkpoint_save",
                       "interrupt"], actions
    deploy = entries[0]
    assert "sk-ant-api03" not in str(deploy.details)  # redacted before hashing
    denied = next(e for e in entries if e.result == "denied")
    assert denied.details["reason"] == "policy"
    from kaizen_perf.audit import open_trail
    trail = open_trail(url, agent_id="verifier")
    try:
        assert trail.verify().ok
    finally:
        trail.close(2.0)


def test_no_store_is_created_unless_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:
    """A monitor without an audit URL writes no audit database by itself."""
    monkeypatch.chdir(tmp_path)
    mon = Monitor("quiet", environ={})
    with mon.tool("x"):
        pass
    mon.shutdown(2.0)
    assert not os.path.exists(tmp_path / ".kaizen")


def test_budget_hard_stop_is_audited(tmp_path: Path) -> None:
    """A hard budget stop raises into agent code and leaves a denied budget_stop entry."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    mon = Monitor("spender", environ={}, audit_url=url, audit_auto="none", budget_usd=0.001,
                  budget_hard_stop=True)
    try:
        mon.record_api_call("anthropic", "claude-sonnet-4-5", 1000, 1000)
        mon.flush()
        with pytest.raises(BudgetExceeded), mon.tool("more"):
            pass
        stops = mon.audit.query(action="budget_stop")
    finally:
        mon.shutdown(5.0)
    assert len(stops) == 1 and stops[0].result == "denied"
