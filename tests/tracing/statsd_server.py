"""A real StatsD server (the `statsd` npm package on Node.js) on 127.0.0.1, for tests.

The package is installed once into ``.venv/node-statsd`` with
``npm install --prefix .venv/node-statsd statsd@0.9.0 --no-audit --no-fund``
(the same command ``.ci/run`` can run); every message the server receives is
dumped to its stdout (``dumpMessages``), which the test reads.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers import need, need_binary

ROOT = Path(__file__).resolve().parents[2]
PREFIX = ROOT / ".venv" / "node-statsd"
STATS_JS = PREFIX / "node_modules" / "statsd" / "stats.js"
NPM_COMMAND = ["npm", "install", "--prefix", str(PREFIX), "statsd@0.9.0", "--no-audit",
               "--no-fund", "--loglevel=error"]


def ensure_statsd() -> Path:
    """stats.js of the npm statsd package, installing it on first use (skip/fail if impossible)."""
    node = need_binary("node", "nodejs")
    need_binary("npm", "npm")
    if not STATS_JS.exists():
        PREFIX.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(NPM_COMMAND, capture_output=True, text=True, timeout=180,
                              check=False)
        need(done.returncode == 0 and STATS_JS.exists(),
             f"npm could not install statsd: {done.stderr.strip()[-300:]}")
    assert node
    return STATS_JS


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class StatsdServer:
    """The running server's port and the metric lines it received so far."""

    port: int
    lines: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self) -> list[str]:
        """Every metric line received so far."""
        with self.lock:
            return list(self.lines)

    def wait_for(self, predicate: str, timeout_s: float = 10.0) -> list[str]:
        """Wait until some received line contains ``predicate``; returns all lines."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            lines = self.received()
            if any(predicate in line for line in lines):
                return lines
            time.sleep(0.05)
        return self.received()


def _udp_bound(port: int) -> bool:
    """Whether some socket is bound to UDP ``port`` on this host (from /proc/net/udp)."""
    needle = f":{port:04X} "
    lines = Path("/proc/net/udp").read_text().splitlines()[1:]
    return any(needle in line.split()[1] + " " for line in lines if len(line.split()) > 1)


def _wait_bound(port: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _udp_bound(port):
            return True
        time.sleep(0.02)
    return False


@contextmanager
def statsd_server(tmp_path: Path) -> Iterator[StatsdServer]:
    """Start statsd on a free UDP port; stop it afterwards."""
    stats_js = ensure_statsd()
    port = free_udp_port()
    config = tmp_path / "statsd.js"
    config.write_text(f'{{ port: {port}, address: "127.0.0.1", mgmt_port: 0, '
                      'dumpMessages: true, backends: ["./backends/console"], '
                      'flushInterval: 100000 }\n')
    proc = subprocess.Popen(["node", str(stats_js), str(config)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=stats_js.parent)
    server = StatsdServer(port)
    up = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            if "server is up" in raw:
                up.set()
            _, sep, line = raw.rstrip("\n").partition("DEBUG: ")
            if sep:
                with server.lock:
                    server.lines.append(line)

    reader = threading.Thread(target=read, name="statsd-reader", daemon=True)
    reader.start()
    try:
        need(up.wait(20), "the statsd server did not start within 20 s")
        # stats.js logs "server is up" before its asynchronous bind() completes.
        need(_wait_bound(port, 10), f"the statsd server did not bind UDP port {port} in 10 s")
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        reader.join(5)
