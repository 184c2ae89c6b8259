"""Loaded by Python at start-up in processes started by ``kaizen-perf run``.

``run`` puts this directory first on ``PYTHONPATH`` and sets
``KAIZEN_PERF_BOOTSTRAP=1`` (as ``opentelemetry-instrument`` does with its own
``sitecustomize``). Any ``sitecustomize`` the user already had is still loaded.

Lazy, because every Python process of the tree pays for it (a shell pipeline of
``python -c`` one-liners, a test runner's workers): importing kaizen-perf
eagerly added 0.2-0.5 s of CPU and a tower of import frames to each one. So
start-up imports nothing of kaizen-perf. What a process uses is loaded when it
uses it:

- hooks: the agent's own ``import kaizen_perf`` / ``get_monitor()`` configures
  the monitor from the ``KAIZEN_PERF_*`` variables ``run`` set (agent id,
  forwarding socket, no HTTP server of its own);
- LLM clients: a finder on ``sys.meta_path`` waits for the first import of one
  of the client packages ``run`` named in ``KAIZEN_PERF_BOOTSTRAP_CLIENTS``, then
  calls :func:`kaizen_perf.integrations.auto_instrument`, which instruments
  that import and watches for the others;
- ``run --pyroscope``: the in-process sampler must start with the process, so
  then the monitor is configured at once.

Nothing here may stop the agent from starting: every failure is reported on
stderr and ignored.
"""

from __future__ import annotations

import os
import sys

# not typing.TYPE_CHECKING: importing typing would cost every process more than all the rest
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

CLIENTS_ENV = "KAIZEN_PERF_BOOTSTRAP_CLIENTS"


def _chain_user_sitecustomize() -> None:
    """Import the next ``sitecustomize`` on the path, if the user has one."""
    here = os.path.dirname(os.path.abspath(__file__))
    module = sys.modules.pop("sitecustomize", None)
    saved = list(sys.path)
    try:
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
        import importlib

        importlib.import_module("sitecustomize")
    except ImportError:
        pass
    finally:
        sys.path[:] = saved
        if module is not None:
            sys.modules["sitecustomize"] = module


def _configure() -> bool:
    """The process-wide monitor, now; False (said on stderr) when it cannot start."""
    try:
        import kaizen_perf

        kaizen_perf.get_monitor()
    except Exception as exc:  # never keep the agent from starting
        print(f"kaizen-perf: monitoring disabled in this process: {exc}", file=sys.stderr)
        return False
    return True


def _instrument_clients() -> None:
    """Instrument the LLM clients imported so far, and hook the imports of the others."""
    try:
        from kaizen_perf.integrations import auto_instrument

        auto_instrument()
    except Exception as exc:
        print(f"kaizen-perf: LLM client instrumentation failed: {exc}", file=sys.stderr)


class OnFirstClientImport:
    """A ``sys.meta_path`` finder that instruments the clients at the first client import.

    Every import of the process asks it first, so the common case is one set lookup
    that says no. It removes itself once it fired, before loading kaizen-perf.
    """

    def __init__(self, packages: frozenset[str]) -> None:
        self.packages = packages

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname not in self.packages:
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        _instrument_clients()
        import importlib.util

        # auto_instrument() put its post-import hook on sys.meta_path for this package:
        # finding the spec again goes through it, so this very import gets instrumented
        return importlib.util.find_spec(fullname)


def _client_packages() -> frozenset[str] | None:
    """The packages ``run`` asked to watch (None: not told, so ask kaizen-perf now)."""
    raw = os.environ.get(CLIENTS_ENV)
    if raw is None:
        return None
    return frozenset(p for p in raw.split(",") if p)


def _bootstrap() -> None:
    if os.environ.get("KAIZEN_PERF_BOOTSTRAP") != "1":
        return
    packages = _client_packages()
    if os.environ.get("KAIZEN_PERF_PYROSCOPE_URL") or packages is None:
        # eager: the sampler starts with the process, or this process was bootstrapped
        # without the runner's list of clients
        if _configure():
            _instrument_clients()
        return
    already = packages.intersection(sys.modules)
    if already:  # imported by a .pth file or the user's sitecustomize: instrument now
        _instrument_clients()
    elif packages:
        sys.meta_path.insert(0, OnFirstClientImport(packages))


_bootstrap()
_chain_user_sitecustomize()
