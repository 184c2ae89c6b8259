"""Dispatcher capacity with metrics, traces and logs all on: are events dropped at a given rate?

Run: ``.venv/bin/python -m benchmarks.capacity [--rate 100000] [--seconds 10]``

An OTLP/HTTP receiver in another process answers every request at once (a healthy
backend); the JSON event log goes to a file. The calling thread records tool calls
at ``--rate`` per second (in bursts of 1,000, paced by the clock) for ``--seconds``.
Printed: calls made, the rate reached, the calls ``kaizen_tool_calls_total`` counts,
the events dropped at the buffer (``kaizen_perf_events_dropped_total{sink="buffer"}``)
and by each sink. Target (issue 19): >= 100k events/s for 10 s with nothing dropped, or
a documented degradation that keeps metrics exact.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kaizen_perf import Monitor

RECEIVER = r'''
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
s = HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
'''


def measure(rate: int, seconds: float) -> dict[str, object]:
    """Record tool calls at ``rate`` per second for ``seconds``; what came out."""
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE,
                                text=True)
    try:
        assert receiver.stdout is not None
        port = int(receiver.stdout.readline())
        with tempfile.TemporaryDirectory() as tmp:
            mon = Monitor("cap", environ={
                "KAIZEN_PERF_TRACES": "otlp",
                "KAIZEN_PERF_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
                "KAIZEN_PERF_LOG_EVENTS": "all",
                "KAIZEN_PERF_LOG_FILE": str(Path(tmp) / "events.jsonl")})
            made = _drive(mon, rate, seconds)
            elapsed = made[1]
            mon.flush()
            counted = sum(slot[0] for key, slot in
                          mon.metrics.families["kaizen_tool_calls_total"].series.items())
            sink_drops = mon.pipeline.dropped_events()
            buffer_drops = mon.pipeline.dropped
            mon.shutdown(10.0)
    finally:
        receiver.kill()
    return {"calls": made[0], "rate_reached": round(made[0] / elapsed),
            "counted_by_metrics": counted, "buffer_drops": buffer_drops,
            "sink_drops": sink_drops}


def _drive(mon: Monitor, rate: int, seconds: float) -> tuple[int, float]:
    tool = mon.tool
    burst = 1000
    start = time.perf_counter()
    made = 0
    while (now := time.perf_counter()) - start < seconds:
        due = int((now - start) * rate)
        if made >= due:
            time.sleep(min(0.001, (made + burst) / rate - (now - start)))
            continue
        for _ in range(burst):
            with tool("x"):
                pass
        made += burst
    return made, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(measure(args.rate, args.seconds))


if __name__ == "__main__":
    main()
