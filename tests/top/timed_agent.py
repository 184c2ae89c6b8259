"""An agent with known hook timings, for comparing `top` with the report:
``python -m tests.top.timed_agent`` (under ``kaizen-perf run``).

Three loops of two tools and two priced LLM calls (one inside a tool, one asking for a
tool), then ``ready`` on stdout, then it waits for a line on stdin before exiting, so a
test can scrape /metrics while the run is still going.
"""

from __future__ import annotations

import sys

import kaizen_perf


def main() -> None:
    mon = kaizen_perf.get_monitor()
    for _ in range(3):
        with mon.agent_loop():
            with mon.tool("web_search"):
                mon.record_api_call(provider="anthropic", model="claude-sonnet-4-5",
                                    input_tokens=1200, output_tokens=300, duration_s=0.4)
            with mon.tool("read_file"):
                sum(range(20_000))
            mon.record_api_call(provider="anthropic", model="claude-haiku-4-5",
                                input_tokens=800, output_tokens=100, duration_s=0.25,
                                tool_calls=["web_search"])
    print("ready", flush=True)
    sys.stdin.readline()  # blocks without CPU until the test has scraped


if __name__ == "__main__":
    main()
