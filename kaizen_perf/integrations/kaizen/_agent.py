"""The agent side of Kaizen: runs, tools, permissions, budget, approvals and control requests.

Each is a wrapper around the one Kaizen method every path goes through, chosen
by reading Kaizen 2.46.1's source:

- **loop**: ``AgentLoop.run_sync``/``run_async`` (what ``BaseAgent.run`` and
  ``run_async`` delegate to; ``PRE/POST_AGENT_LOOP`` fire inside them). Kaizen
  turns a failed run into ``{"success": False, "type": …}``; that is the
  ``error`` outcome, named after the error type.
- **tools**: ``execute_mcp_tool`` (the default ``execute_tool`` delegates to it)
  plus any agent class's own ``execute_tool`` (``MultiCycleStrategy``'s JSON tool
  calls), wrapped per class on the first agent of that class; the native tool
  calls ``LLMAgentNode`` runs itself are wrapped with the node (``_llm``). A tool
  that returns ``success=False`` (a ``ToolResult``), an MCP ``isError`` or a
  ``"status": "failed"`` counts as ``error``. Each call's input (``params``, or a
  tool call's ``function.arguments`` parsed from its JSON, so both forms of one
  call are alike) goes to ``mon.tool(arguments=...)`` for loop detection.
- **permissions**: ``PermissionPolicy.check_permission``. ``(None, None)`` means
  "ask the user": the decision is recorded when ``ToolApprovalManager``'s
  approval comes back. Denial reasons are bounded categories (the policy's
  message embeds dollar amounts): ``budget_exceeded``, ``plan_mode``,
  ``disallowed``, ``rule:<pattern>``, ``user_denied``, ``approval_timeout``,
  ``approval_error``.
- **budget**: ``ExecutionContext`` (what ``BudgetEnforcer`` delegates to): its
  limit and spend become ``kaizen_budget_usd``/``kaizen_budget_spent_usd`` at
  agent creation and after each ``record_tool_usage``.
- **control**: ``ControlProtocol.send_request`` by request type, outcome ``ok``,
  ``timeout`` (no answer in time) or ``error`` (an error answer or a failure).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from kaizen_perf.errors import ObservedToolError
from kaizen_perf.events import BudgetSample
from kaizen_perf.integrations._calls import Patches, _log
from kaizen_perf.integrations.kaizen._agents import AGENTS, CURRENT_AGENT, MAX_VIEWS, TAG

_IN_TOOL: ContextVar[bool] = ContextVar("kaizen_perf_kaizen_tool", default=False)
_CONTROL_OUTCOME: ContextVar[str | None] = ContextVar("kaizen_perf_kaizen_ctl", default=None)
_ERRORS: dict[str, type[Exception]] = {}


class ToolError(ObservedToolError):
    """Stands for a tool call that returned a failure rather than raising."""


def error_type(name: object) -> type[Exception]:
    """An exception class named ``name``: scopes take the outcome's name from a type."""
    key = name if isinstance(name, str) and name.isidentifier() else "AgentError"
    cls = _ERRORS.get(key)
    if cls is None:
        cls = type(key, (ObservedToolError,), {})
        if len(_ERRORS) < 100:
            _ERRORS[key] = cls
    return cls


def run_failure(result: object) -> type[Exception] | None:
    """The error of a run Kaizen turned into ``{"success": False, …}``, else None."""
    if isinstance(result, dict) and result.get("success") is False:
        return error_type(result.get("type"))
    return None


def tool_failure(result: object, depth: int = 0) -> type[Exception] | None:
    """``ToolError`` for a result that reports failure: a ``ToolResult`` (``success``), an MCP
    ``CallToolResult`` (``isError``), a node's ``"status": "failed"``, also when nested in
    ``"result"`` (the MCP client and ``LLMAgentNode`` wrap the tool's own result)."""
    if isinstance(result, dict):
        failed = result.get("success") is False or result.get("isError") is True \
            or result.get("status") in ("failed", "error")
        inner = result.get("result")
    else:
        failed = getattr(result, "success", None) is False or \
            getattr(result, "isError", None) is True
        inner = None
    if failed:
        return ToolError
    return tool_failure(inner, depth + 1) if inner is not None and depth < 2 else None


def tool_name(tool: object) -> str:
    """A tool's name: given as such, or read from an OpenAI-format tool call."""
    if isinstance(tool, str):
        return tool or "unknown"
    function = tool.get("function") if isinstance(tool, dict) else getattr(tool, "function", None)
    name = function.get("name") if isinstance(function, dict) else getattr(function, "name", None)
    return name if isinstance(name, str) and name else "unknown"


def tool_arguments(tool: object, args: tuple[Any, ...], kwargs: dict[str, Any]) -> object:
    """A tool call's input, for loop detection (None if unknown; never raises).

    With a tool name, the ``params`` that follow it (``execute_tool(name, params)``). With
    an OpenAI tool call, its ``function.arguments`` parsed from JSON as Kaizen parses them
    (``""`` is ``{}``; invalid JSON stays the string): the same call digests the same
    whether a strategy passes the parsed dict or the node the model's JSON text, and
    whitespace in the JSON does not matter. The result is only digested, on this thread.
    """
    try:
        if isinstance(tool, str):
            return args[0] if args else kwargs.get("params")
        function = tool.get("function") if isinstance(tool, dict) else \
            getattr(tool, "function", None)
        raw = function.get("arguments") if isinstance(function, dict) else \
            getattr(function, "arguments", None)
        if isinstance(raw, str | bytes):
            try:
                return json.loads(raw or "{}")
            except ValueError:
                return raw
        return raw
    except Exception:  # an odd tool-call object: no digest, no loop detection for it
        return None


def _tool_monitor(owner: Any) -> Any:
    """The agent running the tool: the run in progress, else the owner if it is an agent."""
    current = CURRENT_AGENT.get()
    if current is not None:
        return current
    agent_id = getattr(owner, "agent_id", None)
    return AGENTS.view(agent_id) if agent_id else AGENTS.of(None)


# -- the run ---------------------------------------------------------------------------
_PATCHES: list[Patches] = []  #: the patches in effect (for agents created before them)


def late_adopt(agent: Any) -> None:
    """Adopt an agent created before ``instrument()`` on its first run (one getattr after)."""
    if getattr(agent, TAG, None) is None and _PATCHES:
        try:
            adopt(agent, _PATCHES[-1])
        except Exception as exc:  # never into agent code
            _log("kaizen-adopt", f"kaizen-perf could not attach to Kaizen agent: {exc!r}")


def wrap_run_sync(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def run_sync(agent: Any, **inputs: Any) -> Any:
        late_adopt(agent)
        mon = AGENTS.view(getattr(agent, "agent_id", None))
        token = CURRENT_AGENT.set(mon)
        try:
            scope = mon.agent_loop()
            scope.__enter__()
            try:
                result = original(agent, **inputs)
            except BaseException as exc:
                scope.__exit__(type(exc), exc, None)
                raise
            scope.__exit__(run_failure(result), None, None)
            return result
        finally:
            CURRENT_AGENT.reset(token)
    return run_sync


def wrap_run_async(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def run_async(agent: Any, **inputs: Any) -> Any:
        late_adopt(agent)
        mon = AGENTS.view(getattr(agent, "agent_id", None))
        token = CURRENT_AGENT.set(mon)
        try:
            scope = mon.agent_loop()
            scope.__enter__()
            try:
                result = await original(agent, **inputs)
            except BaseException as exc:
                scope.__exit__(type(exc), exc, None)
                raise
            scope.__exit__(run_failure(result), None, None)
            return result
        finally:
            CURRENT_AGENT.reset(token)
    return run_async


def static(wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Callable[[Any], Any]:
    """Apply a function wrapper to a ``staticmethod`` (``AgentLoop``'s methods are static)."""
    def make(original: Any) -> Any:
        return staticmethod(wrap(original.__func__))
    return make


# -- tools -----------------------------------------------------------------------------
def wrap_tool(original: Callable[..., Any]) -> Callable[..., Any]:
    """A tool method whose first argument names the tool (or is an OpenAI tool call):
    an agent's ``execute_tool``/``execute_mcp_tool``, ``LLMAgentNode``'s own tool calls."""
    if inspect.iscoroutinefunction(original):
        @functools.wraps(original)
        async def atool(self: Any, tool: Any, *args: Any, **kwargs: Any) -> Any:
            if _IN_TOOL.get():  # a tool method delegating to another (execute_tool → mcp)
                return await original(self, tool, *args, **kwargs)
            scope = _tool_monitor(self).tool(tool_name(tool),
                                             arguments=tool_arguments(tool, args, kwargs))
            flag = _IN_TOOL.set(True)
            scope.__enter__()
            try:
                result = await original(self, tool, *args, **kwargs)
            except BaseException as exc:
                scope.__exit__(type(exc), exc, None)
                raise
            finally:
                _IN_TOOL.reset(flag)
            scope.__exit__(tool_failure(result), None, None)
            return result
        return atool

    @functools.wraps(original)
    def tool(self: Any, call: Any, *args: Any, **kwargs: Any) -> Any:
        if _IN_TOOL.get():
            return original(self, call, *args, **kwargs)
        scope = _tool_monitor(self).tool(tool_name(call),
                                         arguments=tool_arguments(call, args, kwargs))
        flag = _IN_TOOL.set(True)
        scope.__enter__()
        try:
            result = original(self, call, *args, **kwargs)
        except BaseException as exc:
            scope.__exit__(type(exc), exc, None)
            raise
        finally:
            _IN_TOOL.reset(flag)
        scope.__exit__(tool_failure(result), None, None)
        return result
    return tool


# -- agent creation ----------------------------------------------------------------------
def wrap_init(original: Callable[..., Any], patches: Patches) -> Callable[..., Any]:
    """``BaseAgent.__init__``: remember the agent, tag what it created, wrap its tool method."""
    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        try:
            adopt(self, patches)
        except Exception as exc:  # never keep an agent from being created
            _log("kaizen-adopt", f"kaizen-perf could not attach to Kaizen agent: {exc!r}")
    return __init__


def adopt(agent: Any, patches: Patches) -> None:
    agent_id = agent.agent_id
    if type(agent_id) is not str or not agent_id:
        return
    if len(AGENTS.seen) < MAX_VIEWS:  # bounded: a process may create agents without end
        AGENTS.seen.add(agent_id)
    for part in ("", "permission_policy", "execution_context", "approval_manager",
                 "control_protocol"):
        obj = getattr(agent, part, None) if part else agent
        if obj is not None:
            with contextlib.suppress(AttributeError, TypeError):  # slotted: by context only
                setattr(obj, TAG, agent_id)
    owner = next((c for c in type(agent).__mro__ if "execute_tool" in c.__dict__), None)
    if owner is not None and owner.__module__ != "kaizen.core.mcp_mixin":
        patches.wrap(owner, "execute_tool", wrap_tool)  # the default delegates to mcp
    context = getattr(agent, "execution_context", None)
    if context is not None and getattr(context, "budget_limit", None) is not None:
        publish_budget(context)


# -- permissions, budget, approvals, control ---------------------------------------------
def reason_category(reason: object) -> str:
    """A bounded label for a Kaizen denial message (which embeds amounts and tool names)."""
    text = reason if isinstance(reason, str) else ""
    if text.startswith("Budget exceeded"):
        return "budget_exceeded"
    if text.startswith("Plan mode"):
        return "plan_mode"
    if text.endswith("is explicitly disallowed"):
        return "disallowed"
    if text.startswith("Denied by rule: "):
        return "rule:" + text[len("Denied by rule: "):]
    return "policy" if text else "unspecified"


def wrap_check_permission(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def check_permission(self: Any, tool_name: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        result = original(self, tool_name, *args, **kwargs)
        try:
            decision, reason = result
            if decision is not None:  # None: ask the user (recorded with the approval)
                AGENTS.of(self).permission_check(
                    str(tool_name) or "unknown", "approved" if decision else "denied",
                    None if decision else reason_category(reason), time.perf_counter() - start)
        except Exception as exc:  # never into agent code
            _log("kaizen-permission", f"kaizen-perf could not record a permission: {exc!r}")
        return result
    return check_permission


def wrap_request_approval(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def request_approval(self: Any, tool_name: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        token = _CONTROL_OUTCOME.set(None)
        try:
            approved = await original(self, tool_name, *args, **kwargs)
            outcome = _CONTROL_OUTCOME.get()
        finally:
            _CONTROL_OUTCOME.reset(token)
        reason = None if approved else {"ok": "user_denied", "timeout": "approval_timeout"}.get(
            outcome or "", "approval_error")
        AGENTS.of(self).permission_check(str(tool_name) or "unknown",
                                         "approved" if approved else "denied", reason,
                                         time.perf_counter() - start)
        return approved
    return request_approval


def wrap_send_request(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def send_request(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        start, outcome = time.perf_counter(), "error"
        try:
            response = await original(self, request, *args, **kwargs)
            outcome = "error" if getattr(response, "is_error", False) else "ok"
            return response
        except TimeoutError:
            outcome = "timeout"
            raise
        finally:
            _CONTROL_OUTCOME.set(outcome)  # read by the approval wrapper (same task)
            kind = getattr(request, "type", None)
            AGENTS.of(self).control_request(kind if isinstance(kind, str) and kind else
                                            "unknown", time.perf_counter() - start, outcome)
    return send_request


def publish_budget(context: Any) -> None:
    """Kaizen's budget and spend as gauges (one event; the dispatcher sets both)."""
    mon = AGENTS.of(context)
    if not mon.settings.enabled:
        return
    limit = context.budget_limit
    mon.pipeline.put(BudgetSample(mon.agent_id, None if limit is None else float(limit),
                                  float(context.budget_used)))


def wrap_record_usage(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def record_tool_usage(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        try:
            publish_budget(self)
        except Exception as exc:  # never into agent code
            _log("kaizen-budget", f"kaizen-perf could not record Kaizen's budget: {exc!r}")
        return result
    return record_tool_usage


def patch_agent(patches: Patches) -> None:
    """Apply every wrapper of this module."""
    from kaizen.core import agent_loop, base_agent, mcp_mixin
    from kaizen.core.autonomy.control import protocol
    from kaizen.core.autonomy.permissions import approval_manager, context, policy

    _PATCHES[:] = [patches]  # cleared by uninstrument()
    loop = agent_loop.AgentLoop
    patches.wrap(loop, "run_sync", static(wrap_run_sync))
    patches.wrap(loop, "run_async", static(wrap_run_async))
    patches.wrap(base_agent.BaseAgent, "__init__", lambda f: wrap_init(f, patches))
    patches.wrap(mcp_mixin.MCPMixin, "execute_mcp_tool", wrap_tool)
    patches.wrap(policy.PermissionPolicy, "check_permission", wrap_check_permission)
    patches.wrap(approval_manager.ToolApprovalManager, "request_approval",
                 wrap_request_approval)
    patches.wrap(protocol.ControlProtocol, "send_request", wrap_send_request)
    patches.wrap(context.ExecutionContext, "record_tool_usage", wrap_record_usage)
