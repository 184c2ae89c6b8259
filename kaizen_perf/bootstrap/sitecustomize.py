"""Loaded by Python at start-up in processes started by ``kaizen-perf run``.

``run`` puts this directory first on ``PYTHONPATH`` and sets
``KAIZEN_PERF_BOOTSTRAP=1`` (as ``opentelemetry-instrument`` does with its own
``sitecustomize``). The process-wide monitor is configured from the
``KAIZEN_PERF_*`` variables ``run`` set (agent id, forwarding socket, no HTTP
server of its own), LLM clients are instrumented when importable, and any
``sitecustomize`` the user already had is still loaded. Nothing here may stop
the agent from starting: every failure is reported on stderr and ignored.
"""

from __future__ import annotations

import os
import sys


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


def _bootstrap() -> None:
    if os.environ.get("KAIZEN_PERF_BOOTSTRAP") != "1":
        return
    try:
        import kaizen_perf

        kaizen_perf.get_monitor()
    except Exception as exc:  # never keep the agent from starting
        print(f"kaizen-perf: monitoring disabled in this process: {exc}", file=sys.stderr)
        return
    try:
        from kaizen_perf.integrations import auto_instrument
    except ImportError:
        return
    try:
        auto_instrument()
    except Exception as exc:
        print(f"kaizen-perf: LLM client instrumentation failed: {exc}", file=sys.stderr)


_bootstrap()
_chain_user_sitecustomize()
