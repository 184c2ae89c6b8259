"""What in-process alerting adds to each hook event: process CPU per ``with mon.tool()``.

``python -m benchmarks.alerts_cost [--calls 200000] [--rounds 5]``

A Monitor without alerting and one with ``KAIZEN_PERF_ALERTS=1`` (the default rules),
rounds interleaved: each records ``--calls`` tool scopes, flushes (the dispatcher has
aggregated and evaluated every event) and evaluates once more; the process CPU per call
is printed for both, medians over rounds, with the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import kaizen_perf


def one(environ: dict[str, str], calls: int) -> float:
    """Process CPU µs per tool call, dispatcher included."""
    mon = kaizen_perf.Monitor("bench", environ=environ, buffer_size=1_000_000)
    tool = mon.tool
    c0 = time.process_time()
    for _ in range(calls):
        with tool("x"):
            pass
    mon.flush()
    if mon.alerts is not None:
        mon.alerts.evaluate()
    per_call = (time.process_time() - c0) / calls
    mon.shutdown()
    return per_call * 1e6


def main(argv: list[str] | None = None) -> None:
    """Measure both settings, rounds interleaved, and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    off: list[float] = []
    on: list[float] = []
    for _ in range(args.rounds):
        off.append(one({}, args.calls))
        on.append(one({"KAIZEN_PERF_ALERTS": "1"}, args.calls))
    load = os.getloadavg()
    m_off, m_on = statistics.median(off), statistics.median(on)
    print(f"process CPU per tool call: alerts off {m_off:.2f} µs, on {m_on:.2f} µs, added "
          f"{m_on - m_off:.2f} µs ({args.rounds} rounds of {args.calls:,}; load average "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
