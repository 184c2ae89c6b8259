"""Adapter for the Claude Agent SDK (``claude-agent-sdk``): hooks in, messages observed.

::

    from claude_agent_sdk import ClaudeAgentOptions, query
    from kaizen_perf.integrations.claude_agent_sdk import instrument_options

    options = ClaudeAgentOptions(max_budget_usd=5.0)
    sdk = instrument_options(options)                   # adds our hooks (keeps yours)
    async for message in sdk.watch(query(prompt="…", options=options)):
        ...                                             # every message passes through observe()

What is recorded, and the SDK's accounting traps it avoids:

* Tools: ``PreToolUse`` → ``PostToolUse`` / ``PostToolUseFailure`` timed by
  ``tool_use_id`` (the SDK gives no duration for the span), as ``mon.tool(name)``.
* Permissions: a wrapped ``can_use_tool`` records each decision and how long it took;
  without one, a ``PermissionRequest`` counts as approved once its tool ran, and as
  denied when the result lists it in ``permission_denials`` (duration unknown: 0).
* ``PreCompact``, ``SubagentStart``, ``SubagentStop``, ``Stop`` and ``PermissionRequest``
  are counted as hook executions (``kaizen_hook_executions_total{hook=…}``).
* LLM calls: each ``AssistantMessage`` with ``usage``. Parallel tool calls arrive as
  several messages repeating one ``message_id`` and its usage: counted once.
  ``ResultMessage.usage`` excludes subagents, ``model_usage`` (camelCase, per model)
  includes them: what ``model_usage`` holds beyond the assistant messages seen is
  recorded per model at the end, so subagents are counted and nothing twice.
* The run: ``ResultMessage`` → ``mon.task("claude_agent_sdk.query")`` with its duration
  and outcome; the :class:`QueryResult` (subtype such as ``error_max_budget_usd``,
  turns, the SDK's own ``total_cost_usd`` next to ours) goes to ``on_result``.
"""

from __future__ import annotations

import contextvars
import functools
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from kaizen_perf.integrations._calls import Usage, _log, as_int
from kaizen_perf.integrations.anthropic import usage_fields
from kaizen_perf.monitor import Monitor, get_monitor

__all__ = ["QueryResult", "SdkObserver", "ToolUseFailure", "instrument_options"]

PROVIDER = "anthropic"
_MAX_PENDING = 10_000
_COUNTED_HOOKS = ("PermissionRequest", "PreCompact", "SubagentStart", "SubagentStop", "Stop")
_CAMEL = {"input_tokens": "inputTokens", "output_tokens": "outputTokens",
          "cache_read_tokens": "cacheReadInputTokens",
          "cache_write_tokens": "cacheCreationInputTokens"}


class ToolUseFailure(Exception):
    """The error name a tool call gets when the SDK reports ``PostToolUseFailure``."""


@dataclass(frozen=True)
class QueryResult:
    """One ``ResultMessage``: how the query ended, and cost by the SDK's table and ours."""

    session_id: str
    subtype: str
    is_error: bool
    num_turns: int
    duration_s: float
    duration_api_s: float
    sdk_cost_usd: float | None  #: ``total_cost_usd``: the SDK's estimate (bundled price table)
    cost_usd: float | None  #: ours, for this session so far; None if a model is unpriced
    model_usage: dict[str, Usage] = field(default_factory=dict)
    subagents: int = 0

    @property
    def budget_exceeded(self) -> bool:
        """The run was stopped by ``max_budget_usd``."""
        return self.subtype == "error_max_budget_usd"


@dataclass
class _Session:
    recorded: dict[str, dict[str, int]] = field(default_factory=dict)  # model → tokens
    cost: float = 0.0
    unpriced: bool = False
    subagents: int = 0


class SdkObserver:
    """The hooks and the message observer for one monitor (any number of sessions)."""

    def __init__(self, monitor: Monitor | None = None, *,
                 on_result: Callable[[QueryResult], None] | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self._monitor, self.on_result, self._clock = monitor, on_result, clock
        self._tools: OrderedDict[str, tuple[contextvars.Context, Any]] = OrderedDict()
        self._permissions: OrderedDict[str, str] = OrderedDict()  # tool_use_id → tool
        self._messages: OrderedDict[str, dict[str, int]] = OrderedDict()
        self._sessions: dict[str, _Session] = {}
        self._last_input = clock()

    @property
    def monitor(self) -> Monitor:
        return self._monitor if self._monitor is not None else get_monitor()

    # -- hooks ------------------------------------------------------------------------
    def hooks(self) -> dict[str, Callable[..., Awaitable[dict[str, Any]]]]:
        """Our callback per hook event, in the SDK's ``async (input, tool_use_id, ctx)`` form."""
        table: dict[str, Callable[[dict[str, Any], str | None], None]] = {
            "PreToolUse": self._pre_tool, "PostToolUse": self._post_tool,
            "PostToolUseFailure": self._post_tool, "PermissionRequest": self._permission,
            **dict.fromkeys(("PreCompact", "SubagentStart", "SubagentStop", "Stop"),
                            self._count),
        }
        return {name: self._callback(handler) for name, handler in table.items()}

    def _callback(self, handler: Callable[[dict[str, Any], str | None], None],
                  ) -> Callable[..., Awaitable[dict[str, Any]]]:
        async def callback(input_data: dict[str, Any], tool_use_id: str | None,
                           context: Any) -> dict[str, Any]:
            start = self._clock()
            try:
                handler(input_data, tool_use_id or input_data.get("tool_use_id"))
                event = input_data.get("hook_event_name")
                if event in _COUNTED_HOOKS:
                    self.monitor.hook_executed(str(event), self._clock() - start)
            except Exception as exc:  # never into the agent
                _log("sdk-hook", f"kaizen-perf Claude Agent SDK hook failed: {exc!r}")
            return {}  # no decision: the SDK goes on as if we were not there
        return callback

    def _pre_tool(self, data: dict[str, Any], tool_use_id: str | None) -> None:
        name = data.get("tool_name")
        if not tool_use_id or not isinstance(name, str) or not name:
            return
        # entered in a context of its own, so parallel calls do not nest in each other
        ctx = contextvars.copy_context()
        scope = ctx.run(self.monitor.tool, name)
        ctx.run(scope.__enter__)
        self._tools[tool_use_id] = (ctx, scope)
        if len(self._tools) > _MAX_PENDING:  # a Post that never came: forget the oldest
            self._tools.popitem(last=False)

    def _post_tool(self, data: dict[str, Any], tool_use_id: str | None) -> None:
        failed = data.get("hook_event_name") == "PostToolUseFailure"
        pending = self._tools.pop(tool_use_id, None) if tool_use_id else None
        if pending is not None:
            ctx, scope = pending
            ctx.run(scope.__exit__, ToolUseFailure if failed else None, None, None)
        tool = self._permissions.pop(tool_use_id, None) if tool_use_id else None
        if tool is not None and not data.get("is_interrupt"):
            self.monitor.permission_check(tool, "approved", "permission_request", 0.0)

    def _permission(self, data: dict[str, Any], tool_use_id: str | None) -> None:
        name = data.get("tool_name")
        if tool_use_id and isinstance(name, str) and name:
            self._permissions[tool_use_id] = name
            if len(self._permissions) > _MAX_PENDING:
                self._permissions.popitem(last=False)

    def _count(self, data: dict[str, Any], tool_use_id: str | None) -> None:
        if data.get("hook_event_name") == "SubagentStart":
            self._session(str(data.get("session_id", ""))).subagents += 1

    def wrap_can_use_tool(self, callback: Callable[..., Awaitable[Any]],
                          ) -> Callable[..., Awaitable[Any]]:
        """``can_use_tool`` that records each decision (approved/denied) and its duration."""
        @functools.wraps(callback)
        async def can_use_tool(tool_name: str, tool_input: dict[str, Any], context: Any) -> Any:
            start = self._clock()
            result = await callback(tool_name, tool_input, context)
            denied = getattr(result, "behavior", "allow") == "deny"
            reason = (getattr(result, "message", None) or None) if denied else None
            self.monitor.permission_check(tool_name, "denied" if denied else "approved",
                                          reason, max(0.0, self._clock() - start))
            return result
        return can_use_tool

    # -- messages ---------------------------------------------------------------------
    async def watch(self, messages: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """Pass ``query(...)`` or ``client.receive_response()`` through :meth:`observe`."""
        self._last_input = self._clock()
        async for message in messages:
            self.observe(message)
            yield message

    def observe(self, message: Any) -> None:
        """Record what one SDK message says; any other message type is ignored."""
        try:
            kind = type(message).__name__
            if kind == "AssistantMessage":
                self._assistant(message)
            elif kind == "ResultMessage":
                self._result(message)
            elif kind == "UserMessage":
                self._last_input = self._clock()
        except Exception as exc:  # never into the agent
            _log("sdk-observe", f"kaizen-perf could not read a Claude Agent SDK message: {exc!r}")

    def _session(self, session_id: str) -> _Session:
        if session_id not in self._sessions and len(self._sessions) >= _MAX_PENDING:
            self._sessions.pop(next(iter(self._sessions)))
        return self._sessions.setdefault(session_id, _Session())

    def _assistant(self, msg: Any) -> None:
        usage, model = msg.usage, msg.model
        if not isinstance(usage, dict) or not isinstance(model, str) or not model:
            return
        tokens = usage_fields(_Attrs(usage))
        seen = self._messages.get(msg.message_id) if msg.message_id else None
        delta = tokens if seen is None else {k: max(0, v - seen.get(k, 0))
                                             for k, v in tokens.items()}
        if msg.message_id:
            self._messages[msg.message_id] = {k: max(v, (seen or {}).get(k, 0))
                                              for k, v in tokens.items()}
            if len(self._messages) > _MAX_PENDING:
                self._messages.popitem(last=False)
        if seen is not None and not any(delta.values()):
            return  # a parallel tool call repeating its message's usage
        now = self._clock()
        duration, self._last_input = max(0.0, now - self._last_input), now
        self._record(self._session(str(msg.session_id or "")), model, delta, duration,
                     msg.error)

    def _record(self, session: _Session, model: str, tokens: dict[str, int],
                duration_s: float, error: object = None) -> None:
        cost = self.monitor.record_api_call(
            PROVIDER, model, tokens.get("input_tokens", 0), tokens.get("output_tokens", 0),
            tokens.get("cache_read_tokens", 0), tokens.get("cache_write_tokens", 0),
            duration_s, error, cache_write_1h_tokens=tokens.get("cache_write_1h_tokens", 0))
        done = session.recorded.setdefault(model, {})
        for key, value in tokens.items():
            camel = "cache_write_tokens" if key == "cache_write_1h_tokens" else key
            done[camel] = done.get(camel, 0) + value
        if cost is None:
            session.unpriced = True
        else:
            session.cost += cost

    def _result(self, msg: Any) -> None:
        session = self._session(str(msg.session_id))
        for model, totals in (msg.model_usage or {}).items():
            done = session.recorded.get(model, {})
            rest = {k: max(0, as_int(totals.get(camel)) - done.get(k, 0))
                    for k, camel in _CAMEL.items()}
            if any(rest.values()):  # subagents, or messages we did not see
                self._record(session, model, rest, 0.0)
        duration = max(0, as_int(msg.duration_ms)) / 1000
        self.monitor.task("claude_agent_sdk.query", "unknown", duration, ok=not msg.is_error)
        for denial in msg.permission_denials or ():
            self._denied(denial)
        if msg.subtype == "error_max_budget_usd":
            _log("sdk-budget", f"Claude Agent SDK run stopped by max_budget_usd (session "
                 f"{msg.session_id}, SDK cost ${msg.total_cost_usd}).")
        if self.on_result is not None:
            self.on_result(self._query_result(msg, session))

    def _denied(self, denial: Any) -> None:
        get = denial.get if isinstance(denial, dict) else functools.partial(getattr, denial)
        tool_use_id, name = get("tool_use_id", None), get("tool_name", None)
        if isinstance(tool_use_id, str):
            self._permissions.pop(tool_use_id, None)
        if isinstance(name, str) and name:
            self.monitor.permission_check(name, "denied", "permission_denials", 0.0)

    @staticmethod
    def _query_result(msg: Any, session: _Session) -> QueryResult:
        models = {m: Usage(as_int(u.get("inputTokens")), as_int(u.get("outputTokens")),
                           as_int(u.get("cacheReadInputTokens")),
                           as_int(u.get("cacheCreationInputTokens")))
                  for m, u in (msg.model_usage or {}).items()}
        return QueryResult(str(msg.session_id), str(msg.subtype), bool(msg.is_error),
                           as_int(msg.num_turns), as_int(msg.duration_ms) / 1000,
                           as_int(msg.duration_api_ms) / 1000, msg.total_cost_usd,
                           None if session.unpriced else session.cost, models,
                           session.subagents)


class _Attrs:
    """Attribute access over an API usage dict (the SDK passes usage through as JSON)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getattr__(self, name: str) -> Any:
        value = self._data.get(name)
        return _Attrs(value) if isinstance(value, dict) else value


def instrument_options(options: Any, monitor: Monitor | None = None, *,
                       on_result: Callable[[QueryResult], None] | None = None,
                       clock: Callable[[], float] = time.perf_counter) -> SdkObserver:
    """Add kaizen-perf's hooks to ``options`` (a ``ClaudeAgentOptions``), keeping the user's.

    ``can_use_tool`` is wrapped when set. Returns the observer: pass the messages of
    ``query()`` / ``receive_response()`` through ``observer.watch(...)`` or ``observe()``.
    """
    from claude_agent_sdk import HookMatcher

    observer = SdkObserver(monitor, on_result=on_result, clock=clock)
    hooks = options.hooks if options.hooks is not None else {}
    for event, callback in observer.hooks().items():
        matcher = HookMatcher(matcher=None, hooks=[callback])  # type: ignore[list-item]
        hooks.setdefault(event, []).append(matcher)
    options.hooks = hooks
    if options.can_use_tool is not None:
        options.can_use_tool = observer.wrap_can_use_tool(options.can_use_tool)
    return observer
