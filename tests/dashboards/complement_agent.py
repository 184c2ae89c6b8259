"""The hooks the reference workload never calls, for the dashboards' end-to-end test.

The reference agent (benchmarks/workloads/reference_agent.py) prices every model,
makes its LLM calls outside tools, records its one task only at exit, has no
budget, never times out a control request, never interrupts immediately and has
no failing exporter. Panels for those cases would stay empty against it alone,
so this small agent exercises them, in *direct* mode (its own /metrics, from
``KAIZEN_PERF_METRICS_ADDR``): budgets are tracked in the agent's process and
their gauges are served only there.

Run: ``KAIZEN_PERF_METRICS_ADDR=127.0.0.1:PORT KAIZEN_PERF_BUDGET_USD=5
python -m tests.dashboards.complement_agent --duration 60``
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import kaizen_perf
from kaizen_perf.events import Event

UNPRICED_MODEL = "local-llama-3-8b"


class UnreachableBackend:
    """A sink whose backend refuses every delivery (counted as export errors, never raised)."""

    def handle(self, batch: Sequence[Event]) -> None:
        """Fail like an exporter whose collector is down."""
        raise ConnectionRefusedError("collector at 127.0.0.1:9 refused the connection")


def iteration(mon: kaizen_perf.Monitor, i: int) -> None:
    """One loop turn: an LLM call inside a tool, an unpriced call, a control request."""
    start = time.perf_counter()
    with mon.agent_loop():
        with mon.tool("summarize"):
            mon.record_api_call(provider="anthropic", model="claude-sonnet-4-5",
                                input_tokens=1500, output_tokens=300, cache_read_tokens=1000,
                                duration_s=0.02)
        mon.record_api_call(provider="local", model=UNPRICED_MODEL, input_tokens=400,
                            output_tokens=80, duration_s=0.01)
        mon.control_request(kind="approval", duration_s=0.05,
                            outcome="timeout" if i % 2 else "ok")
        mon.interrupt(kind="immediate")
    mon.task(task_type="summary", complexity="low", duration_s=time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    """Loop until --duration passes, about ten iterations per second."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0)
    args = parser.parse_args(argv)
    mon = kaizen_perf.configure(sinks=[UnreachableBackend()])
    deadline, i = time.monotonic() + args.duration, 0
    while time.monotonic() < deadline:
        iteration(mon, i)
        i += 1
        time.sleep(0.1)
    mon.shutdown(2.0)


if __name__ == "__main__":
    main()
