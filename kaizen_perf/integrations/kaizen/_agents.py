"""Which Kaizen agent an observation belongs to, and the monitor that labels it so.

Every Kaizen observation is labelled ``agent=<agent.agent_id>``. A
:class:`~kaizen_perf.monitor.Monitor` stamps its own ``agent_id`` on each event,
so each Kaizen agent gets an *agent view*: a monitor object that shares the base
monitor's pipeline, buffer, metrics, settings and trace root (a copy of its
attribute dict, made once per agent id) and differs only in ``agent_id``. That
is the cheapest correct way: the hooks run exactly as on the base monitor (no
extra argument, no lookup per event), there is no second dispatcher thread, and
under ``kaizen-perf run`` every agent's events leave the process through the one
forwarding socket. A view never shuts the pipeline down; its budget hard stop and
audit trail are the base monitor's.

Which agent: inside ``agent.run()``/``run_async()`` the agent is in a context
variable (it follows Kaizen's own thread hops, which copy the context). Outside a
run, the Kaizen object is attributed through the agent that created it
(``BaseAgent.__init__`` tags its permission policy, execution context, approval
manager and control protocol), or else to the process's only agent when exactly
one was created; otherwise to the base monitor's own agent id.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from typing import Any

from kaizen_perf.monitor import Monitor, get_monitor

#: the agent view of the Kaizen agent whose run is in progress (thread- and task-local)
CURRENT_AGENT: ContextVar[Monitor | None] = ContextVar("kaizen_perf_kaizen_agent", default=None)
TAG = "_kaizen_perf_agent_id"  #: attribute set on Kaizen objects an agent created
MAX_VIEWS = 10_000  #: past this many agent ids, new ones share the base monitor's label


class AgentView(Monitor):
    """A monitor that records under another agent id into a base monitor's pipeline."""

    _base: Monitor

    @property
    def _budget_stop(self) -> Any:  # type: ignore[override]  # the base's hot-path check
        return self._base._budget_stop

    @property
    def _budget_charge(self) -> Any:  # type: ignore[override]
        return self._base._budget_charge

    @property
    def audit(self) -> Any:
        """The base monitor's audit trail."""
        return self._base.audit

    def shutdown(self, timeout_s: float | None = None) -> bool:
        """A view owns nothing: shut the base monitor down instead."""
        return True


_SHARED_SKIP = frozenset({"_budget_stop", "_budget_charge", "_audit", "agent_id"})


def make_view(base: Monitor, agent_id: str) -> Monitor:
    """A view of ``base`` labelled ``agent_id`` (``base`` itself for its own id)."""
    if agent_id == base.agent_id:
        return base
    view = object.__new__(AgentView)
    view.__dict__.update({k: v for k, v in base.__dict__.items() if k not in _SHARED_SKIP})
    view._base = base
    view.agent_id = agent_id
    view._rec = base._rec.relabel(agent_id)  # the timed scopes stamp the view's agent id
    return view


class Agents:
    """Agent views per base monitor, and the agent ids this process has seen."""

    def __init__(self) -> None:
        self.monitor: Monitor | None = None  #: None: the process-wide monitor, looked up per use
        self.installed = False  #: instrument() is in effect
        self._lock = threading.Lock()
        self._base: Monitor | None = None
        self._views: dict[str, Monitor] = {}
        self.seen: set[str] = set()

    def base(self) -> Monitor:
        """The monitor views are made of."""
        return self.monitor if self.monitor is not None else get_monitor()

    def view(self, agent_id: object) -> Monitor:
        """The monitor that records for ``agent_id`` (made on first use)."""
        base = self.monitor if self.monitor is not None else get_monitor()
        if base is not self._base:  # first use, or configure() replaced the monitor
            with self._lock:
                self._base, self._views = base, {}
        view: Monitor | None = self._views.get(agent_id)  # type: ignore[call-overload]
        if view is not None:
            return view
        if type(agent_id) is not str or not agent_id or len(self._views) >= MAX_VIEWS:
            return base
        with self._lock:
            return self._views.setdefault(agent_id, make_view(base, agent_id))

    def of(self, obj: object = None) -> Monitor:
        """The monitor for an observation about ``obj`` (see the module docstring)."""
        current = CURRENT_AGENT.get()
        if current is not None:
            return current
        tagged = getattr(obj, TAG, None)
        if tagged is not None:
            return self.view(tagged)
        seen = self.seen
        if len(seen) == 1:
            return self.view(next(iter(seen)))
        return self.base()

    def named(self, agent_id: object) -> Monitor:
        """The monitor for an observation that names its agent (a hook context, a state)."""
        current = CURRENT_AGENT.get()
        if current is not None:
            return current
        if type(agent_id) is str and agent_id in self.seen:
            return self.view(agent_id)
        return self.of(None)  # e.g. InterruptManager's hooks run as "interrupt_manager"

    def reset(self) -> None:
        with self._lock:
            self._base, self._views, self.monitor = None, {}, None


AGENTS = Agents()
