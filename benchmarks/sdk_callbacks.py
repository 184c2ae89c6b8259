"""What kaizen-perf adds to a Claude Agent SDK callback round trip, paired and interleaved.

``python -m benchmarks.sdk_callbacks [--rounds 7] [--calls 2000] [--sessions 6] [--turns 8]``

1. **In process.** ``can_use_tool`` and a hook callback awaited as the SDK's ``Query``
   awaits them, bare and wrapped by the observer (which records the decision or the
   hook execution), in blocks of ``--calls`` whose order is shuffled every round.
   Also the observer's CPU per CLI message it reads (a content delta, which it skips,
   and the ``message_start``/``delta``/``stop`` triple of one answer).
2. **With the real CLI.** Sessions of ``--turns`` answers that each ask for a Write,
   allowed by ``can_use_tool``, with user hooks on PreToolUse, PermissionRequest and
   PostToolUse: four control round trips per turn. The scripted server measures each
   turn's dispatch, from the end of the tool_use answer to the next request. Each round
   runs one session per configuration in a random order: ``bare``; ``partial`` (bare,
   with ``include_partial_messages=True``, the stream kaizen-perf asks the CLI for);
   ``instrumented`` (:func:`instrument`). Reported: per configuration the median of
   the per-session medians, and the median and quartiles over rounds of the paired
   differences.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the scripted server lives with the tests


def in_process(rounds: int, calls: int) -> dict[str, float]:
    """Median µs per awaited callback, bare vs wrapped, and the observer's µs per message."""
    import claude_agent_sdk as sdk

    from kaizen_perf import Monitor
    from kaizen_perf.integrations.claude_agent_sdk import SdkObserver

    mon = Monitor("bench-sdk", environ={}, flush_interval_s=3600.0)
    observer = SdkObserver(mon)
    allow = sdk.PermissionResultAllow()

    async def can_use_tool(tool: str, tool_input: dict[str, Any], ctx: Any) -> Any:
        return allow

    async def hook(data: Any, tool_use_id: str | None, ctx: Any) -> dict[str, Any]:
        return {}

    pairs = {"can_use_tool": (can_use_tool, observer.wrap_can_use_tool(can_use_tool)),
             "hook": (hook, observer.wrap_hook("PreToolUse", hook))}
    ctx = sdk.ToolPermissionContext()  # no tool_use_id: every decision is recorded
    data = {"hook_event_name": "PreToolUse", "tool_name": "Write"}

    async def block(kind: str, fn: Any) -> float:
        args = ("Write", {}, ctx) if kind == "can_use_tool" else (data, "toolu_1", {})
        start = time.perf_counter()
        for _ in range(calls):
            await fn(*args)
        elapsed = (time.perf_counter() - start) / calls
        mon.pipeline.buffer.clear()
        return elapsed

    samples: dict[str, list[float]] = {f"{k}_{w}": [] for k in pairs for w in ("bare", "wrapped")}
    for _ in range(rounds):
        order = [(k, w) for k in pairs for w in ("bare", "wrapped")]
        random.shuffle(order)
        for kind, which in order:
            fn = pairs[kind][0 if which == "bare" else 1]
            samples[f"{kind}_{which}"].append(asyncio.run(block(kind, fn)))
    out = {k: statistics.median(v) * 1e6 for k, v in samples.items()}
    for kind in pairs:
        out[f"{kind}_added"] = out[f"{kind}_wrapped"] - out[f"{kind}_bare"]
    out.update(_feed_costs(observer, calls))
    mon.shutdown(2.0)
    return out


def _feed_costs(observer: Any, n: int) -> dict[str, float]:
    delta = {"type": "stream_event", "session_id": "s", "event": {
        "type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "x"}}}
    usage = {"input_tokens": 10, "output_tokens": 1, "cache_read_input_tokens": 0,
             "cache_creation_input_tokens": 0}
    start = time.thread_time()
    for _ in range(n):
        observer.feed(delta)
    per_delta = (time.thread_time() - start) / n
    start = time.thread_time()
    for i in range(n):
        observer.feed({"type": "stream_event", "session_id": "s", "event": {
            "type": "message_start", "message": {"id": f"m{i}", "model": "claude-opus-4-5",
                                                 "usage": usage}}})
        observer.feed({"type": "stream_event", "session_id": "s",
                       "event": {"type": "message_delta", "usage": {"output_tokens": 9}}})
        observer.feed({"type": "stream_event", "session_id": "s",
                       "event": {"type": "message_stop"}})
    per_call = (time.thread_time() - start) / n
    observer.monitor.pipeline.buffer.clear()
    return {"feed_content_delta_cpu": per_delta * 1e6, "feed_one_answer_cpu": per_call * 1e6}


def with_cli(sessions: int, turns: int) -> dict[str, Any]:
    """Per-turn dispatch (ms, median per session) per configuration, paired with ``bare``.

    ``partial`` is the bare SDK with ``include_partial_messages=True``: the CLI streams
    what ``instrumented`` makes it stream, without kaizen-perf, which separates the cost
    of the stream from the cost of the wrapped callbacks.
    """
    from kaizen_perf import Monitor
    from kaizen_perf.integrations import claude_agent_sdk as kp
    from tests.integrations.anthropic_sse_server import AnthropicServer

    server = AnthropicServer.start()
    mon = Monitor("bench-sdk", environ={})
    configs = ("bare", "partial", "instrumented")
    per: dict[str, list[float]] = {c: [] for c in configs}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(sessions):
                order = list(configs)
                random.shuffle(order)
                for which in order:
                    if which == "instrumented":
                        kp.instrument(mon)
                    try:
                        per[which].append(_session(server, Path(tmp), turns,
                                                   partial=which == "partial"))
                    finally:
                        kp.uninstrument()
                    mon.pipeline.buffer.clear()
    finally:
        server.stop()
        mon.shutdown(2.0)
    out: dict[str, Any] = {f"{c}_ms_median": round(statistics.median(v), 2)
                           for c, v in per.items()}
    for c in ("partial", "instrumented"):
        diffs = [x - b for x, b in zip(per[c], per["bare"], strict=True)]
        out[f"{c}_added_ms_median"] = round(statistics.median(diffs), 2)
        out[f"{c}_added_ms_quartiles"] = [round(q, 2) for q in statistics.quantiles(diffs, n=4)]
    diffs = [x - b for x, b in zip(per["instrumented"], per["partial"], strict=True)]
    out["instrumented_vs_partial_ms_median"] = round(statistics.median(diffs), 2)
    out["instrumented_vs_partial_ms_quartiles"] = [round(q, 2)
                                                   for q in statistics.quantiles(diffs, n=4)]
    return out


def _session(server: Any, tmp: Path, turns: int, *, partial: bool) -> float:
    import claude_agent_sdk as sdk

    from tests.integrations.anthropic_sse_server import Tokens as tokens
    from tests.integrations.anthropic_sse_server import text, tool_use

    work = Path(tempfile.mkdtemp(dir=tmp))
    server.reset()
    writes = [tool_use(("Write", {"file_path": str(work / f"f{i}.txt"), "content": "x"}),
                       usage=tokens(10, 5)) for i in range(turns)]
    server.script(*writes, text("done", tokens(5, 2)))

    async def allow(tool: str, tool_input: dict[str, Any], ctx: Any) -> Any:
        return sdk.PermissionResultAllow()

    async def hook(data: Any, tool_use_id: str | None, ctx: Any) -> dict[str, Any]:
        return {}

    async def prompt() -> Any:
        yield {"type": "user", "message": {"role": "user", "content": "write"}}

    async def run() -> None:
        options = sdk.ClaudeAgentOptions(
            cwd=str(work), can_use_tool=allow, include_partial_messages=partial,
            env={"ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": "sk-bench",
                 "HOME": str(tmp), "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"},
            hooks={e: [sdk.HookMatcher(hooks=[hook])]
                   for e in ("PreToolUse", "PermissionRequest", "PostToolUse")})
        async for _ in sdk.query(prompt=prompt(), options=options):
            pass

    asyncio.run(run())
    answered = [r for r in server.reset().requests if r.status == 200]
    gaps = [(b.received_s - a.answered_s) * 1e3 for a, b in itertools.pairwise(answered)]
    return statistics.median(gaps)


def main() -> None:
    """Run both measurements and print them as JSON lines."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=6)
    parser.add_argument("--turns", type=int, default=8)
    args = parser.parse_args()
    print("in process (µs per call):", json.dumps(
        {k: round(v, 2) for k, v in in_process(args.rounds, args.calls).items()}), flush=True)
    print("real CLI, dispatch per turn with 4 round trips:",
          json.dumps(with_cli(args.sessions, args.turns)))


if __name__ == "__main__":
    main()
