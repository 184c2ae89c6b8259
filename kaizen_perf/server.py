"""HTTP endpoint: ``/metrics`` (Prometheus text or OpenMetrics), ``/healthz``, ``/readyz``.

Binds 127.0.0.1 unless told otherwise (prometheus-client's own server binds
0.0.0.0). TLS and mutual TLS use prometheus-client's WSGI support. A port in use
is a :class:`~kaizen_perf.errors.ConfigError` that names the address and the fix.
"""

from __future__ import annotations

import errno
import gzip
import json
import ssl
import threading
from collections.abc import Callable, Iterable
from typing import Any, Protocol
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client.exposition import ThreadingWSGIServer

from kaizen_perf.config import parse_addr
from kaizen_perf.errors import ConfigError
from kaizen_perf.health import HealthReport
from kaizen_perf.metrics.exposition import OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE

StartResponse = Callable[..., Any]


class Served(Protocol):
    """What the endpoint serves of a monitor (a protocol: no import of the monitor)."""

    agent_id: str

    def export_metrics(self, *, openmetrics: bool = False) -> str: ...

    def health(self) -> HealthReport: ...


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every second must not spam stderr."""


def make_app(mon: Served) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """The WSGI application serving one monitor."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            return _metrics(mon, environ, start_response)
        if path == "/healthz":
            return _json(start_response, "200 OK", {"status": "alive", "agent": mon.agent_id})
        if path == "/readyz":
            report = mon.health()
            status = "200 OK" if report.ready else "503 Service Unavailable"
            return _json(start_response, status, report.to_json())
        return _json(start_response, "404 Not Found",
                     {"error": f"no such path {path!r}; try /metrics, /healthz or /readyz"})

    return app


def _metrics(mon: Served, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    openmetrics = "application/openmetrics-text" in environ.get("HTTP_ACCEPT", "")
    body = mon.export_metrics(openmetrics=openmetrics).encode("utf-8")
    headers = [("Content-Type", OPENMETRICS_CONTENT_TYPE if openmetrics else TEXT_CONTENT_TYPE)]
    if "gzip" in environ.get("HTTP_ACCEPT_ENCODING", ""):
        body = gzip.compress(body, compresslevel=1)  # level 1: a large scrape stays fast
        headers.append(("Content-Encoding", "gzip"))
    headers.append(("Content-Length", str(len(body))))
    start_response("200 OK", headers)
    return [body]


def _json(start_response: StartResponse, status: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(data)))])
    return [data]


class MetricsServer:
    """A running HTTP server in a daemon thread named ``kaizen-perf-http``."""

    def __init__(self, httpd: WSGIServer, thread: threading.Thread, scheme: str) -> None:
        self._httpd, self._thread = httpd, thread
        host, port = httpd.server_address[:2]
        self.host, self.port = str(host), int(port)
        self.url = f"{scheme}://{self.host}:{self.port}"

    @classmethod
    def start(cls, mon: Served, addr: str = "127.0.0.1:9464", *, certfile: str | None = None,
              keyfile: str | None = None, client_cafile: str | None = None) -> MetricsServer:
        """Bind ``addr`` (``HOST:PORT``; port 0 picks a free one) and serve in the background."""
        try:
            host, port = parse_addr(addr)
        except ValueError as exc:
            msg = f"Metrics address {addr!r} is not valid: expected {exc}."
            raise ConfigError(msg) from None
        try:
            httpd = make_server(host, port, make_app(mon), ThreadingWSGIServer,
                                handler_class=_QuietHandler)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                msg = (f"Cannot serve metrics on {host}:{port}: the port is already in use. "
                       "Pick another with --metrics-addr HOST:PORT or KAIZEN_PERF_METRICS_ADDR "
                       "(port 0 picks a free one).")
            else:
                msg = f"Cannot serve metrics on {host}:{port}: {exc.strerror}."
            raise ConfigError(msg) from None
        scheme = "http"
        if certfile:
            httpd.socket = _tls_context(certfile, keyfile, client_cafile).wrap_socket(
                httpd.socket, server_side=True)
            scheme = "https"
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                  name="kaizen-perf-http", daemon=True)
        thread.start()
        return cls(httpd, thread, scheme)

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout_s)


def _tls_context(certfile: str, keyfile: str | None, client_cafile: str | None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_cert_chain(certfile, keyfile)
        if client_cafile:
            ctx.load_verify_locations(cafile=client_cafile)
            ctx.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:
        msg = (f"Cannot load TLS files (cert {certfile!r}, key {keyfile!r}, client CA "
               f"{client_cafile!r}): {exc}. Check KAIZEN_PERF_TLS_CERT / KAIZEN_PERF_TLS_KEY.")
        raise ConfigError(msg) from None
    return ctx
