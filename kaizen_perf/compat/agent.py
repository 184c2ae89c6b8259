"""Make Kaizen's ``BaseAgent.enable_observability()`` return compat's manager.

::

    from kaizen_perf.compat.agent import replace_observability, restore_observability

    replace_observability()          # every BaseAgent, also ones made before
    obs = agent.enable_observability("researcher", jaeger_host="jaeger.internal")
    ...
    restore_observability()          # Kaizen's own method again

The replacement has Kaizen's exact signature (positional arguments bind as in
Kaizen) and does what Kaizen's does: builds the manager, registers Kaizen's own
``TracingHook`` on its tracing component (creating the agent's ``HookManager`` if
hooks were off), and sets ``_observability_manager`` and ``_tracing_manager``, so
``BaseAgent.cleanup()`` shuts it down. The manager is bound to a kaizen-perf
monitor (``monitor=`` here, else the process-wide one when the method is called),
so its ``export_metrics()`` includes the ``kaizen_*`` metrics and its audit entries
go to the monitor's durable trail.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from kaizen_perf.compat.manager import ObservabilityManager

if TYPE_CHECKING:
    from kaizen_perf.monitor import Monitor

logger = logging.getLogger(__name__)
_MARK = "__kaizen_perf_compat__"
_lock = threading.Lock()
_original: Any = None


def make_enable_observability(monitor: Monitor | None = None) -> Any:
    """A ``BaseAgent.enable_observability`` with Kaizen's signature that builds compat's
    manager (bound to ``monitor``, else the process-wide one at call time); for a class of
    your own: ``MyAgent.enable_observability = make_enable_observability()``."""

    def enable_observability(self: Any, service_name: str | None = None,
                             jaeger_host: str = "localhost", jaeger_port: int = 4317,
                             insecure: bool = True, events_to_trace: list[Any] | None = None,
                             enable_metrics: bool = True, enable_logging: bool = True,
                             enable_tracing: bool = True,
                             enable_audit: bool = True) -> ObservabilityManager:
        """Enable observability (Kaizen's Systems 3-7), on kaizen-perf.

        Args as in Kaizen's ``BaseAgent.enable_observability``; returns a
        :class:`kaizen_perf.compat.ObservabilityManager`.
        """
        from kaizen.core.autonomy.hooks.builtin.tracing_hook import TracingHook

        from kaizen_perf.monitor import get_monitor

        name = self.agent_id if service_name is None else service_name
        obs = ObservabilityManager(name, enable_metrics, enable_logging, enable_tracing,
                                   enable_audit, jaeger_host, jaeger_port, insecure,
                                   monitor=monitor if monitor is not None else get_monitor())
        self._observability_manager = obs
        if enable_tracing and obs.tracing is not None:
            if getattr(self, "_hook_manager", None) is None:  # enabling it opts in to hooks
                from kaizen.core.autonomy.hooks.manager import HookManager

                self._hook_manager = HookManager()
                self.hook_manager = self._hook_manager
            self._hook_manager.register_hook(TracingHook(tracing_manager=obs.tracing,
                                                         events_to_trace=events_to_trace))
        self._tracing_manager = obs.tracing if enable_tracing else None
        logger.info("Observability enabled for %s (kaizen-perf): %s", name,
                    obs.get_enabled_components())
        return obs

    setattr(enable_observability, _MARK, True)
    return enable_observability


def replace_observability(monitor: Monitor | None = None) -> None:
    """Make ``BaseAgent.enable_observability()`` build compat's manager (idempotent: a second
    call only rebinds the monitor)."""
    global _original
    from kaizen.core.base_agent import BaseAgent

    with _lock:
        current = BaseAgent.__dict__["enable_observability"]
        if not getattr(current, _MARK, False):
            _original = current
        BaseAgent.enable_observability = make_enable_observability(monitor)


def restore_observability() -> None:
    """Put Kaizen's own ``enable_observability`` back (nothing if it was not replaced)."""
    global _original
    from kaizen.core.base_agent import BaseAgent

    with _lock:
        if _original is not None:
            BaseAgent.enable_observability = _original
            _original = None


def is_replaced() -> bool:
    """Whether ``BaseAgent.enable_observability`` is compat's."""
    from kaizen.core.base_agent import BaseAgent

    return bool(getattr(BaseAgent.__dict__["enable_observability"], _MARK, False))


__all__ = ["is_replaced", "make_enable_observability", "replace_observability",
           "restore_observability"]
