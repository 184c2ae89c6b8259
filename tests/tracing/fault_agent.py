"""A monitored agent for the fault tests: tool calls for N seconds with traces to an endpoint.

``python -m tests.tracing.fault_agent ENDPOINT SECONDS`` prints one JSON line of
results (hook latency percentiles, RSS samples, export counters), then ``DONE``
and returns, so the caller can time the exit (the monitor's exit hook runs then).
"""

from __future__ import annotations

import json
import sys
import time
from array import array

import psutil

from kaizen_perf import Monitor
from kaizen_perf.tracing import TraceSink


def main(endpoint: str, seconds: float) -> None:
    """Run the load and print the results."""
    mon = Monitor("fault-agent", traces="otlp", otlp_endpoint=endpoint, otlp_metrics=True,
                  export_timeout_s=3.0)
    [sink] = [s for s in mon.pipeline._sinks if isinstance(s, TraceSink)]
    proc = psutil.Process()
    latencies = array("q")
    rss: list[int] = []
    clock = time.perf_counter_ns
    end = time.monotonic() + seconds
    next_sample = 0.0
    while (now := time.monotonic()) < end:
        if now >= next_sample:
            rss.append(proc.memory_info().rss)
            next_sample = now + 5.0
        with mon.agent_loop():
            t0 = clock()
            with mon.tool("fetch"):
                pass
            latencies.append(clock() - t0)
            mon.record_api_call("anthropic", "claude-sonnet-4-5", input_tokens=10,
                                output_tokens=5, duration_s=0.001)
            time.sleep(0.001)
    ordered = sorted(latencies)
    print(json.dumps({
        "n": len(ordered), "p50_ns": ordered[len(ordered) // 2],
        "p99_ns": ordered[int(len(ordered) * 0.99)], "rss": rss,
        "spans_built": sink.spans_built, "dropped": sink.dropped_events,
        "export_errors": sink.export_errors, "exported": sink.exported_spans,
    }), flush=True)
    print("DONE", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
