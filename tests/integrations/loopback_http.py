"""The HTTP plumbing the scripted LLM servers share: a threaded server on 127.0.0.1."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackHTTP:
    """Serves a handler class on a free port of 127.0.0.1 from a daemon thread."""

    httpd: ThreadingHTTPServer
    url: str
    _thread: threading.Thread

    def _serve(self, handler: type[BaseHTTPRequestHandler], name: str) -> None:
        """Bind now (so ``url`` is known); the thread starts with :meth:`_run`."""
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, name=name,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    def _run(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and wait for the thread (bounded)."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)
