"""Workload for the eBPF accuracy tests: waits for "go" on stdin, then does known work.

argv: PORT BLOCK_DIR CONNECTS FSYNCS SLEEPS. Connects CONNECTS times to 127.0.0.1:PORT,
writes and fsyncs FSYNCS times in BLOCK_DIR (disk-backed: tmpfs makes no block
requests), then starts a child (born after tracing began) that sleeps 20 ms SLEEPS times.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

SLEEPER = "import time\nfor _ in range({n}):\n    time.sleep(0.02)\n"


def main() -> None:
    port, block_dir, connects, fsyncs, sleeps = sys.argv[1:6]
    sys.stdin.readline()
    for _ in range(int(connects)):
        socket.create_connection(("127.0.0.1", int(port))).close()
    path = os.path.join(block_dir, f"kaizen-ebpf-{os.getpid()}.dat")
    try:
        for i in range(int(fsyncs)):
            with open(path, "ab") as fh:
                fh.write(bytes([i % 256]) * 8192)
                fh.flush()
                os.fsync(fh.fileno())
    finally:
        os.unlink(path)
    child = subprocess.run([sys.executable, "-c", SLEEPER.format(n=int(sleeps))], check=True)
    print("done", child.returncode, flush=True)


if __name__ == "__main__":
    main()
