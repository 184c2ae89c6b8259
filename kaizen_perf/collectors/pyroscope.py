"""In-process profiles pushed to a Pyroscope server (pyroscope-io), tagged by agent and tool.

pyroscope-io runs a native sampler thread inside the agent and pushes pprof to
``{server}/push.v1.PusherService/Push`` every ``upload_interval_s``. Every sample
carries the series labels ``service_name`` and ``agent``; while a tool runs
(:meth:`PyroscopeProfiler.enter_tool` … :meth:`~PyroscopeProfiler.exit_tool`, what
``mon.tool(name)`` calls) the samples of that OS thread also carry ``tool=<name>``.
Tags are per OS thread: under asyncio every task on the loop's thread gets the tag
of whichever tool entered last.

``pyroscope.shutdown()`` can block for a minute when the server accepts and never
answers, so :func:`shutdown_with_deadline` runs it in a daemon thread and abandons
it at the deadline. pyroscope-io is imported only when a profiler starts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from kaizen_perf.config import ENV_PYROSCOPE_URL
from kaizen_perf.errors import CollectorUnavailable, ConfigError

TOOL_TAG = "tool"
AGENT_TAG = "agent"
SHUTDOWN_THREAD = "kaizen-perf-pyroscope-shutdown"


class PyroscopeLib(Protocol):
    """The parts of the ``pyroscope`` module kaizen-perf uses (injectable for tests)."""

    def configure(self, **kwargs: Any) -> Any: ...
    def add_thread_tag(self, key: str, value: str) -> Any: ...
    def remove_thread_tag(self, key: str, value: str) -> Any: ...
    def shutdown(self) -> Any: ...


@dataclass(frozen=True)
class PyroscopeOptions:
    """Where to push and how to label; validated at construction."""

    server_address: str
    service_name: str
    agent_id: str
    sample_rate: int = 100
    oncpu: bool = True
    gil_only: bool = True
    upload_interval_s: int = 10
    tags: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if not self.server_address.startswith(("http://", "https://")):
            msg = (f"Pyroscope server address {self.server_address!r} is not an http(s) URL; "
                   "use e.g. http://127.0.0.1:4040.")
            raise ConfigError(msg)
        if self.sample_rate <= 0 or self.upload_interval_s <= 0:
            msg = (f"sample_rate={self.sample_rate} and upload_interval_s="
                   f"{self.upload_interval_s} must both be positive whole numbers.")
            raise ConfigError(msg)

    def configure_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of ``pyroscope.configure``."""
        return {"application_name": self.service_name, "server_address": self.server_address,
                "sample_rate": self.sample_rate, "oncpu": self.oncpu,
                "gil_only": self.gil_only, "enable_logging": False,
                "upload_interval": self.upload_interval_s,
                "tags": {**self.tags, AGENT_TAG: self.agent_id}}


ToolToken = tuple[str, "str | None"]


class ToolTagger(Protocol):
    """Marks the current thread's samples with a tool while it runs (what mon.tool() uses)."""

    def enter_tool(self, name: str) -> ToolToken: ...
    def exit_tool(self, token: ToolToken) -> None: ...


class NoToolTags:
    """The tagger when Pyroscope is off: two bare returns."""

    def enter_tool(self, name: str) -> ToolToken:
        """Nothing to tag."""
        return (name, None)

    def exit_tool(self, token: ToolToken) -> None:
        """Nothing to untag."""


def _import_pyroscope() -> PyroscopeLib:
    try:
        import pyroscope
    except ImportError as exc:
        msg = (f"Pyroscope profiling needs pyroscope-io, which cannot be imported ({exc}). "
               "Install it with `pip install pyroscope-io`.")
        raise CollectorUnavailable(msg) from None
    lib: PyroscopeLib = pyroscope
    return lib


class PyroscopeProfiler:
    """The process's Pyroscope agent: configure once, tag tools, shut down on a deadline."""

    def __init__(self, options: PyroscopeOptions, *,
                 load: Callable[[], PyroscopeLib] = _import_pyroscope) -> None:
        self.options = options
        self._load = load
        self._lib: PyroscopeLib | None = None
        self._local = threading.local()
        self.tag_errors = 0  # native tag calls that raised (counted, never propagated)

    def start(self) -> PyroscopeProfiler:
        """Configure pyroscope-io (raises CollectorUnavailable when it is not installed)."""
        lib = self._load()
        lib.configure(**self.options.configure_kwargs())
        self._lib = lib
        return self

    def tagger(self) -> ToolTagger:
        """This profiler once started, else a tagger that does nothing (decide once)."""
        return self if self._lib is not None else NoToolTags()

    def enter_tool(self, name: str) -> ToolToken:
        """Tag this thread's samples ``tool=name`` until :meth:`exit_tool` (nesting restores)."""
        lib, prev = self._lib, getattr(self._local, "tool", None)
        if lib is not None:
            # A thread holds one value per key: the outer tool's tag is swapped out, not
            # stacked, and swapped back on exit.
            try:
                if prev is not None:
                    lib.remove_thread_tag(TOOL_TAG, prev)
                lib.add_thread_tag(TOOL_TAG, name)
            except Exception:  # the agent's tool call must go on untagged
                self.tag_errors += 1
            self._local.tool = name
        return (name, prev)

    def exit_tool(self, token: ToolToken) -> None:
        """End the tag set by the matching :meth:`enter_tool`."""
        lib = self._lib
        if lib is None:
            return
        name, prev = token
        try:
            lib.remove_thread_tag(TOOL_TAG, name)
            if prev is not None:
                lib.add_thread_tag(TOOL_TAG, prev)
        except Exception:
            self.tag_errors += 1
        self._local.tool = prev

    def shutdown_with_deadline(self, timeout_s: float = 5.0) -> bool:
        """Flush and stop within ``timeout_s``; False when the deadline passed first."""
        lib, self._lib = self._lib, None
        if lib is None:
            return True
        return shutdown_with_deadline(timeout_s, shutdown=lib.shutdown)


def shutdown_with_deadline(timeout_s: float,
                           shutdown: Callable[[], Any] | None = None) -> bool:
    """Run ``shutdown`` (default ``pyroscope.shutdown``) for at most ``timeout_s`` seconds.

    The call runs in a daemon thread that is abandoned at the deadline: the native
    upload may be stuck on a server that accepts and never answers, and the agent's
    exit must not wait for it (the interpreter does not join daemon threads).
    """
    call = shutdown or _import_pyroscope().shutdown
    errors: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except Exception as exc:  # reported as a failed shutdown, never raised
            errors.append(exc)

    worker = threading.Thread(target=run, name=SHUTDOWN_THREAD, daemon=True)
    worker.start()
    worker.join(max(0.0, timeout_s))
    return not worker.is_alive() and not errors


def options_from_env(environ: Mapping[str, str], *, agent_id: str,
                     service_name: str | None = None) -> PyroscopeOptions | None:
    """Options from ``KAIZEN_PERF_PYROSCOPE_URL`` (None when it is unset or empty)."""
    url = environ.get(ENV_PYROSCOPE_URL, "").strip()
    if not url:
        return None
    return PyroscopeOptions(server_address=url, service_name=service_name or agent_id,
                            agent_id=agent_id)
