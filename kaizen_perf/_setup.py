"""A monitor's settings and its exit hook: what happens around the hooks, once per monitor.

A bad ``KAIZEN_PERF_*`` variable in the process environment never kills the agent:
monitoring turns off with one warning (``kaizen-perf run`` refuses such variables up
front instead). A mapping passed in code is checked like arguments and raises.
"""

from __future__ import annotations

import atexit
import logging
import os
import weakref
from collections.abc import Mapping
from typing import Any, Protocol

from kaizen_perf.config import Settings
from kaizen_perf.errors import ConfigError

logger = logging.getLogger("kaizen_perf")

#: of the shutdown deadline at interpreter exit, what is left for the interpreter's own
#: teardown after our hook returns (measured 0.2-0.6 s with abandoned export threads)
TEARDOWN_RESERVE_S = 1.0

_process_warnings: set[str] = set()


def resolve_settings(settings: Settings | None, agent_id: str | None,
                     environ: Mapping[str, str] | None,
                     overrides: dict[str, Any]) -> tuple[Settings, Mapping[str, str]]:
    """The monitor's settings (arguments > environment > defaults) and the environment
    they came from (``os.environ`` unless a mapping was given)."""
    env = os.environ if environ is None else environ
    try:
        resolved = _resolve(settings, env, agent_id, overrides)
    except ConfigError as exc:
        if environ is not None:  # a mapping the code passed is checked like arguments
            raise
        # the process environment: a bad variable never kills the agent
        resolved = _disabled_by(exc, settings, agent_id, overrides)
    if environ is None:
        _warn_unknown_names(env)
    return resolved, env


def _resolve(settings: Settings | None, env: Mapping[str, str], agent_id: str | None,
             overrides: dict[str, Any]) -> Settings:
    """Settings from arguments > environment > defaults, or a given Settings with overrides."""
    if settings is None:
        return Settings.load(env, agent_id=agent_id, **overrides)
    if agent_id is not None or overrides:
        return settings.replace(**({"agent_id": agent_id} if agent_id else {}), **overrides)
    return settings


def warn_process_once(message: str) -> None:
    """Log ``message`` once per process (at most 50 distinct ones: no log flood)."""
    if message not in _process_warnings and len(_process_warnings) < 50:
        _process_warnings.add(message)
        logger.warning("%s", message)


def _disabled_by(exc: ConfigError, settings: Settings | None, agent_id: str | None,
                 overrides: dict[str, Any]) -> Settings:
    """Settings with monitoring off when the environment is unusable (bad arguments in the
    code still raise: ``_resolve`` without the environment fails the same way then)."""
    fallback = _resolve(settings, {}, agent_id, overrides)
    warn_process_once(f"kaizen-perf: monitoring is OFF in this process: {exc} The agent "
                      "runs normally and every kaizen-perf hook does nothing. Fix the "
                      "variable (kaizen-perf run checks them all before it starts).")
    return fallback.replace(enabled=False)


def _warn_unknown_names(env: Mapping[str, str]) -> None:
    """One warning per KAIZEN_PERF_* name nothing reads, with the nearest real name."""
    from kaizen_perf.envcheck import unknown_variables

    for message in unknown_variables(env):
        warn_process_once(message)


def exit_budget(timeout_s: float) -> float:
    """Seconds the exit hook may spend so that the whole exit, teardown included, stays
    within ``timeout_s``: a fifth of it (at most ``TEARDOWN_RESERVE_S``) is kept back."""
    return max(0.0, timeout_s - min(TEARDOWN_RESERVE_S, timeout_s * 0.2))


class _Stoppable(Protocol):
    settings: Settings

    def shutdown(self, timeout_s: float | None = None) -> bool: ...


def register_exit_hook(mon: _Stoppable) -> None:
    """Shut ``mon`` down at interpreter exit within its deadline (held weakly: a monitor
    dropped earlier is not kept alive for the hook)."""
    ref = weakref.ref(mon)

    def _exit() -> None:
        m = ref()
        if m is not None:
            m.shutdown(exit_budget(m.settings.shutdown_timeout_s))

    atexit.register(_exit)
