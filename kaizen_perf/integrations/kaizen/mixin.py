"""``ObservedAgentMixin`` and ``@observed_run``: opt-in per agent class, without ``instrument()``.

::

    from kaizen.core.base_agent import BaseAgent
    from kaizen_perf.integrations.kaizen import ObservedAgentMixin

    class Researcher(ObservedAgentMixin, BaseAgent):
        ...

Each ``run(**inputs)`` and ``run_async(**inputs)`` of the class (its own or
inherited) is one ``mon.agent_loop()`` iteration labelled ``agent.agent_id``,
with the outcome Kaizen returned (``{"success": False, "type": …}`` is an error).
When the agent enabled observability (``agent.enable_observability(...)``, Kaizen's
own method, untouched: same signature, same ``TracingHook``), the run also lands
in that manager's metrics as ``agent_loop_start`` (counter) and
``agent_loop_duration`` (histogram, ms), whichever manager class it is.

When :func:`kaizen_perf.integrations.kaizen.instrument` is in effect it already
observes every run; the mixin then steps aside, so no run is counted twice.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from kaizen_perf.integrations._calls import _log
from kaizen_perf.integrations.kaizen._agent import run_failure
from kaizen_perf.integrations.kaizen._agents import AGENTS, CURRENT_AGENT
from kaizen_perf.monitor import Monitor

__all__ = ["ObservedAgentMixin", "observed_run", "redact"]

F = TypeVar("F", bound=Callable[..., Any])
WRAPPED = "__kaizen_perf_observed__"
RUN_METHODS = ("run", "run_async")


def redact(inputs: Mapping[str, Any]) -> dict[str, str]:
    """Input names with their values replaced by type and size (prompts are not logged)."""
    def shape(value: Any) -> str:
        size = len(value) if isinstance(value, str | bytes | list | tuple | dict) else None
        return f"<{type(value).__name__}>" if size is None else \
            f"<{type(value).__name__} len={size}>"
    return {str(k): shape(v) for k, v in inputs.items()}


def _monitor(agent: Any, monitor: Monitor | None) -> Monitor | None:
    """The agent's monitor, or None when an outer observer (``instrument()``) has the run."""
    if AGENTS.installed:  # instrument() observes every run already
        return None
    agent_id = getattr(agent, "agent_id", None)
    if monitor is None:
        return AGENTS.view(agent_id)
    from kaizen_perf.integrations.kaizen._agents import make_view
    return make_view(monitor, agent_id) if type(agent_id) is str and agent_id else monitor


def _manager_metrics(agent: Any, ms: float, labels: dict[str, str]) -> None:
    """``agent_loop_start``/``agent_loop_duration`` in the agent's observability manager."""
    manager = getattr(agent, "_observability_manager", None)
    metrics = getattr(manager, "metrics", None)
    if metrics is None:
        return
    try:
        metrics.counter("agent_loop_start", 1.0, labels)
        metrics.histogram("agent_loop_duration", ms, labels)
    except Exception as exc:  # the agent's result matters more than its metrics
        _log("kaizen-mixin", f"kaizen-perf could not update the agent's observability "
             f"metrics: {exc!r}")


class _Run:
    """The bookkeeping of one run, shared by the sync and async paths."""

    def __init__(self, agent: Any, mon: Monitor) -> None:
        self.agent, self.mon = agent, mon
        self.scope = mon.agent_loop()
        self.scope.__enter__()
        self.token = CURRENT_AGENT.set(mon)
        self.start = time.perf_counter()

    def end(self, result: Any, error: BaseException | None) -> None:
        ms = (time.perf_counter() - self.start) * 1000
        try:
            if error is None:
                self.scope.__exit__(run_failure(result), None, None)
            else:
                self.scope.__exit__(type(error), error, None)
        finally:
            CURRENT_AGENT.reset(self.token)
        _manager_metrics(self.agent, ms, {"agent_id": self.mon.agent_id})


def observed_run(fn: F, *, monitor: Monitor | None = None) -> F:
    """Decorate a ``run``/``run_async(self, **inputs)`` method with one observed iteration."""
    if getattr(fn, WRAPPED, False):
        return fn

    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def arun(self: Any, *args: Any, **kwargs: Any) -> Any:
            mon = _monitor(self, monitor)
            if mon is None:
                return await fn(self, *args, **kwargs)
            run, result, error = _Run(self, mon), None, None
            try:
                result = await fn(self, *args, **kwargs)
                return result
            except BaseException as exc:
                error = exc
                raise
            finally:
                run.end(result, error)
        setattr(arun, WRAPPED, True)
        return arun  # type: ignore[return-value]

    @functools.wraps(fn)
    def srun(self: Any, *args: Any, **kwargs: Any) -> Any:
        mon = _monitor(self, monitor)
        if mon is None:
            return fn(self, *args, **kwargs)
        run, result, error = _Run(self, mon), None, None
        try:
            result = fn(self, *args, **kwargs)
            return result
        except BaseException as exc:
            error = exc
            raise
        finally:
            run.end(result, error)
    setattr(srun, WRAPPED, True)
    return srun  # type: ignore[return-value]


class ObservedAgentMixin:
    """Put first in the bases of a Kaizen agent: its ``run`` and ``run_async`` are observed.

    Kaizen's ``enable_observability`` is not overridden: it keeps its signature
    (``service_name, jaeger_host, jaeger_port, insecure, events_to_trace, …``) and
    registers its ``TracingHook``.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in RUN_METHODS:
            method = getattr(cls, name, None)
            if callable(method) and not getattr(method, WRAPPED, False):
                setattr(cls, name, observed_run(method))
