"""The Claude Agent SDK (``claude-agent-sdk``): every call, token, tool, denial, retry and dollar.

With no code change, ``kaizen-perf run`` calls :func:`instrument`, which covers every
``query()`` and ``ClaudeSDKClient`` of the process. In code, either call
:func:`instrument` yourself, or instrument one set of options::

    from claude_agent_sdk import ClaudeAgentOptions, query
    from kaizen_perf.integrations.claude_agent_sdk import instrument_options

    options = ClaudeAgentOptions(max_budget_usd=5.0)
    sdk = instrument_options(options)          # wraps can_use_tool and your hooks
    async for message in sdk.watch(query(prompt=prompts(), options=options)):
        ...                                    # every message passes through the observer

What is recorded, read from the messages of the ``claude`` CLI the SDK runs:

* LLM calls: one per answered request (per message id), from the CLI's
  ``status: requesting`` to ``message_stop``, with the final usage of
  ``message_delta``. The assistant message carries only the ``message_start``
  snapshot (``output_tokens`` 1), so the CLI is asked for partial messages
  (``include_partial_messages``); those stream events are hidden from you unless you
  asked for them. Parallel tool calls repeat one message id: counted once.
* Retries: each ``system/api_retry`` is a failed attempt (``error`` such as
  ``overloaded``, with ``status_code`` 529 or 500) lasting until the retry notice.
* Tools: from the ``tool_use`` block to its ``tool_result`` (no hook round trip
  added), ``ToolUseFailure`` when the result is an error, ``PermissionDenied`` when it
  was denied; a tool still open when its query ends closes as ``ToolUnfinished``.
* Permissions: once per ``tool_use_id``, from the ``can_use_tool`` callback (with its
  duration) or, for denials by rule, ``system/permission_denied`` and the result's
  ``permission_denials``.
* Hooks: each call of one of your hook callbacks is a hook execution, timed.
* Queries: each ``ResultMessage`` is a ``claude_agent_sdk.query`` task. Subagents'
  calls appear only as assistant messages with the snapshot usage: what the result's
  ``model_usage`` holds beyond the calls recorded completes them.
  ``ClaudeSDKClient`` sessions report ``model_usage`` and ``total_cost_usd`` as
  running totals; :class:`QueryResult` (to ``on_result``) holds each query's share.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from kaizen_perf.integrations.claude_agent_sdk._auto import (
    AdapterHooks,
    instrument,
    is_instrumented,
    uninstrument,
)
from kaizen_perf.integrations.claude_agent_sdk._observer import SdkObserver
from kaizen_perf.integrations.claude_agent_sdk._results import (
    PermissionDenied,
    QueryResult,
    ToolUnfinished,
    ToolUseFailure,
)
from kaizen_perf.monitor import Monitor

__all__ = ["PermissionDenied", "QueryResult", "SdkObserver", "ToolUnfinished",
           "ToolUseFailure", "instrument", "instrument_options", "is_instrumented",
           "uninstrument"]


def instrument_options(options: Any, monitor: Monitor | None = None, *,
                       on_result: Callable[[QueryResult], None] | None = None,
                       clock: Callable[[], float] = time.perf_counter) -> SdkObserver:
    """Instrument one ``ClaudeAgentOptions``: returns the observer to ``watch`` messages with.

    ``can_use_tool`` and your hook callbacks are wrapped (each keeps its behaviour);
    ``include_partial_messages`` is turned on, and :meth:`SdkObserver.watch` hides the
    stream events you did not ask for. The monitor is resolved now.
    """
    observer = SdkObserver(monitor, on_result=on_result, clock=clock)
    if options.can_use_tool is not None:
        options.can_use_tool = observer.wrap_can_use_tool(options.can_use_tool)
    hooks = AdapterHooks()
    for event, matchers in (options.hooks or {}).items():
        hooks[event] = [dataclasses.replace(m, hooks=[observer.wrap_hook(event, cb)
                                                      for cb in m.hooks]) for m in matchers]
    options.hooks = hooks
    if not options.include_partial_messages:
        options.include_partial_messages = True
        observer.hide_stream_events = True
    return observer
