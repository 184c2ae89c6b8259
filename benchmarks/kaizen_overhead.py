"""What kaizen-perf adds to a real Kaizen agent: per tool call, per hook event, per run.

``python -m benchmarks.kaizen_overhead [--pairs 15] [--calls 2000] [--runs 3] [--run-pairs 31]
[--llm-calls 200]``

1. **Tool call**: a real Kaizen tool call, ``await agent.execute_tool(...)`` of a
   ``BaseAgent`` subclass (what ``MultiCycleStrategy`` calls), ``--calls`` per
   sample, with and without ``kaizen_perf.integrations.kaizen.instrument()``
   (into the process-wide monitor, as under ``kaizen-perf run``). Each pair
   takes both samples in a random order; a fresh agent per sample. Reports the
   median over pairs of the added wall time per call (the agent's thread) and of
   the added process CPU per call (the dispatcher's aggregation included), with
   a sign-test 95 % interval.
2. **Hook or wrapper**: the alternative to wrapping is registering a Kaizen hook.
   For an agent that had hooks off, that means a ``HookManager`` whose sync bridge
   (``kaizen.core.agent_loop._trigger_hook_sync``) runs ``asyncio.run`` per event.
   Measured per event with one no-op handler, against hooks off.
3. **LLM call**: kaizen-perf's own work per call without the network (tracker,
   raw-usage read, record); then ``LlmClient.complete`` to the fake provider
   (below), process CPU per call added, paired as above.
4. **Agent run**: a ``MultiCycleStrategy`` agent (one calculator tool call, two
   LLM requests) against an OpenAI-compatible server on 127.0.0.1 in another
   process, ``--runs`` runs per sample, instrumented or not, ``--run-pairs`` pairs
   in random order. Reports the median ratio of wall time and of process CPU
   (the agent's process: Kaizen, our hooks and dispatcher) with their intervals.

The same agent runs and LLM calls counted in instructions (callgrind), which hardly
move with the machine's load: ``python -m benchmarks.kaizen_instructions``.

Targets (issue "Real Kaizen agents"): <= 50 us per tool call, <= 1 % per run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "gpt-4o-mini"
TURNS = (json.dumps({"action": "tool_use", "action_input": {
             "tool_name": "calculator", "params": {"expression": "5*7"}}}),
         json.dumps({"answer": "35", "done": True}))


def serve() -> None:
    """The fake provider (``--serve``): answers the two turns in a cycle, prints its URL."""
    turn = [0]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms stall

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            text, turn[0] = TURNS[turn[0] % 2], turn[0] + 1
            body = json.dumps({
                "id": "c", "object": "chat.completion", "created": 0, "model": MODEL,
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": 120, "completion_tokens": 12,
                          "prompt_tokens_details": {"cached_tokens": 64}}}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            """Quiet."""

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"http://localhost:{httpd.server_address[1]}", flush=True)
    httpd.serve_forever()


def make_agent(url: str = "http://localhost:1") -> Any:
    from kaizen.core.base_agent import BaseAgent
    from kaizen.core.config import BaseAgentConfig
    from kaizen.signatures import InputField, OutputField, Signature
    from kaizen.strategies.multi_cycle import MultiCycleStrategy
    from kaizen.tools.types import ToolResult

    class Question(Signature):
        """Answer."""

        question: str = InputField(desc="Question")
        answer: str = OutputField(desc="Answer")

    class Calc(BaseAgent):
        async def execute_tool(self, tool_name: str, params: dict[str, Any],
                               timeout: float | None = None) -> ToolResult:
            return ToolResult(tool_name=tool_name, success=True, result=35)

    config = BaseAgentConfig(llm_provider="openai", model=MODEL, base_url=url, api_key="sk-x")
    return Calc(config=config, signature=Question(), strategy=MultiCycleStrategy(max_cycles=3),
                mcp_servers=[], agent_id="bench-agent")


def toggle(on: bool) -> None:
    from kaizen_perf.integrations import kaizen as kp_kaizen
    if on:
        kp_kaizen.instrument()
    else:
        kp_kaizen.uninstrument()


def tool_sample(on: bool, calls: int) -> tuple[float, float]:
    """Wall and process CPU seconds of ``calls`` tool calls."""
    toggle(on)
    agent = make_agent()

    async def many() -> tuple[float, float]:
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(calls):
            await agent.execute_tool("calculator", {"expression": "5*7"})
        return time.perf_counter() - t0, time.process_time() - c0

    wall, cpu = asyncio.run(many())
    if on:
        import kaizen_perf
        t0 = time.process_time()
        kaizen_perf.get_monitor().flush()  # the dispatcher's share of this sample, now
        cpu += time.process_time() - t0
    return wall, cpu


def llm_sample(on: bool, calls: int, url: str) -> float:
    """Process CPU seconds of ``calls`` ``LlmClient.complete`` calls to the fake provider."""
    from kaizen.llm.client import LlmClient
    from kaizen.llm.deployment_resolver import resolve_deployment_for

    import kaizen_perf

    toggle(on)
    deployment = resolve_deployment_for("openai", MODEL, api_key="sk-x", base_url=url)

    async def many() -> None:
        async with LlmClient.from_deployment(deployment) as client:
            for _ in range(calls):
                await client.complete([{"role": "user", "content": "hi"}], model=MODEL)

    c0 = time.process_time()
    asyncio.run(many())
    kaizen_perf.get_monitor().flush()
    return time.process_time() - c0


def llm_record_cost(calls: int) -> tuple[float, float]:
    """kaizen-perf's own work per LLM call, without the network: the tracker, the raw-usage
    read and the record (agent thread; process CPU with the dispatcher's aggregation)."""
    from kaizen.llm.client import LlmClient
    from kaizen.llm.deployment_resolver import resolve_deployment_for

    import kaizen_perf
    from kaizen_perf.integrations.kaizen._llm import Call

    toggle(True)
    client = LlmClient.from_deployment(resolve_deployment_for(
        "openai", MODEL, api_key="sk-x", base_url="http://localhost:1"))
    raw = {"model": MODEL, "choices": [{"index": 0, "finish_reason": "stop",
                                        "message": {"role": "assistant", "content": "x"}}],
           "usage": {"prompt_tokens": 120, "completion_tokens": 12,
                     "prompt_tokens_details": {"cached_tokens": 64}}}
    parsed = {"text": "x", "usage": {}, "stop_reason": "stop", "model": MODEL}
    mon = kaizen_perf.get_monitor()
    mon.flush()
    t0, c0 = time.thread_time(), time.process_time()
    for _ in range(calls):
        call = Call(client, MODEL, False)
        call.parsed(raw, parsed)
        call.finish(None)
    agent = time.thread_time() - t0
    mon.flush()
    return agent / calls, (time.process_time() - c0) / calls


def hook_bridge(events: int) -> tuple[float, float]:
    """Seconds per event of Kaizen's sync hook bridge: hooks off, then one no-op handler."""
    from kaizen.core.agent_loop import _trigger_hook_sync
    from kaizen.core.autonomy.hooks.manager import HookManager
    from kaizen.core.autonomy.hooks.types import HookEvent, HookResult

    async def noop(context: Any) -> HookResult:
        return HookResult(success=True)

    manager = HookManager()
    manager.register(HookEvent.PRE_TOOL_USE, noop)
    out = []
    for hooks in (None, manager):
        t0 = time.perf_counter()
        for _ in range(events):
            _trigger_hook_sync(hooks, HookEvent.PRE_TOOL_USE, "a", {"tool_name": "calculator"})
        out.append((time.perf_counter() - t0) / events)
    return out[0], out[1]


def run_sample(on: bool, runs: int, url: str) -> tuple[float, float]:
    """Wall and process CPU seconds of ``runs`` agent runs (the provider is another process)."""
    import kaizen_perf

    toggle(on)
    agent = make_agent(url)
    t0, c0 = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):  # MultiCycleStrategy prints each step
        for _ in range(runs):
            result = agent.run(question="What is 5*7?")
    kaizen_perf.get_monitor().flush()  # the dispatcher's share of this sample, now
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if result.get("answer") != "35":
        raise SystemExit(f"the agent did not finish its run: {result}")
    return wall, cpu


T = Any


def paired(sample: Callable[[bool], T], pairs: int) -> list[tuple[T, T]]:
    """(off, on) per pair, the two samples in a random order."""
    out = []
    for _ in range(pairs):
        order = random.sample((False, True), 2)
        got = {on: sample(on) for on in order}
        out.append((got[False], got[True]))
    return out


def interval(values: list[float]) -> tuple[float, float, float]:
    """Median and its sign-test 95 % interval (order statistics)."""
    from kaizen_perf.regression.stats import sign_test_rank

    d = sorted(values)
    k = sign_test_rank(len(d))
    low, high = (d[k - 1], d[len(d) - k]) if k else (float("-inf"), float("inf"))
    return statistics.median(d), low, high


def kaizen_perf_configure() -> None:
    import kaizen_perf
    kaizen_perf.configure("bench")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=15)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--run-pairs", type=int, default=31)
    parser.add_argument("--llm-calls", type=int, default=200)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve()
        return
    from benchmarks.parity._fake_llm import allow_loopback

    allow_loopback()
    kaizen_perf_configure()
    make_agent()  # import Kaizen before any sample

    tools = paired(lambda on: tool_sample(on, args.calls)[0], args.pairs)
    us = interval([(on - off) / args.calls * 1e6 for off, on in tools])
    print(f"tool call, wall added: {us[0]:.2f} us/call (95 % CI {us[1]:.2f}..{us[2]:.2f}); "
          f"off {statistics.median(o for o, _ in tools) / args.calls * 1e6:.1f} us/call")
    cpu = paired(lambda on: tool_sample(on, args.calls)[1], args.pairs)
    cus = interval([(on - off) / args.calls * 1e6 for off, on in cpu])
    print(f"tool call, process CPU added (dispatcher included): {cus[0]:.2f} us/call "
          f"(95 % CI {cus[1]:.2f}..{cus[2]:.2f})")
    agent_s, process_s = llm_record_cost(min(args.calls, 5000))
    print(f"LLM call, kaizen-perf's own work: {agent_s * 1e6:.2f} us on the agent's thread, "
          f"{process_s * 1e6:.2f} us of process CPU with the dispatcher")
    off, hooked = hook_bridge(max(200, args.calls // 10))
    print(f"Kaizen sync hook bridge per event: hooks off {off * 1e6:.2f} us, "
          f"one no-op hook {hooked * 1e6:.0f} us")

    server = subprocess.Popen([sys.executable, "-m", "benchmarks.kaizen_overhead", "--serve"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        llm = paired(lambda on: llm_sample(on, args.llm_calls, url), args.pairs)
        lus = interval([(on - off) / args.llm_calls * 1e6 for off, on in llm])
        print(f"LLM call (LlmClient.complete), process CPU added: {lus[0]:.2f} us/call "
              f"(95 % CI {lus[1]:.2f}..{lus[2]:.2f}); off "
              f"{statistics.median(o for o, _ in llm) / args.llm_calls * 1e6:.0f} us/call")
        run_sample(False, 1, url)  # warm: first-run imports and MCP-free workflow build
        runs = paired(lambda on: run_sample(on, args.runs, url), args.run_pairs)
    finally:
        server.kill()
        server.wait()
    for name, i in (("wall", 0), ("process CPU", 1)):
        ratio = interval([on[i] / off[i] - 1 for off, on in runs])
        per_run = statistics.median(off[i] for off, _ in runs) / args.runs * 1e3
        print(f"agent run, {name}: {ratio[0] * 100:+.2f} % (95 % CI {ratio[1] * 100:+.2f}.."
              f"{ratio[2] * 100:+.2f} %), off {per_run:.1f} ms/run")
    toggle(False)


if __name__ == "__main__":
    main()
