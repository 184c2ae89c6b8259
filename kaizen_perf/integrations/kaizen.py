"""Kaizen ``BaseAgent`` integration: what the original design asked of ``run()``.

::

    from kaizen.core.base_agent import BaseAgent
    from kaizen_perf.integrations.kaizen import ObservedAgentMixin

    class Researcher(ObservedAgentMixin, BaseAgent):
        ...

Each ``run(**inputs)`` (sync or async) then gets: an ``agent_run`` span, the
``agent_loop_start`` counter, the ``agent_loop_duration`` histogram (ms), a
structured "Agent execution started/completed" log with the inputs redacted (keys
kept, values replaced by their type and size), an ``agent_execution`` audit entry
with the outcome, and kaizen-perf's own ``mon.agent_loop()`` iteration. The same is
available as a decorator, ``@observed_run``, for any class with a ``run`` method.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from kaizen_perf.compat import ObservabilityManager
from kaizen_perf.compat.audit import AuditTrailManager
from kaizen_perf.integrations._calls import _log
from kaizen_perf.monitor import Monitor, get_monitor

__all__ = ["ObservedAgentMixin", "observed_run", "redact"]

F = TypeVar("F", bound=Callable[..., Any])
WRAPPED = "__kaizen_perf_observed__"


def redact(inputs: Mapping[str, Any]) -> dict[str, str]:
    """Input names with their values replaced by type and size (prompts are not logged)."""
    def shape(value: Any) -> str:
        size = len(value) if isinstance(value, str | bytes | list | tuple | dict) else None
        return f"<{type(value).__name__}>" if size is None else \
            f"<{type(value).__name__} len={size}>"
    return {str(k): shape(v) for k, v in inputs.items()}


def agent_name(agent: Any) -> str:
    """``agent.config.name``, else ``agent.name``, else the class name."""
    name = getattr(getattr(agent, "config", None), "name", None) or getattr(agent, "name", None)
    return name if isinstance(name, str) and name else type(agent).__name__


def observability(agent: Any) -> ObservabilityManager:
    """The agent's manager (``agent.observability``), created on first use."""
    obs = agent.__dict__.get("observability")
    if not isinstance(obs, ObservabilityManager):
        obs = ObservabilityManager(f"kaizen-agent-{agent_name(agent)}")
        agent.observability = obs
    return obs


def _outcome(result: Any, error: BaseException | None) -> str:
    if error is not None:
        return "failure"
    return "failure" if isinstance(result, Mapping) and result.get("error") else "success"


class _Run:
    """The bookkeeping of one run, shared by the sync and async paths."""

    def __init__(self, agent: Any, inputs: dict[str, Any], monitor: Monitor) -> None:
        self.name, self.obs = agent_name(agent), observability(agent)
        self.labels = {"agent_id": self.name}
        self.inputs = redact(inputs)
        self.loop = monitor.agent_loop()
        self.start = time.perf_counter()

    def begin(self) -> None:
        self.loop.__enter__()
        if self.obs.metrics is not None:
            self.obs.metrics.counter("agent_loop_start", 1.0, self.labels)
        if self.obs.logging is not None:
            self.obs.get_logger(self.name).info("Agent execution started", inputs=self.inputs)

    def end(self, result: Any, error: BaseException | None) -> AuditTrailManager | None:
        ms = (time.perf_counter() - self.start) * 1000
        if self.obs.metrics is not None:
            self.obs.metrics.histogram("agent_loop_duration", ms, self.labels)
        self.loop.__exit__(None if error is None else type(error), error, None)
        if self.obs.logging is not None:
            log = self.obs.get_logger(self.name)
            outcome = _outcome(result, error)
            (log.info if outcome == "success" else log.error)(
                "Agent execution completed", outcome=outcome, duration_ms=round(ms, 3),
                error=None if error is None else type(error).__name__)
        return self.obs.audit

    def audit_entry(self, result: Any, error: BaseException | None) -> Any:
        assert self.obs.audit is not None
        details = {"inputs": self.inputs,
                   "error": None if error is None else type(error).__name__}
        return self.obs.audit.entry(self.name, "agent_execution", details,
                                    _outcome(result, error))  # type: ignore[arg-type]


def _append_sync(run: _Run, result: Any, error: BaseException | None) -> None:
    audit = run.obs.audit
    if audit is None:
        return
    entry = run.audit_entry(result, error)
    append_sync = getattr(audit.storage, "append_sync", None)
    try:
        if append_sync is not None:
            append_sync(entry)
        else:
            asyncio.run(audit.storage.append(entry))
    except Exception as exc:  # the agent's result matters more than its audit line
        _log("kaizen-audit", f"kaizen-perf could not record the agent_execution audit entry "
             f"of {run.name!r}: {exc!r}")


def observed_run(fn: F, *, monitor: Monitor | None = None) -> F:
    """Decorate a ``run(self, **inputs)`` method (sync or async) with the run's telemetry."""
    if getattr(fn, WRAPPED, False):
        return fn

    def start(agent: Any, kwargs: dict[str, Any]) -> _Run:
        mon = monitor if monitor is not None else observability(agent).monitor
        run = _Run(agent, kwargs, mon if mon is not None else get_monitor())
        run.begin()
        return run

    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def arun(self: Any, *args: Any, **kwargs: Any) -> Any:
            run, result, error = start(self, kwargs), None, None
            obs = run.obs
            try:
                if obs.tracing is None:
                    result = await fn(self, *args, **kwargs)
                else:
                    async with obs.tracing.span("agent_run", {"agent_id": run.name,
                                                              "inputs": str(run.inputs)}):
                        result = await fn(self, *args, **kwargs)
                return result
            except BaseException as exc:
                error = exc
                raise
            finally:
                audit = run.end(result, error)
                if audit is not None:
                    try:
                        await audit.storage.append(run.audit_entry(result, error))
                    except Exception as exc:
                        _log("kaizen-audit", f"kaizen-perf could not record the audit entry "
                             f"of {run.name!r}: {exc!r}")
        setattr(arun, WRAPPED, True)
        return arun  # type: ignore[return-value]

    @functools.wraps(fn)
    def srun(self: Any, *args: Any, **kwargs: Any) -> Any:
        run, result, error = start(self, kwargs), None, None
        try:
            result = fn(self, *args, **kwargs)
            return result
        except BaseException as exc:
            error = exc
            raise
        finally:
            run.end(result, error)
            _append_sync(run, result, error)
    setattr(srun, WRAPPED, True)
    return srun  # type: ignore[return-value]


class ObservedAgentMixin:
    """Put first in the bases of a Kaizen agent: its ``run`` (own or inherited) is observed."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        run = getattr(cls, "run", None)
        if callable(run) and not getattr(run, WRAPPED, False):
            cls.run = observed_run(run)  # type: ignore[attr-defined]

    def enable_observability(self, service_name: str | None = None, enable_metrics: bool = True,
                             enable_logging: bool = True, enable_tracing: bool = True,
                             enable_audit: bool = True, **kwargs: Any) -> ObservabilityManager:
        """Replace the agent's manager (as Kaizen's ``BaseAgent.enable_observability`` does)."""
        obs = ObservabilityManager(service_name or f"kaizen-agent-{agent_name(self)}",
                                   enable_metrics, enable_logging, enable_tracing, enable_audit,
                                   **kwargs)
        self.observability = obs
        return obs
