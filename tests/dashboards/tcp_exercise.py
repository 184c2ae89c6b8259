"""TCP traffic for the eBPF panels of the dashboards' end-to-end test.

The reference workload's LLM is a stub (no sockets), so under ``kaizen-perf run
--ebpf`` its TCP connect and retransmit metrics would stay empty. This helper
runs in the same process tree (same agent) and, every half second:

* connects to a local listener that accepts (a TCP connect latency sample);
* connects to a listener whose accept queue is full and never drained: Linux
  drops the SYN, so the client retransmits it (a TCP retransmit sample).

It stops when its parent (the agent) exits, so it never outlives the run.
"""

from __future__ import annotations

import argparse
import os
import socket
import time


def _listener(backlog: int) -> socket.socket:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(backlog)
    return srv


def _connect(addr: tuple[str, int], timeout_s: float) -> socket.socket | None:
    sock = socket.socket()
    sock.settimeout(timeout_s)
    try:
        sock.connect(addr)
    except OSError:
        sock.close()
        return None
    return sock


def main(argv: list[str] | None = None) -> None:
    """Loop until --duration passes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0)
    args = parser.parse_args(argv)
    ok, full = _listener(16), _listener(0)
    held: list[socket.socket] = []  # the first connection fills the full listener's queue
    deadline, parent = time.monotonic() + args.duration, os.getppid()
    while time.monotonic() < deadline and os.getppid() == parent:  # stop with the agent
        client = _connect(ok.getsockname(), 1.0)
        if client is not None:
            ok.accept()[0].close()
            client.close()
        queued = _connect(full.getsockname(), 1.5)  # SYN dropped: retransmitted after 1 s
        if queued is not None:
            held.append(queued)
        time.sleep(0.5)
    for sock in (*held, ok, full):
        sock.close()


if __name__ == "__main__":
    main()
