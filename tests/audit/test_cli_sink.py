"""The `kaizen-perf audit` commands, and automatic entries from hook events."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from kaizen_perf.audit import AuditSink, AuditTrail, parse_auto
from kaizen_perf.cli.main import main
from kaizen_perf.errors import ConfigError
from kaizen_perf.events import (
    CheckpointEvent,
    InterruptEvent,
    LoopEvent,
    PermissionEvent,
    ToolEvent,
)
from tests.audit import tamper
from tests.audit.conftest import KEY

MakeTrail = Callable[..., AuditTrail]


@pytest.fixture
def filled(url_for: Callable[[str], str], make_trail: MakeTrail,
           monkeypatch: pytest.MonkeyPatch) -> str:
    """A closed SQLite trail with 5 entries; the CLI gets its URL and key from the environment."""
    url = url_for("sqlite")
    trail = make_trail(url, checkpoint_interval=3)
    for i in range(5):
        trail.record("deploy" if i == 4 else "step", {"i": i}, user_id="bob",
                     result="failure" if i == 3 else "success")
    trail.close()
    monkeypatch.setenv("KAIZEN_PERF_AUDIT_URL", url)
    monkeypatch.setenv("KAIZEN_PERF_AUDIT_KEY", KEY.decode())
    return url


def test_cli_query_filters_in_table_json_and_csv(filled: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """`audit query` applies its filters and prints a table, JSON lines or CSV."""
    assert main(["audit", "query", "--action", "deploy"]) == 0
    table = capsys.readouterr().out
    assert "deploy" in table and "step" not in table
    assert main(["audit", "query", "--result", "failure", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["details"] == {"i": 3}
    assert main(["audit", "query", "--since", "1h", "--limit", "2", "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 3 and rows[2][5] == "deploy"


def test_cli_verify_exits_0_when_intact_and_1_listing_problems(
        filled: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`audit verify` exits 0 on an intact trail and 1 with each problem and its location."""
    assert main(["audit", "verify"]) == 0
    assert "INTACT" in capsys.readouterr().out
    tamper.write_all(filled, tamper.flip(tamper.read_all(filled), 2))
    assert main(["audit", "verify", "--url", filled]) == 1
    out = capsys.readouterr().out
    assert "PROBLEM" in out and "row seq=2" in out
    assert main(["audit", "verify", "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out)["ok"] is False


def test_cli_usage_errors_exit_2(filled: str, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A bad URL, a missing trail or a bad age is a usage error (exit 2) with a clear message."""
    assert main(["audit", "verify", "--url", "mysql://x"]) == 2
    assert "expected sqlite:///PATH" in capsys.readouterr().err
    assert main(["audit", "query", "--url", f"sqlite:///{tmp_path}/none.db"]) == 2
    assert "There is no audit trail" in capsys.readouterr().err
    assert main(["audit", "prune", "--older-than", "soon"]) == 2
    assert "expected a number and a unit" in capsys.readouterr().err


def test_cli_export_and_prune(filled: str, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    """`audit export` writes every record; `audit prune` keeps the trail verifiable."""
    out = tmp_path / "export.jsonl"
    assert main(["audit", "export", "-o", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 7  # 5 entries, 2 checkpoints
    assert main(["audit", "prune", "--older-than", "0s"]) == 0
    assert json.loads(capsys.readouterr().out)["pruned"] == 7
    assert main(["audit", "verify"]) == 0


def _events() -> list[object]:
    return [ToolEvent("a1", "bash", 0, 2_000_000_000, "TimeoutError", 0, 0, 0),
            PermissionEvent("a1", "rm", "denied", "policy", 0.001, 0, 0, 0, 0),
            PermissionEvent("a1", "ls", "approved", None, 0.001, 0, 0, 0, 0),
            CheckpointEvent("a1", "save", 5000, 0.02, None, 0, 0, 0, 0),
            InterruptEvent("a1", "graceful", 0, 0, 0, 0),
            LoopEvent("a1", 0, 1, None, 0, 0, 0)]


def test_sink_records_hook_events_as_audit_entries(store_url: str,
                                                   make_trail: MakeTrail) -> None:
    """Tool runs, permission decisions, checkpoints and interrupts become entries."""
    trail = make_trail(store_url)
    sink = AuditSink(trail, to_wall_ns=lambda ns: 1_700_000_000 * 10**9 + ns)
    sink.handle(_events())  # type: ignore[arg-type]
    entries = trail.query()
    assert [(e.action, e.result) for e in entries] == [
        ("tool_execute", "failure"), ("permission_check", "denied"),
        ("permission_check", "success"), ("checkpoint_save", "success"), ("interrupt", "success")]
    assert entries[0].details == {"tool": "bash", "duration_s": 2.0, "error": "TimeoutError"}
    assert entries[1].details["reason"] == "policy" and entries[0].agent_id == "a1"
    assert entries[0].ts.startswith("2023-11-14T22:13:22")  # at the event's end
    assert sink.recorded == 5 and trail.verify().ok


def test_sink_kinds_are_configurable_and_it_never_raises(url_for: Callable[[str], str],
                                                         make_trail: MakeTrail) -> None:
    """Only the chosen kinds are recorded; a closed trail is counted, not raised."""
    trail = make_trail(url_for("sqlite"))
    sink = AuditSink(trail, kinds=parse_auto("permission"))
    sink.handle(_events())  # type: ignore[arg-type]
    assert [e.action for e in trail.query()] == ["permission_check"] * 2
    trail.close()
    sink.handle(_events())  # type: ignore[arg-type]
    assert sink.failed == 2
    assert parse_auto("none") == ()
    with pytest.raises(ValueError, match="comma-separated list"):
        parse_auto("tools")
    with pytest.raises(ConfigError):
        AuditSink(trail, kinds=["tools"])
