"""Kaizen agents (``kailash-kaizen``), observed at Kaizen's own extension points.

::

    import kaizen_perf
    from kaizen_perf.integrations import kaizen as kp_kaizen

    kaizen_perf.configure(agent_id="my-service")
    kp_kaizen.instrument()      # every Kaizen agent of this process, from now on

Under ``kaizen-perf run`` this happens by itself when the program imports
``kaizen`` (an import hook; a program that never imports it has nothing
patched). What is observed, and where (see the modules for the details):

==================================  ==========================================  =================
Kaizen                              kaizen-perf                                 module
==================================  ==========================================  =================
``AgentLoop.run_sync/run_async``    ``agent_loop()`` with the outcome           ``_agent``
``execute_tool``/``execute_mcp_…``  ``tool(name)``, error on ``success=False``  ``_agent``
``PermissionPolicy``, approvals     ``permission_check`` (+ denial reason)      ``_agent``
``ExecutionContext`` budget         ``kaizen_budget_usd`` / ``…_spent_usd``     ``_agent``
``ControlProtocol.send_request``    ``control_request`` ok/timeout/error        ``_agent``
``LlmClient.complete/stream``       ``record_api_call``: tokens, TTFT, status   ``_llm``
``StateManager`` save/load          ``checkpoint`` with size and duration       ``_state``
``InterruptManager``                ``interrupt`` by mode                       ``_state``
``HookManager`` handlers            ``hook_executed`` per event and handler     ``_state``
==================================  ==========================================  =================

Everything is labelled ``agent=<agent.agent_id>`` (see ``_agents``); spans nest
``invoke_agent`` → ``chat``/``execute_tool`` through kaizen-perf's trace context.

Why wrapping and not a Kaizen hook: Kaizen's hooks cover only part of the above
(no tokens, no permissions in 2.46.1, tools only under ``MultiCycleStrategy``),
and registering one gives an agent that had hooks off a ``HookManager`` whose
sync bridge runs ``asyncio.run`` per event (about 1 ms each, measured by
``benchmarks/kaizen_overhead.py``); a wrapper costs microseconds and nothing
when no agent runs.
"""

from __future__ import annotations

import functools
import importlib
import sys
import threading
from collections.abc import Callable
from typing import Any

from kaizen_perf.integrations._calls import Patches
from kaizen_perf.integrations.kaizen._agents import AGENTS, CURRENT_AGENT
from kaizen_perf.integrations.kaizen.mixin import ObservedAgentMixin, observed_run, redact
from kaizen_perf.monitor import Monitor

__all__ = ["CURRENT_AGENT", "ObservedAgentMixin", "agent_monitor", "instrument",
           "is_instrumented", "observed_run", "redact", "replace_observability",
           "restore_observability", "uninstrument"]

_lock = threading.RLock()  # _patch_node may run inside instrument()
_patches: Patches | None = None


def instrument(monitor: Monitor | None = None, **_ignored: Any) -> None:
    """Observe every Kaizen agent from now on, into ``monitor`` (default: the global one).

    Calling again only replaces the monitor. Raises ``ImportError`` without
    ``kailash-kaizen``. (Keyword arguments other integrations take, such as
    ``on_call``, are accepted and ignored.)
    """
    global _patches
    from kaizen_perf.integrations.kaizen._agent import patch_agent
    from kaizen_perf.integrations.kaizen._llm import patch_llm
    from kaizen_perf.integrations.kaizen._state import patch_state

    with _lock:
        AGENTS.reset()
        AGENTS.monitor = monitor
        if _patches is None:
            patches = Patches()
            try:
                patch_agent(patches)
                patch_llm(patches)
                patch_state(patches)
            except BaseException:
                patches.restore()  # all or nothing: never a half-instrumented Kaizen
                raise
            _patches = patches
            _when_imported(NODE_MODULE, functools.partial(_patch_node, patches))
        AGENTS.installed = True


NODE_MODULE = "kaizen.nodes.ai.llm_agent"


def _when_imported(module: str, callback: Callable[[], None]) -> None:
    """Call ``callback`` now if ``module`` is imported, else right after its first import.

    ``kaizen.nodes.ai`` is heavy and optional for an agent (Kaizen itself keeps it
    off ``BaseAgent``'s import path), so it is never imported on the agent's behalf.
    """
    if module in sys.modules:
        callback()
    else:
        from kaizen_perf.integrations import _PostImport
        _PostImport.install(module, callback)


def _patch_node(patches: Patches) -> None:
    from kaizen_perf.integrations.kaizen._llm import patch_llm_node

    with _lock:
        if _patches is patches:  # still instrumented
            patch_llm_node(patches)


def uninstrument() -> None:
    """Restore Kaizen as it was (no-op when not instrumented)."""
    global _patches
    from kaizen_perf.integrations.kaizen import _agent

    with _lock:
        if _patches is not None:
            _patches.restore()
            _patches = None
        _agent._PATCHES.clear()
        AGENTS.installed = False
        AGENTS.reset()


def is_instrumented() -> bool:
    """Whether :func:`instrument` is in effect."""
    return _patches is not None


def agent_monitor(agent_id: str) -> Monitor:
    """The monitor that records for the Kaizen agent ``agent_id`` (shares the base pipeline)."""
    return AGENTS.view(agent_id)


def replace_observability(*args: Any, **kwargs: Any) -> Any:
    """Make ``BaseAgent.enable_observability()`` return kaizen-perf's compat manager.

    Kaizen's signature is kept. Provided by :mod:`kaizen_perf.compat.agent`
    (imported on first call, so this module does not depend on compat).
    """
    module = importlib.import_module("kaizen_perf.compat.agent")
    return module.replace_observability(*args, **kwargs)


def restore_observability(*args: Any, **kwargs: Any) -> Any:
    """Undo :func:`replace_observability` (from :mod:`kaizen_perf.compat.agent`)."""
    module = importlib.import_module("kaizen_perf.compat.agent")
    return module.restore_observability(*args, **kwargs)
