"""A child process for the crash tests: threads append to a trail and print each acknowledgement.

Usage: python -m tests.audit.child_writer URL THREADS COUNT FSYNC_MODE SYNCLOG

FSYNC_MODE (JSON-lines stores only): ``real`` fsyncs and logs every synced size
to SYNCLOG (so the parent can simulate a power loss by dropping what was never
synced); ``none`` is the deliberately broken writer that never fsyncs but still
acknowledges. COUNT 0 means append until killed.
"""

from __future__ import annotations

import os
import sys
import threading

from kaizen_perf.audit import open_trail

KEY = b"test-key-0123456789abcdef"


def _tracking_fsync(synclog: str, broken: bool):  # type: ignore[no-untyped-def]
    lock = threading.Lock()

    def fsync(fd: int) -> None:
        if broken:
            return  # acknowledges without making anything durable
        os.fsync(fd)
        path = os.readlink(f"/proc/self/fd/{fd}")
        with lock, open(synclog, "a") as f:
            f.write(f"{path}\t{os.fstat(fd).st_size}\n")
    return fsync


def main() -> None:
    url, threads, count, mode, synclog = sys.argv[1:6]
    options = {}
    if url.startswith("jsonl"):
        options = {"fsync": _tracking_fsync(synclog, mode == "none")}
    trail = open_trail(url, agent_id=f"child-{os.getpid()}", key=KEY, policy="deny",
                       store_options=options, checkpoint_interval=16)
    out = threading.Lock()

    def work(n: int) -> None:
        i = 0
        while int(count) == 0 or i < int(count):
            receipt = trail.record("step", {"thread": n, "i": i})
            with out:
                sys.stdout.write(f"{receipt.id} {receipt.seq}\n")
                sys.stdout.flush()
            i += 1
    workers = [threading.Thread(target=work, args=(n,)) for n in range(int(threads))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    trail.close(5.0)


if __name__ == "__main__":
    main()
