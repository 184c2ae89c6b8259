"""Integrations: LLM clients, the Claude Agent SDK and Kaizen agents.

Nothing here imports a third-party package until asked. :func:`auto_instrument`
(what ``kaizen-perf run`` calls at start-up) instruments ``anthropic`` and
``openai`` if they are already imported, and otherwise waits for the agent to import
them (an import hook), so a process that never uses them pays nothing.
"""

from __future__ import annotations

import functools
import importlib
import importlib.abc
import importlib.util
import sys
import threading
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from kaizen_perf.integrations._calls import ApiCallRecord, Attempt, OnCall, Usage, _log
from kaizen_perf.monitor import Monitor

__all__ = ["ApiCallRecord", "Attempt", "Usage", "auto_instrument", "uninstrument_all"]

#: client package → our module that instruments it
CLIENTS = {"anthropic": "kaizen_perf.integrations.anthropic",
           "openai": "kaizen_perf.integrations.openai",
           "claude_agent_sdk": "kaizen_perf.integrations.claude_agent_sdk",
           "kaizen": "kaizen_perf.integrations.kaizen"}


def auto_instrument(monitor: Monitor | None = None, *, on_call: OnCall | None = None,
                    packages: Sequence[str] = tuple(CLIENTS)) -> list[str]:
    """Instrument each installed client in ``packages`` now or when it is first imported.

    Returns the packages found installed. Never raises for a client that fails to
    instrument: that is logged and the agent goes on.
    """
    found = []
    for package in packages:
        if package in sys.modules:
            _instrument(package, monitor, on_call)
        elif importlib.util.find_spec(package) is not None:
            _PostImport.install(package, functools.partial(_instrument, package, monitor, on_call))
        else:
            continue
        found.append(package)
    return found


def uninstrument_all() -> None:
    """Undo :func:`auto_instrument` (and any ``instrument()`` of the client modules)."""
    _PostImport.remove_all()
    for module in CLIENTS.values():
        if module in sys.modules:
            sys.modules[module].uninstrument()


def _instrument(package: str, monitor: Monitor | None, on_call: OnCall | None) -> None:
    try:
        importlib.import_module(CLIENTS[package]).instrument(monitor, on_call=on_call)
    except Exception as exc:  # never keep the agent from importing its client
        _log(f"auto:{package}", f"kaizen-perf could not instrument {package}: {exc!r}; "
             "its API calls are not recorded.")


class _PostImport(importlib.abc.MetaPathFinder):
    """Runs a callback right after a module has been imported for the first time."""

    _lock = threading.Lock()
    _pending: dict[str, Callable[[], None]] = {}  # noqa: RUF012 - one process-wide registry
    _finder: _PostImport | None = None

    @classmethod
    def install(cls, name: str, callback: Callable[[], None]) -> None:
        with cls._lock:
            cls._pending[name] = callback
            if cls._finder is None:
                cls._finder = cls()
                sys.meta_path.insert(0, cls._finder)

    @classmethod
    def remove_all(cls) -> None:
        with cls._lock:
            cls._pending.clear()
            if cls._finder is not None and cls._finder in sys.meta_path:
                sys.meta_path.remove(cls._finder)
            cls._finder = None

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> Any:
        if fullname not in self._pending:
            return None
        # find the real spec with ourselves out of the way, then hook its loader
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _Loader(spec.loader, fullname)
        return spec


class _Loader(importlib.abc.Loader):
    def __init__(self, inner: Any, name: str) -> None:
        self._inner, self._name = inner, name

    def create_module(self, spec: Any) -> ModuleType | None:
        module: ModuleType | None = self._inner.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        self._inner.exec_module(module)
        with _PostImport._lock:
            callback = _PostImport._pending.pop(self._name, None)
        if callback is not None:
            callback()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
