"""What one Claude Agent SDK session did, read from the ``claude`` CLI's own messages.

The observer is fed the CLI's stream-json messages (raw dicts) in the order the SDK
reads them, and wraps the user's ``can_use_tool`` and hook callbacks. It keeps the
accounting exact where the SDK's messages mislead (see the package docstring):

* an LLM call is recorded once per message id, at ``message_stop``, with the usage
  of ``message_delta`` (the assistant message only has the ``message_start`` snapshot);
  it lasts from the CLI's ``status: requesting`` to ``message_stop``;
* a failed attempt (``system/api_retry``) is an errored call with its status code;
* ``modelUsage`` and ``total_cost_usd`` accumulate over a session: deltas are taken;
* a permission decision is counted once per ``tool_use_id``, whatever reports it.
"""

from __future__ import annotations

import contextvars
import functools
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from kaizen_perf.errors import BudgetExceeded
from kaizen_perf.integrations._calls import Usage, _log, as_int
from kaizen_perf.integrations.claude_agent_sdk import _usage as u
from kaizen_perf.integrations.claude_agent_sdk._accounting import PROVIDER, Accounting
from kaizen_perf.integrations.claude_agent_sdk._parsed import to_raw
from kaizen_perf.integrations.claude_agent_sdk._results import (
    PermissionDenied,
    QueryResult,
    ToolUnfinished,
    ToolUseFailure,
)
from kaizen_perf.integrations.claude_agent_sdk._state import Call, Pending, Session
from kaizen_perf.monitor import Monitor, get_monitor

__all__ = ["PROVIDER", "TASK_TYPE", "SdkObserver"]

TASK_TYPE = "claude_agent_sdk.query"
_MAX = 10_000  # bound on every per-id table (a message that never comes is forgotten)


def _deny(message: str) -> Any:
    """The SDK's refusal of a tool use that also interrupts the turn."""
    from claude_agent_sdk import PermissionResultDeny

    return PermissionResultDeny(message=message, interrupt=True)


class SdkObserver:
    """Reads one or more sessions' messages into ``monitor`` (default: the process-wide one).

    The monitor is resolved here, once, so no callback the CLI waits for builds it.
    """

    def __init__(self, monitor: Monitor | None = None, *,
                 on_result: Callable[[QueryResult], None] | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.monitor = monitor if monitor is not None else get_monitor()
        self.on_result, self._clock = on_result, clock
        self._sessions: dict[str, Session] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()  # message ids recorded or pending
        self._tools: OrderedDict[str, tuple[str, contextvars.Context, Any]] = OrderedDict()
        self._decided: OrderedDict[str, bool] = OrderedDict()  # tool_use_id → denied
        self._acct = Accounting(self.monitor)

    # -- callbacks the CLI waits for ---------------------------------------------------
    def wrap_can_use_tool(self, callback: Callable[..., Awaitable[Any]],
                          ) -> Callable[..., Awaitable[Any]]:
        """``can_use_tool`` that records each decision and how long the callback took."""
        if getattr(callback, "__kaizen_perf_wrapped__", None) is not None:
            return callback

        @functools.wraps(callback)
        async def can_use_tool(tool_name: str, tool_input: dict[str, Any], context: Any) -> Any:
            start = self._clock()
            stop = self._budget_stop()
            # the CLI sends its own requests: past a hard budget, refusing the next tool
            # (and interrupting the turn) is the earliest stop we can apply
            result = await callback(tool_name, tool_input, context) if stop is None else \
                _deny(f"kaizen-perf hard budget: {stop}")
            try:
                denied = getattr(result, "behavior", "allow") == "deny"
                reason = (getattr(result, "message", None) or None) if denied else None
                self._decide(getattr(context, "tool_use_id", None), tool_name, denied, reason,
                             self._clock() - start)
            except Exception as exc:  # never into the agent
                _log("sdk-permission", f"kaizen-perf could not record a decision: {exc!r}")
            return result
        can_use_tool.__kaizen_perf_wrapped__ = callback  # type: ignore[attr-defined]
        return can_use_tool

    def _budget_stop(self) -> BudgetExceeded | None:
        """The hard budget stop that applies now, if one is armed (never raises)."""
        if self.monitor._budget_stop is None:
            return None
        try:
            self.monitor.budget.check_stop()
        except BudgetExceeded as exc:
            return exc
        except Exception as exc:  # never into the agent
            _log("sdk-budget-check", f"kaizen-perf could not check the budget: {exc!r}")
        return None

    def wrap_hook(self, event: str, callback: Callable[..., Awaitable[Any]],
                  ) -> Callable[..., Awaitable[Any]]:
        """A hook callback that records one hook execution (duration, ok) per call."""
        if getattr(callback, "__kaizen_perf_wrapped__", None) is not None:
            return callback
        monitor, clock = self.monitor, self._clock

        @functools.wraps(callback)
        async def hook(input_data: Any, tool_use_id: str | None, context: Any) -> Any:
            start, ok = clock(), False
            try:
                out = await callback(input_data, tool_use_id, context)
                ok = True
                return out
            finally:
                monitor.hook_executed(event, max(0.0, clock() - start), ok)
        hook.__kaizen_perf_wrapped__ = callback  # type: ignore[attr-defined]
        return hook

    def _decide(self, tool_use_id: object, tool: str, denied: bool, reason: str | None,
                duration_s: float) -> None:
        """Count a permission decision, once per tool_use_id."""
        if isinstance(tool_use_id, str) and tool_use_id:
            if tool_use_id in self._decided:
                return
            self._decided[tool_use_id] = denied
            if len(self._decided) > _MAX:
                self._decided.popitem(last=False)
        self.monitor.permission_check(tool, "denied" if denied else "approved", reason,
                                      max(0.0, duration_s))

    # -- messages ----------------------------------------------------------------------
    #: drop ``StreamEvent`` messages in :meth:`watch` (set when we, not the user, asked)
    hide_stream_events = False

    async def watch(self, messages: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """Pass ``query(...)`` or ``client.receive_response()`` through :meth:`observe`."""
        async for message in messages:
            self.observe(message)
            if self.hide_stream_events and type(message).__name__ == "StreamEvent":
                continue
            yield message

    def observe(self, message: Any) -> None:
        """Record what one parsed SDK message says (never raises)."""
        try:
            raw = to_raw(message)
        except Exception as exc:  # never into the agent
            _log("sdk-observe", f"kaizen-perf could not read a Claude Agent SDK message: {exc!r}")
            return
        if raw is not None:
            self.feed(raw)

    def feed(self, msg: dict[str, Any]) -> None:
        """Record what one CLI message says (any message; never raises)."""
        try:
            kind = msg.get("type")
            if kind == "stream_event":
                self._stream(msg)
            elif kind == "assistant":
                self._assistant(msg)
            elif kind == "user":
                self._user(msg)
            elif kind == "system":
                self._system(msg)
            elif kind == "result":
                self._result(msg)
        except Exception as exc:  # never into the agent
            _log("sdk-observe", f"kaizen-perf could not read a Claude Agent SDK message: {exc!r}")

    def _session(self, msg: dict[str, Any]) -> Session:
        sid = str(msg.get("session_id") or "")
        session = self._sessions.get(sid)
        if session is None:
            if len(self._sessions) >= _MAX:
                self._sessions.pop(next(iter(self._sessions)))
            session = self._sessions[sid] = Session()
        return session

    def _remember(self, message_id: str) -> None:
        self._seen[message_id] = None
        if len(self._seen) > _MAX:
            self._seen.popitem(last=False)

    def _stream(self, msg: dict[str, Any]) -> None:
        event = msg.get("event")
        etype = event.get("type") if isinstance(event, dict) else None
        if etype not in ("message_start", "message_delta", "message_stop",
                         "content_block_start"):
            return  # content deltas: the bulk of the stream, nothing to count
        assert isinstance(event, dict)
        s, now = self._session(msg), self._clock()
        parent = msg.get("parent_tool_use_id")
        if etype == "message_start":
            message = event.get("message") or {}
            started = s.requesting_at if s.requesting_at is not None else now
            s.calls[parent] = Call(str(message.get("id") or ""),
                                    str(message.get("model") or s.model), u.from_api(
                                        message.get("usage")), started, now - started)
            if message.get("id"):
                self._remember(str(message["id"]))
            return
        call = s.calls.get(parent)
        if call is None:
            return
        if etype == "message_delta":
            call.tokens.update(u.from_api(event.get("usage")))
            return
        if etype == "content_block_start":
            block = event.get("content_block")
            if isinstance(block, dict) and block.get("type") == "tool_use" \
                    and isinstance(block.get("name"), str) and block["name"]:
                call.tools.append(block["name"])
            return
        del s.calls[parent]
        s.requesting_at = None
        self._acct.record(s, call.model, call.tokens, now - call.started, ttft=call.ttft,
                          tools=tuple(call.tools))

    def _assistant(self, msg: dict[str, Any]) -> None:
        message = msg.get("message") or {}
        now = self._clock()
        for block in message.get("content") or ():
            if isinstance(block, dict) and block.get("type") == "tool_use":
                self._tool_start(msg, str(block.get("id") or ""), block.get("name"),
                                 block.get("input"))
        if msg.get("error") or message.get("model") == "<synthetic>":
            self._gave_up(msg)
            return
        message_id = message.get("id")
        if not message_id or message_id in self._seen:
            return  # streamed (recorded at message_stop), or a parallel tool call's repeat
        self._remember(str(message_id))
        s = self._session(msg)
        started = s.requesting_at if msg.get("parent_tool_use_id") is None else None
        s.pending.append(Pending(str(message.get("model") or s.model),
                                  u.from_api(message.get("usage")),
                                  0.0 if started is None else now - started))

    def _gave_up(self, msg: dict[str, Any]) -> None:
        """The CLI's own message for a request it stopped retrying: the last failed attempt."""
        if not msg.get("error"):
            return  # a synthetic message that stands for no request
        s, now = self._session(msg), self._clock()
        started = s.requesting_at if s.requesting_at is not None else now
        s.requesting_at = None
        status = as_int(msg.get("api_error_status")) or None
        self._acct.record(s, s.model or "unknown", {}, now - started,
                          error=str(msg["error"]), status=status)

    def _tool_start(self, msg: dict[str, Any], tool_use_id: str, name: object,
                    arguments: object = None) -> None:
        if not tool_use_id or tool_use_id in self._tools or not isinstance(name, str) or not name:
            return
        if name in ("Task", "Agent"):
            self._session(msg).subagents += 1
        # entered in a context of its own, so parallel calls do not nest in each other;
        # the tool_use block's input is only digested (loop detection), never kept
        ctx = contextvars.copy_context()
        scope = ctx.run(self.monitor.tool, name, arguments=arguments)
        ctx.run(scope.__enter__)
        # a subagent's tools (parent_tool_use_id set) may outlive the parent's result
        owner = "" if msg.get("parent_tool_use_id") else str(msg.get("session_id") or "")
        self._tools[tool_use_id] = (owner, ctx, scope)
        if len(self._tools) > _MAX:
            self._tools.popitem(last=False)

    def _tool_end(self, tool_use_id: str, error: type[BaseException] | None) -> None:
        entry = self._tools.pop(tool_use_id, None)
        if entry is not None:
            _, ctx, scope = entry
            if self._decided.get(tool_use_id):
                error = PermissionDenied
            ctx.run(scope.__exit__, error, None, None)

    def _user(self, msg: dict[str, Any]) -> None:
        content = (msg.get("message") or {}).get("content")
        for block in content if isinstance(content, list) else ():
            if isinstance(block, dict) and block.get("type") == "tool_result":
                self._tool_end(str(block.get("tool_use_id") or ""),
                               ToolUseFailure if block.get("is_error") else None)

    def _system(self, msg: dict[str, Any]) -> None:
        sub = msg.get("subtype")
        if sub == "status" and msg.get("status") == "requesting":
            self._session(msg).requesting_at = self._clock()
        elif sub == "api_retry":
            s, now = self._session(msg), self._clock()
            started = s.requesting_at if s.requesting_at is not None else now
            status = as_int(msg.get("error_status")) or None
            self._acct.record(s, s.model or "unknown", {}, now - started,
                              error=str(msg.get("error") or "api_error"), status=status)
            s.requesting_at = now + max(0, as_int(msg.get("retry_delay_ms"))) / 1000
        elif sub == "init":
            self._session(msg).model = str(msg.get("model") or "")
        elif sub == "permission_denied":
            self._denied(msg)

    def _denied(self, denial: dict[str, Any]) -> None:
        name = denial.get("tool_name")
        if isinstance(name, str) and name:
            reason = denial.get("message") or denial.get("decision_reason") or "denied"
            self._decide(denial.get("tool_use_id"), name, True, str(reason), 0.0)

    def _result(self, msg: dict[str, Any]) -> None:
        s = self._session(msg)
        totals = u.per_model(msg.get("modelUsage"))
        self._acct.settle(s, {m: u.minus(t, s.total_usage.get(m, {})) for m, t in totals.items()})
        if totals:
            s.total_usage = totals
        costs = u.cost_per_model(msg.get("modelUsage"))
        self._acct.release(s, {m: max(0.0, c - s.total_model_cost.get(m, 0.0))
                          for m, c in costs.items()})
        if costs:
            s.total_model_cost = costs
        for denial in msg.get("permission_denials") or ():
            if isinstance(denial, dict):
                self._denied(denial)
        sid = str(msg.get("session_id") or "")
        for tool_use_id in [t for t, e in self._tools.items() if sid and e[0] == sid]:
            self._tool_end(tool_use_id, ToolUnfinished)
        self.monitor.task(TASK_TYPE, "unknown", max(0, as_int(msg.get("duration_ms"))) / 1000,
                          ok=not msg.get("is_error"))
        total = u.as_float(msg.get("total_cost_usd"))
        sdk_cost = None if total is None else max(0.0, total - s.total_cost)
        if total is not None:
            s.total_cost = total
        if msg.get("subtype") == "error_max_budget_usd":
            _log("sdk-budget", f"Claude Agent SDK run stopped by max_budget_usd (session "
                 f"{sid}, SDK cost ${total}).")
        result = QueryResult(
            sid, str(msg.get("subtype")), bool(msg.get("is_error")), as_int(msg.get("num_turns")),
            as_int(msg.get("duration_ms")) / 1000, as_int(msg.get("duration_api_ms")) / 1000,
            sdk_cost, None if s.query_unpriced else s.query_cost, s.query_calls,
            {m: Usage(t.get("input", 0), t.get("output", 0), t.get("cache_read", 0),
                      t.get("cache_write", 0)) for m, t in s.query_tokens.items()}, s.subagents)
        s.query_tokens, s.query_calls, s.query_cost, s.query_unpriced = {}, 0, 0.0, False
        s.subagents = 0
        if self.on_result is not None:
            self.on_result(result)
