"""JSON logs: fields, trace context matching the spans, bind, stdlib routing, event log, files."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kaizen_perf import Monitor
from kaizen_perf.errors import ConfigError
from kaizen_perf.exporters.logfile import LineWriter
from kaizen_perf.logs import bind, configure_logging, get_logger, unbind
from kaizen_perf.tracing import TraceSink


@pytest.fixture
def out() -> Iterator[io.StringIO]:
    """Logs go to a string buffer; the default set-up is restored afterwards."""
    buf = io.StringIO()
    configure_logging(stream=buf, agent="researcher")
    yield buf
    configure_logging(stream=None)


def _lines(buf: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buf.getvalue().splitlines()]


def _spans(mon: Monitor) -> dict[str, Any]:
    [sink] = [s for s in mon.pipeline._sinks if isinstance(s, TraceSink)]
    return {s.name: s for s in sink.exporters["memory"].get_finished_spans()}  # type: ignore[attr-defined]


def test_log_line_is_json_with_the_ids_of_the_current_span(out: io.StringIO) -> None:
    """A line logged inside a tool carries that tool span's trace_id and span_id."""
    mon = Monitor("researcher", traces="memory", log_events="all")
    configure_logging(mon.settings, stream=out)
    log = get_logger("agent.search")
    with mon.agent_loop(), mon.tool("search"):
        log.info("searching", query="weather")
    mon.shutdown(2.0)
    spans = _spans(mon)
    line = next(x for x in _lines(out) if x["event"] == "searching")
    tool_ctx = spans["execute_tool search"].context
    assert line["trace_id"] == f"{tool_ctx.trace_id:032x}"
    assert line["span_id"] == f"{tool_ctx.span_id:016x}"
    assert line["level"] == "info" and line["logger"] == "agent.search"
    assert line["agent"] == "researcher" and line["query"] == "weather"
    assert line["timestamp"].endswith("Z")
    assert list(line)[:5] == ["timestamp", "level", "event", "logger", "agent"]


def test_hook_event_lines_carry_the_ids_of_their_spans(out: io.StringIO) -> None:
    """With log_events=all each hook event is a line whose ids equal its span's."""
    mon = Monitor("researcher", traces="memory", log_events="all")
    configure_logging(mon.settings, stream=out)
    with mon.agent_loop(), mon.tool("search"):
        mon.record_api_call("anthropic", "claude-sonnet-4-5", input_tokens=5, duration_s=0.1)
    mon.shutdown(2.0)
    spans = _spans(mon)
    by_event = {x["event"]: x for x in _lines(out)}
    for event, span in (("tool", "execute_tool search"), ("loop", "invoke_agent researcher"),
                        ("api_call", "chat claude-sonnet-4-5")):
        ctx = spans[span].context
        assert by_event[event]["trace_id"] == f"{ctx.trace_id:032x}", event
        assert by_event[event]["span_id"] == f"{ctx.span_id:016x}", event
    loop_id = spans["invoke_agent researcher"].context.span_id
    assert by_event["tool"]["parent_id"] == f"{loop_id:016x}"
    assert by_event["api_call"]["input_tokens"] == 5
    assert by_event["tool"]["duration_s"] >= 0


def test_errors_only_logs_failures_and_not_successes(out: io.StringIO) -> None:
    """log_events=errors writes failed tools (level error) and skips the successful ones."""
    mon = Monitor("researcher", log_events="errors")
    configure_logging(mon.settings, stream=out)
    with mon.tool("ok_tool"):
        pass
    with pytest.raises(KeyError), mon.tool("bad_tool"):
        raise KeyError("x")
    mon.control_request("approval", duration_s=0.1, outcome="timeout")
    mon.shutdown(2.0)
    lines = _lines(out)
    assert [(x["event"], x.get("tool") or x.get("kind")) for x in lines] == [
        ("tool", "bad_tool"), ("control_request", "approval")]
    assert lines[0]["level"] == "error" and lines[0]["error"] == "KeyError"


def test_bind_adds_context_that_follows_the_task(out: io.StringIO) -> None:
    """bind() context appears on later lines in the same task, and unbind() removes it."""
    log = get_logger("x")
    bind(run_id="r-1")
    log.info("one")
    unbind("run_id")
    log.bind(step=2).info("two")
    first, second = _lines(out)
    assert first["run_id"] == "r-1" and "run_id" not in second and second["step"] == 2


def test_asyncio_tasks_log_their_own_span(out: io.StringIO) -> None:
    """Two concurrent asyncio tasks each log the span id of their own tool scope."""
    mon = Monitor("researcher", traces="memory")
    log = get_logger("x")

    async def work(name: str) -> None:
        async with mon.tool(name):
            await asyncio.sleep(0.01)
            log.info("in tool", tool=name)

    async def main() -> None:
        with mon.agent_loop():
            await asyncio.gather(work("a"), work("b"))

    asyncio.run(main())
    mon.shutdown(2.0)
    spans = _spans(mon)
    for line in _lines(out):
        assert line["span_id"] == f"{spans['execute_tool ' + line['tool']].context.span_id:016x}"


def test_stdlib_records_go_through_the_same_processors(out: io.StringIO) -> None:
    """With stdlib='root', logging.getLogger(...) lines are JSON, redacted and trace-tagged."""
    configure_logging(stream=out, stdlib="root")
    mon = Monitor("researcher")
    try:
        with mon.tool("t"):
            logging.getLogger("thirdparty").warning("key is %s", "sk-" + "a" * 48)
    finally:
        configure_logging(stream=None)
        mon.shutdown(2.0)
    [line] = [x for x in _lines(out) if x["logger"] == "thirdparty"]
    assert line["level"] == "warning" and line["event"] == "key is [REDACTED:openai_key]"
    assert len(line["span_id"]) == 16


def test_secrets_are_redacted_in_log_lines(out: io.StringIO) -> None:
    """Secret keys and secret-shaped values never reach the log."""
    get_logger("x").info("calling api", api_key="plain", note="mail ann@example.com",
                         headers={"Authorization": "Bearer abc"})
    [line] = _lines(out)
    assert line["api_key"] == "[REDACTED]" and line["note"] == "mail [REDACTED:email]"
    assert line["headers"] == {"Authorization": "[REDACTED]"}


def test_log_level_filters_lower_levels() -> None:
    """At level warning, info lines are not written."""
    buf = io.StringIO()
    configure_logging(stream=buf, level="warning")
    try:
        log = get_logger("x")
        log.info("hidden")
        log.warning("shown")
    finally:
        configure_logging(stream=None)
    assert [x["event"] for x in _lines(buf)] == ["shown"]


def test_log_file_rotates_at_midnight_and_keeps_the_retention(tmp_path: Path) -> None:
    """A file rotates at UTC midnight to file.YYYY-MM-DD; rotated files past retention go."""
    now = [86_400 * 20_000 + 3600.0]  # 2024-10-04 01:00 UTC
    path = tmp_path / "logs" / "agent.jsonl"
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "agent.jsonl.2024-08-01").write_text("old\n")
    (tmp_path / "logs" / "agent.jsonl.2024-10-01").write_text("recent\n")
    writer = LineWriter(path, retention_days=30, clock=lambda: now[0])
    assert not (tmp_path / "logs" / "agent.jsonl.2024-08-01").exists()
    writer.write('{"n":1}\n')
    now[0] += 86_400
    writer.write('{"n":2}\n')
    writer.close()
    assert (tmp_path / "logs" / "agent.jsonl.2024-10-04").read_text() == '{"n":1}\n'
    assert path.read_text() == '{"n":2}\n'
    assert (tmp_path / "logs" / "agent.jsonl.2024-10-01").exists()


def test_unwritable_log_file_is_a_config_error_naming_the_fix(tmp_path: Path) -> None:
    """A log file that cannot be opened fails at start-up with the path and the fix."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="KAIZEN_PERF_LOG_FILE"):
        configure_logging(file=str(blocker / "sub" / "x.log"))
    configure_logging(stream=None)


def test_settings_log_file_receives_event_lines(tmp_path: Path) -> None:
    """KAIZEN_PERF_LOG_FILE + LOG_EVENTS=all write hook events to that file."""
    path = tmp_path / "agent.jsonl"
    mon = Monitor("researcher", log_events="all", log_file=str(path))
    with mon.tool("search"):
        pass
    mon.shutdown(2.0)
    configure_logging(stream=None)
    [line] = [json.loads(x) for x in path.read_text().splitlines()]
    assert line["event"] == "tool" and line["tool"] == "search"
