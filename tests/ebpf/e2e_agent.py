"""Agent for the `kaizen-perf run --ebpf` test: waits until tracing, connects, sleeps.

argv: RUN_DIR PORT CONNECTS STOP_FILE. Waits (60 s at most) for the "attached" record
in RUN_DIR/ebpf.jsonl, connects CONNECTS times to 127.0.0.1:PORT, sleeps 20 ms 25
times, then waits (60 s at most) for STOP_FILE so the test can scrape /metrics.
"""

from __future__ import annotations

import os
import socket
import sys
import time


def wait_for(predicate: object, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.05)


def attached(run_dir: str) -> bool:
    try:
        with open(os.path.join(run_dir, "ebpf.jsonl")) as fh:
            return '"type": "attached"' in fh.read()
    except OSError:
        return False


def main() -> None:
    run_dir, port, connects, stop_file = sys.argv[1:5]
    wait_for(lambda: attached(run_dir))
    for _ in range(int(connects)):
        socket.create_connection(("127.0.0.1", int(port))).close()
    for _ in range(25):
        time.sleep(0.02)
    wait_for(lambda: os.path.exists(stop_file))


if __name__ == "__main__":
    main()
