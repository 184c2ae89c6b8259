"""Cost of traces, logs and StatsD: per-span and per-log-line CPU, and loop overhead.

``python -m benchmarks.telemetry_overhead [--rounds 7] [--iterations 2000]``

1. **Dispatcher CPU per span / per log line** (``time.thread_time`` around the
   sink's ``handle`` on 20,000 real events: a span record per event); the export
   thread's OTLP protobuf encoding per span record; and the cost of an SDK
   ``ReadableSpan`` per span (paid only by console/in-memory exporters, when read).
2. **Agent-thread CPU per ``get_logger().info()`` line** written to a file.
3. **Loop overhead**: an agent loop whose iteration runs one 1 ms tool call
   (``--tool cpu``: a busy wait, the worst case, the dispatcher competes for the
   GIL; ``--tool sleep``: a 1 ms wait, like an I/O-bound tool),
   in a fresh subprocess per run, configurations interleaved in a new random
   order each round; reports the median over rounds of (wall time / wall time
   of the metrics-only run of the same round) - 1. Traces go over OTLP/HTTP to
   a receiver in another process, logs of every hook event to a file.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CONFIGS: dict[str, dict[str, str]] = {
    "metrics": {},
    "traces": {"KAIZEN_PERF_TRACES": "otlp"},
    "logs": {"KAIZEN_PERF_LOG_EVENTS": "all"},
    "all": {"KAIZEN_PERF_TRACES": "otlp", "KAIZEN_PERF_LOG_EVENTS": "all",
            "KAIZEN_PERF_OTLP_METRICS": "1"},
}


def _events(n: int) -> list[object]:
    from kaizen_perf._context import new_span_id, new_trace_id
    from kaizen_perf.events import ToolEvent
    trace = new_trace_id()
    return [ToolEvent("bench", "web_search", 1_000_000 * i, 1_000_000 * i + 900_000, None,
                      trace, new_span_id(), new_span_id()) for i in range(n)]


def per_item_costs(n: int = 20_000) -> dict[str, float]:
    """Dispatcher CPU per span and per event log line; export-thread encoding per span."""
    from opentelemetry.sdk.resources import Resource

    from kaizen_perf.exporters.logfile import LineWriter
    from kaizen_perf.exporters.otlp_records import RecordEncoder
    from kaizen_perf.exporters.span_outputs import MemorySpanExporter
    from kaizen_perf.logs import EventLogSink, get_logger
    from kaizen_perf.redact import default_redactor
    from kaizen_perf.tracing import TraceSink
    from kaizen_perf.tracing.spans import SpanBuilder

    events = _events(n)
    sink = TraceSink([("keep", MemorySpanExporter())], to_wall_ns=lambda ns: ns + time.time_ns(),
                     max_queue=n + 1)
    t0 = time.thread_time()
    for i in range(0, n, 512):
        sink.handle(events[i:i + 512])  # type: ignore[arg-type]
    span_cpu = (time.thread_time() - t0) / n
    sink.close(10.0)
    builder = SpanBuilder(resource=Resource.create({"service.name": "bench"}),
                          redactor=default_redactor())
    records = builder.records(events, time.time_ns(), None)  # type: ignore[arg-type]
    encoder = RecordEncoder(builder)
    t0 = time.thread_time()
    for i in range(0, len(records), 2048):
        encoder.request(records[i:i + 2048])
    encode_cpu = (time.thread_time() - t0) / len(records)
    t0 = time.thread_time()
    for record in records:
        builder.to_sdk(record)
    sdk_cpu = (time.thread_time() - t0) / len(records)
    with tempfile.TemporaryDirectory() as tmp:
        writer = LineWriter(Path(tmp) / "events.jsonl")
        log_sink = EventLogSink(writer=writer)
        t0 = time.thread_time()
        for i in range(0, n, 512):
            log_sink.handle(events[i:i + 512])  # type: ignore[arg-type]
        line_cpu = (time.thread_time() - t0) / n
        from kaizen_perf.logs import configure_logging
        configure_logging(file=str(Path(tmp) / "app.jsonl"))
        log = get_logger("bench")
        t0 = time.thread_time()
        for i in range(n // 4):
            log.info("tool finished", tool="web_search", i=i)
        logger_cpu = (time.thread_time() - t0) / (n // 4)
        configure_logging()
    return {"span_record_us": span_cpu * 1e6, "span_otlp_encode_us": encode_cpu * 1e6,
            "span_sdk_object_us": sdk_cpu * 1e6,
            "event_log_line_us": line_cpu * 1e6, "get_logger_line_us": logger_cpu * 1e6}


def worker(iterations: int, tool: str) -> None:
    """One measured run (in a subprocess): prints the loop's wall time in seconds."""
    import kaizen_perf
    mon = kaizen_perf.Monitor("bench")
    clock = time.perf_counter
    t0 = clock()
    for _ in range(iterations):
        with mon.agent_loop(), mon.tool("work"):
            if tool == "sleep":
                time.sleep(0.001)
                continue
            end = clock() + 0.001
            while clock() < end:
                pass
    wall = clock() - t0
    mon.shutdown(5.0)
    print(json.dumps({"wall": wall}))


class _Sink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


def receiver() -> None:
    """A throwaway OTLP/HTTP receiver (own process, so it costs the agent nothing)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def overhead(rounds: int, iterations: int, tool: str) -> dict[str, float]:
    """Median relative slowdown per configuration against metrics-only, paired per round."""
    rx = subprocess.Popen([sys.executable, "-m", "benchmarks.telemetry_overhead",
                           "--receiver"], stdout=subprocess.PIPE, text=True)
    assert rx.stdout is not None
    port = rx.stdout.readline().strip()
    ratios: dict[str, list[float]] = {name: [] for name in CONFIGS if name != "metrics"}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(rounds):
                order = list(CONFIGS)
                random.shuffle(order)
                walls = {}
                for name in order:
                    env = {**os.environ, **CONFIGS[name],
                           "KAIZEN_PERF_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
                           "KAIZEN_PERF_LOG_FILE": str(Path(tmp) / f"{name}-{r}.jsonl")}
                    out = subprocess.run([sys.executable, "-m", "benchmarks.telemetry_overhead",
                                          "--worker", str(iterations), "--tool", tool],
                                         env=env, check=True,
                                         capture_output=True, text=True)
                    walls[name] = json.loads(out.stdout.strip().splitlines()[-1])["wall"]
                for name in ratios:
                    ratios[name].append(walls[name] / walls["metrics"] - 1)
    finally:
        rx.terminate()
        rx.wait(5)
    return {name: statistics.median(v) * 100 for name, v in ratios.items()}


def main() -> None:
    """Run both measurements and print them."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--worker", type=int)
    parser.add_argument("--receiver", action="store_true")
    parser.add_argument("--tool", choices=["cpu", "sleep"], default="cpu")
    args = parser.parse_args()
    if args.receiver:
        receiver()
        return
    if args.worker:
        worker(args.worker, args.tool)
        return
    print("per item (CPU µs):", json.dumps({k: round(v, 2) for k, v in per_item_costs().items()}))
    result = overhead(args.rounds, args.iterations, args.tool)
    print(f"loop overhead vs metrics only (median %, 1 ms {args.tool} tool calls):",
          json.dumps({k: round(v, 2) for k, v in result.items()}))


if __name__ == "__main__":
    main()
