"""The Claude Agent SDK adapter against the real bundled ``claude`` CLI and a scripted server.

Each module fixture runs one real CLI session (about 2 s and 200 MiB each) and the tests
compare what kaizen-perf recorded with the server's ground truth and the SDK's own figures.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import claude_agent_sdk as sdk
import pytest

from kaizen_perf import Monitor
from kaizen_perf.events import ApiCallEvent, HookEvent, PermissionEvent, TaskEvent, ToolEvent
from kaizen_perf.integrations import claude_agent_sdk as kp
from kaizen_perf.testing import capture_events
from tests.helpers import need
from tests.integrations import sdk_scenarios as sc
from tests.integrations.anthropic_sse_server import AnthropicServer, Request, Tokens, text

pytestmark = pytest.mark.e2e

@dataclass
class Session:
    """What one real CLI session left: our events, the server's truth, the SDK's results."""

    events: list[Any]
    requests: list[Request]
    results: list[Any] = field(default_factory=list)  # the SDK's ResultMessages
    ours: list[kp.QueryResult] = field(default_factory=list)
    hooks_fired: Counter[str] = field(default_factory=Counter)
    first_hook: list[float] = field(default_factory=list)  # when the first hook came
    stream_events_seen: int = 0
    observer: kp.SdkObserver | None = None
    decisions: list[tuple[str, str]] = field(default_factory=list)  # can_use_tool's answers

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    @property
    def answered(self) -> list[Request]:
        return [r for r in self.requests if r.status == 200]

    def calls(self) -> list[ApiCallEvent]:
        return [e for e in self.of(ApiCallEvent) if e.error is None]


@pytest.fixture(scope="module")
def server() -> Iterator[AnthropicServer]:
    need(Path(sc.cli_path()).exists(), "claude-agent-sdk has no bundled claude CLI")
    srv = AnthropicServer.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


def monitor(tmp: Path) -> Monitor:
    return Monitor("sdk", environ={"KAIZEN_PERF_PRICING_FILE": str(sc.pricing_file(tmp))})


def run(server: AnthropicServer, mon: Monitor, body: Any,
        session: Session | None = None) -> Session:
    """Run the coroutine function ``body(session)`` with events captured and truth taken."""
    server.reset()
    session = session or Session([], [])
    with capture_events(mon) as events:
        asyncio.run(body(session))
    session.events, session.requests = events, server.reset().requests
    return session


@pytest.fixture(scope="module")
def five(server: AnthropicServer, home: Path, tmp_path_factory: pytest.TempPathFactory,
         ) -> Session:
    """query() through instrument_options on the five-call scenario, hooks on every event."""
    tmp = tmp_path_factory.mktemp("five")
    work, mon = sc.workdir(tmp / "work"), monitor(tmp)

    async def body(session: Session) -> None:
        server.script(*sc.five_calls(work))
        options = sdk.ClaudeAgentOptions(env=sc.cli_env(server, home), cwd=str(work),
                                         can_use_tool=sc.deny_writes,
                                         hooks=sc.counting_hooks(session.hooks_fired,
                                                                 session.first_hook))
        session.observer = kp.instrument_options(options, mon, on_result=session.ours.append)
        async for m in session.observer.watch(sdk.query(prompt=sc.one_prompt("go"),
                                                        options=options)):
            session.stream_events_seen += isinstance(m, sdk.StreamEvent)
            if isinstance(m, sdk.ResultMessage):
                session.results.append(m)

    try:
        return run(server, mon, body)
    finally:
        mon.shutdown(2.0)


def test_llm_calls_are_the_answered_requests_with_their_final_usage(five: Session) -> None:
    """One call per answered request, each with the server's usage (output from message_delta)."""
    truth = [(r.usage.input, r.usage.output, r.usage.cache_read, r.usage.cache_write)
             for r in five.answered if r.usage]
    assert len(truth) == 5
    assert [(c.input_tokens, c.output_tokens, c.cache_read_tokens, c.cache_write_tokens)
            for c in five.calls()] == truth
    assert five.ours[0].llm_calls == 5


def test_the_529_retry_is_an_errored_attempt_with_its_status(five: Session) -> None:
    """The overloaded answer the CLI retried is recorded once, with status code 529."""
    assert [r.status for r in five.requests if r.status != 200] == [529]
    assert [(e.error, e.status_code) for e in five.of(ApiCallEvent) if e.error] == \
        [("overloaded", 529)]


def test_call_durations_span_the_request_and_exclude_the_cli_start(five: Session) -> None:
    """Each call covers its request on the server, and the first starts after the CLI was up."""
    for call, req in zip(five.calls(), five.answered, strict=True):
        end = call.end_ns / 1e9
        assert end - call.duration_s <= req.received_s and end >= req.answered_s
    first = five.calls()[0]
    assert first.end_ns / 1e9 - first.duration_s >= five.first_hook[0]  # after UserPromptSubmit


def test_tools_count_with_failures_and_the_denied_write(five: Session) -> None:
    """Bash 2 and Read 2 ran; Write is one call that ended denied; nothing is left pending."""
    tools = Counter((e.tool, e.error) for e in five.of(ToolEvent))
    assert tools == {("Bash", None): 2, ("Read", None): 2, ("Write", "PermissionDenied"): 1}
    assert five.observer is not None and not five.observer._tools


def test_each_permission_decision_is_counted_once(five: Session) -> None:
    """The Write denial is one decision, though the CLI also fires PermissionRequest for it."""
    assert five.hooks_fired["PermissionRequest"] == 1
    assert [(e.tool, e.decision, e.reason) for e in five.of(PermissionEvent)] == \
        [("Write", "denied", "no writes here")]


def test_every_hook_the_cli_fires_is_one_hook_execution(five: Session) -> None:
    """Hook executions per event equal the CLI's calls of the user's hooks."""
    recorded = Counter(e.hook for e in five.of(HookEvent))
    assert recorded == five.hooks_fired
    assert {"PreToolUse", "PostToolUse", "UserPromptSubmit", "Stop"} <= set(recorded)


def test_cost_agrees_with_the_sdks_total_cost(five: Session) -> None:
    """Our cost of the query is within 0.5 % of the SDK's total_cost_usd."""
    (result,) = five.results
    ours = sum(c.cost_pico for c in five.calls()) / 1e12
    assert ours == pytest.approx(result.total_cost_usd, rel=0.005)
    assert five.ours[0].cost_usd == pytest.approx(result.total_cost_usd, rel=0.005)
    assert five.ours[0].sdk_cost_usd == result.total_cost_usd


def test_stream_events_asked_for_by_kaizen_perf_stay_hidden(five: Session) -> None:
    """The partial messages the adapter turns on never reach the user's loop."""
    assert five.stream_events_seen == 0
    assert [e.task_type for e in five.of(TaskEvent)] == ["claude_agent_sdk.query"]


PROMPTS = 5


@pytest.fixture(scope="module")
def client(server: AnthropicServer, home: Path, tmp_path_factory: pytest.TempPathFactory,
           ) -> Session:
    """A 5-prompt ClaudeSDKClient session: the five calls, failing tools and a 500, 3 texts."""
    tmp = tmp_path_factory.mktemp("client")
    work, mon = sc.workdir(tmp / "work"), monitor(tmp)

    async def decide(tool: str, tool_input: dict[str, Any], context: Any) -> Any:
        answer = await sc.deny_writes(tool, tool_input, context)
        session.decisions.append((tool, "denied" if answer.behavior == "deny" else "approved"))
        return answer

    async def body(session: Session) -> None:
        server.script(*sc.five_calls(work), *sc.failing_tools(work),
                      *(text(f"answer {i}", Tokens(10 + i, 5 + i, 3500 + 30 * i, 30))
                        for i in range(2, PROMPTS)))
        options = sdk.ClaudeAgentOptions(env=sc.cli_env(server, home), cwd=str(work),
                                         can_use_tool=decide,
                                         hooks=sc.counting_hooks(session.hooks_fired))
        session.observer = kp.instrument_options(options, mon, on_result=session.ours.append)
        async with sdk.ClaudeSDKClient(options) as c:
            for i in range(PROMPTS):
                await c.query(f"prompt {i}")
                async for m in session.observer.watch(c.receive_response()):
                    if isinstance(m, sdk.ResultMessage):
                        session.results.append(m)

    session = Session([], [])
    try:
        return run(server, mon, body, session)
    finally:
        mon.shutdown(2.0)


def test_client_session_counts_each_request_once(client: Session) -> None:
    """Over 5 prompts, calls equal answered requests and tokens equal the server's sums."""
    assert len(client.results) == PROMPTS
    truth = sum((r.usage for r in client.answered if r.usage), Tokens())
    calls = client.calls()
    assert len(calls) == len(client.answered) == 5 + 3 + PROMPTS - 2
    assert (sum(c.input_tokens for c in calls), sum(c.output_tokens for c in calls),
            sum(c.cache_read_tokens for c in calls), sum(c.cache_write_tokens for c in calls)) \
        == (truth.input, truth.output, truth.cache_read, truth.cache_write)
    assert [q.llm_calls for q in client.ours] == [5, 3] + [1] * (PROMPTS - 2)


def test_client_session_cost_per_query_from_cumulative_figures(client: Session) -> None:
    """Each query's cost matches the growth of the SDK's running total_cost_usd."""
    totals = [r.total_cost_usd for r in client.results]
    deltas = [b - a for a, b in zip([0.0, *totals], totals, strict=False)]
    assert totals == sorted(totals) and totals[-1] > totals[0]  # it is a running total
    assert [q.sdk_cost_usd for q in client.ours] == pytest.approx(deltas)
    assert [q.cost_usd for q in client.ours] == pytest.approx(deltas, rel=0.005)
    ours = sum(c.cost_pico for c in client.calls()) / 1e12
    assert ours == pytest.approx(totals[-1], rel=0.005)


def test_client_session_tools_failures_denial_and_retries(client: Session) -> None:
    """Tools ran, failed (``exit 3``, a missing file) or were denied; both retries have a status."""
    assert Counter((e.tool, e.error) for e in client.of(ToolEvent)) == {
        ("Bash", None): 2, ("Read", None): 2, ("Write", "PermissionDenied"): 1,
        ("Bash", "ToolUseFailure"): 1, ("Read", "ToolUseFailure"): 1}
    assert [(e.error, e.status_code) for e in client.of(ApiCallEvent) if e.error] == \
        [("overloaded", 529), ("server_error", 500)]
    assert client.observer is not None and not client.observer._tools
    # the failures fire PostToolUseFailure, each one hook execution
    assert client.hooks_fired["PostToolUseFailure"] == 2
    assert Counter(e.hook for e in client.of(HookEvent)) == client.hooks_fired


def test_client_session_decisions_are_the_callbacks_answers(client: Session) -> None:
    """One permission record per can_use_tool answer (the CLI asks for Write and ``exit 3``)."""
    assert [(e.tool, e.decision) for e in client.of(PermissionEvent)] == client.decisions
    assert client.decisions == [("Write", "denied"), ("Bash", "approved")]
