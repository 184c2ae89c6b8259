"""Let Kaizen's LLM client connect to a fake provider on this machine (tests only).

Kaizen refuses loopback and private addresses twice, by design (SSRF defence):
when a deployment is built (``url_safety.check_url``, which refuses a literal
``127.0.0.1`` but lets the name ``localhost`` through unresolved) and again at
connect time (``kaizen.llm.http_client.SafeDnsResolver.check_host``, which resolves
``localhost`` and refuses it). No setting turns either off. The offline tests
therefore point Kaizen at ``http://localhost:PORT`` and let exactly ``localhost``
and ``127.0.0.1`` through the connect-time check; every other host is still
checked by Kaizen's own code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

LOOPBACK = frozenset({"localhost", "127.0.0.1"})


def allow_loopback() -> Callable[[], None]:
    """Patch the connect-time check; returns the function that restores it."""
    from kaizen.llm.http_client import SafeDnsResolver

    original = SafeDnsResolver.check_host

    def check_host(self: Any, host: str) -> None:
        if host in LOOPBACK:
            return
        original(self, host)

    SafeDnsResolver.check_host = check_host  # type: ignore[method-assign]

    def restore() -> None:
        SafeDnsResolver.check_host = original  # type: ignore[method-assign]
    return restore


def local_url(url: str) -> str:
    """``http://127.0.0.1:PORT`` as ``http://localhost:PORT`` (passes Kaizen's parse check)."""
    return url.replace("127.0.0.1", "localhost")
