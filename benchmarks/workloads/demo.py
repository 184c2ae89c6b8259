"""``make demo``: the reference agent with hooks on, /metrics served while it runs,
and a short summary at the end (iterations, tool p95, cost) with where to look next."""

from __future__ import annotations

import argparse
import time

import kaizen_perf
from benchmarks.workloads.reference_agent import run_agent
from kaizen_perf.summary import label_values, stats, total


def main(argv: list[str] | None = None) -> None:
    """Run the demo."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds to run")
    parser.add_argument("--metrics-addr", default="127.0.0.1:0")
    args = parser.parse_args(argv)
    mon = kaizen_perf.configure(agent_id="reference-agent", metrics_addr=args.metrics_addr)
    url = mon.server.url
    print(f"kaizen-perf demo: reference agent running for {args.duration:.0f} s")
    print(f"  metrics:   {url}/metrics   (try: curl -s {url}/metrics | grep kaizen_tool)")
    print(f"  health:    {url}/healthz   {url}/readyz")
    start = time.monotonic()
    state = run_agent(10**9, mon, duration_s=args.duration)
    elapsed = time.monotonic() - start
    mon.flush()
    _summary(mon, state.iteration, elapsed)
    mon.shutdown()


def _summary(mon: kaizen_perf.Monitor, iterations: int, elapsed: float) -> None:
    fams = mon.metrics.families
    with mon.pipeline.lock:
        loops = stats(fams["kaizen_agent_loop_duration_seconds"])
        tools = fams["kaizen_tool_duration_seconds"]
        cost = total(fams["kaizen_api_cost_usd_total"])
        errors = total(fams["kaizen_tool_calls_total"], {"status": "error"})
        rows = [(t, stats(tools, {"tool": t})) for t in label_values(tools, "tool")]
    print(f"\n{iterations} iterations in {elapsed:.1f} s "
          f"(loop p50 {loops.p50 * 1e3:.1f} ms, p95 {loops.p95 * 1e3:.1f} ms)")
    print(f"{'tool':14} {'calls':>7} {'p95 ms':>8}")
    for tool, s in rows:
        print(f"{tool:14} {s.count:7d} {s.p95 * 1e3:8.2f}")
    print(f"failed tool calls: {errors:.0f}    LLM cost: ${cost:.4f} "
          f"(${cost / elapsed * 3600:.2f}/hour)")
    print("\nNext: `kaizen-perf metrics` lists every metric; docs/getting-started.md shows "
          "the hooks; `make test` runs the test suite.")


if __name__ == "__main__":
    main()
