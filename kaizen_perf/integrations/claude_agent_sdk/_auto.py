"""Instrumentation with no code change: every ``query()`` and ``ClaudeSDKClient``.

Both entry points build one ``claude_agent_sdk._internal.query.Query`` per CLI
process, handing it the transport, ``can_use_tool`` and the hooks. Two class
attributes are replaced (and restored by :func:`uninstrument`):

* ``SubprocessCLITransport._build_command`` adds ``--include-partial-messages``
  when the user did not ask for it: only the stream carries each answer's final
  usage (``message_delta``). Those stream events are then kept from the user.
* ``Query.__init__`` gives the query an observer: ``can_use_tool`` and each hook
  callback are wrapped, and the transport's reader is observed, so messages are
  timed when the CLI sends them, not when the user gets round to reading them.

Options already given to :func:`~kaizen_perf.integrations.claude_agent_sdk.instrument_options`
are left alone, so code that uses the adapter under ``kaizen-perf run`` counts once.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from kaizen_perf.integrations._calls import Instrumentation, OnCall, Patches, _log
from kaizen_perf.integrations.claude_agent_sdk._observer import SdkObserver
from kaizen_perf.monitor import Monitor, get_monitor

PARTIAL_FLAG = "--include-partial-messages"
_FORCED = "_kaizen_perf_forced_partial"
_state = Instrumentation()


class AdapterHooks(dict):  # type: ignore[type-arg]
    """The hooks dict of options instrumented by the adapter (the mark survives copies)."""


def instrument(monitor: Monitor | None = None, *, on_call: OnCall | None = None,
               clock: Callable[[], float] = time.perf_counter) -> None:
    """Record every Claude Agent SDK session from now on (``kaizen-perf run`` calls this).

    The monitor is built now, not in the first callback the CLI waits for. ``on_call``
    is accepted for symmetry with the LLM clients and not used: the SDK's calls are
    read from the CLI's messages. Raises ``ImportError`` without ``claude-agent-sdk``.
    """
    from claude_agent_sdk._internal import query as q
    from claude_agent_sdk._internal.transport import subprocess_cli as cli

    if monitor is None:
        get_monitor()

    def apply(patches: Patches) -> None:
        patches.wrap(cli.SubprocessCLITransport, "_build_command", _build_command)
        patches.wrap(q.Query, "__init__", _query_init)
    _state.install(monitor, on_call, clock, apply)


def uninstrument() -> None:
    """Restore the SDK as it was (no-op when not instrumented)."""
    _state.uninstall()


def is_instrumented() -> bool:
    """Whether :func:`instrument` is in effect."""
    return _state.installed


def _build_command(original: Callable[..., list[str]]) -> Callable[..., list[str]]:
    @functools.wraps(original)
    def build(self: Any) -> list[str]:
        cmd = original(self)
        if PARTIAL_FLAG not in cmd and not _adapter_owned(self):
            cmd.insert(1, PARTIAL_FLAG)
            setattr(self, _FORCED, True)
        return cmd
    return build


def _adapter_owned(transport: Any) -> bool:
    return isinstance(getattr(getattr(transport, "_options", None), "hooks", None), AdapterHooks)


def _query_init(original: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        observer = None
        transport = kwargs.get("transport", args[0] if args else None)
        if not _adapter_owned(transport):
            try:
                rec = _state.recorder
                observer = SdkObserver(rec.monitor, clock=rec.clock)
                wrap_callbacks(observer, kwargs)
            except Exception as exc:  # never keep the agent from starting
                _log("sdk-auto", f"kaizen-perf could not instrument a Claude Agent SDK "
                     f"query: {exc!r}")
                observer = None
        original(self, *args, **kwargs)
        if observer is not None:
            self.transport = ObservedTransport(self.transport, observer,
                                               hide_stream=getattr(transport, _FORCED, False))
    return __init__


def wrap_callbacks(observer: SdkObserver, kwargs: dict[str, Any]) -> None:
    """Wrap ``can_use_tool`` and every hook callback in Query's keyword arguments."""
    if kwargs.get("can_use_tool") is not None:
        kwargs["can_use_tool"] = observer.wrap_can_use_tool(kwargs["can_use_tool"])
    hooks = kwargs.get("hooks")
    if isinstance(hooks, dict):
        kwargs["hooks"] = {event: [{**m, "hooks": [observer.wrap_hook(event, cb)
                                                    for cb in m.get("hooks", [])]}
                                   for m in matchers]
                           for event, matchers in hooks.items()}


class ObservedTransport:
    """The query's transport, with every message it reads passed to the observer first."""

    def __init__(self, inner: Any, observer: SdkObserver, *, hide_stream: bool) -> None:
        self._inner, self._observer, self._hide = inner, observer, hide_stream

    async def read_messages(self) -> AsyncIterator[dict[str, Any]]:
        feed, hide = self._observer.feed, self._hide
        async for message in self._inner.read_messages():
            if message.get("type") == "stream_event":
                feed(message)
                if hide:
                    continue  # asked for by us, not by the user
            elif message.get("type") not in ("control_request", "control_response"):
                feed(message)
            yield message

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
