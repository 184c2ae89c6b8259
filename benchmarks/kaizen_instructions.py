"""What kaizen-perf adds to a real Kaizen agent, in instructions rather than time.

``python -m benchmarks.kaizen_instructions [--pairs 4] [--runs 3]`` counts the
user-space instructions (every thread) of ``--runs`` agent runs of the agent of
:mod:`benchmarks.kaizen_overhead`, instrumented or not, with callgrind (valgrind)
counting only while the runs execute. About a minute per sample.

``--llm --llm-calls 50`` counts ``--llm-calls`` calls of ``LlmClient.complete``
instead (after 5 warm-up calls, the dispatcher's flush included): the work
kaizen-perf adds per LLM call, where the CPU-time figure of the time benchmark
carries the machine's noise.

Instruction counts hardly move with the machine's load, unlike time: pairs, in a
random order, against the same fake provider (``kaizen_overhead --serve``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import subprocess
import sys

from benchmarks.kaizen_overhead import (
    MODEL,
    interval,
    kaizen_perf_configure,
    make_agent,
    paired,
    toggle,
)


def cg_agent(url: str, on: bool, runs: int) -> None:
    """``--cg-agent``: the agent side of an instruction count (under callgrind, started with
    instrumentation off): warm up, say ``ready``, run when told, say ``done``."""
    import kaizen_perf

    toggle(on)
    agent = make_agent(url)
    with contextlib.redirect_stdout(io.StringIO()):
        for _ in range(2):
            agent.run(question="What is 5*7?")
    print("ready", flush=True)
    sys.stdin.readline()
    with contextlib.redirect_stdout(io.StringIO()):
        for _ in range(runs):
            agent.run(question="What is 5*7?")
    kaizen_perf.get_monitor().flush()
    print("done", flush=True)
    sys.stdin.readline()


def cg_llm(url: str, on: bool, calls: int) -> None:
    """``--cg-llm``: the LLM-call side of an instruction count (see :func:`cg_agent`)."""
    import gc

    import kaizen_perf

    toggle(on)

    async def many(n: int) -> None:
        from kaizen.llm.client import LlmClient
        from kaizen.llm.deployment_resolver import resolve_deployment_for

        deployment = resolve_deployment_for("openai", MODEL, api_key="sk-x", base_url=url)
        async with LlmClient.from_deployment(deployment) as client:
            for _ in range(n):
                await client.complete([{"role": "user", "content": "hi"}], model=MODEL)

    asyncio.run(many(5))
    kaizen_perf.get_monitor().flush()
    gc.collect()  # no collection owed by the warm-up falls into the count
    print("ready", flush=True)
    sys.stdin.readline()
    asyncio.run(many(calls))
    kaizen_perf.get_monitor().flush()
    print("done", flush=True)
    sys.stdin.readline()


def instructions(on: bool, runs: int, url: str, out: str, mode: str = "--cg-agent") -> int:
    """User-space instructions of ``runs`` agent runs (``--cg-llm``: LLM calls), every
    thread (the dispatcher's too), counted by callgrind only between ``ready`` and
    ``done`` (``callgrind_control -i``)."""
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
         sys.executable, "-m", "benchmarks.kaizen_instructions", mode, url,
         "1" if on else "0", str(runs)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    if not proc.stdout.readline().startswith("ready"):
        raise SystemExit("the agent under callgrind did not start")
    subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], capture_output=True,
                   check=True)
    proc.stdin.write("go\n")
    proc.stdin.flush()
    proc.stdout.readline()
    subprocess.run(["callgrind_control", "-i", "off", str(proc.pid)], capture_output=True,
                   check=True)
    proc.stdin.write("end\n")
    proc.stdin.flush()
    proc.wait()
    with open(out) as f:
        return int(next(line.split()[1] for line in f if line.startswith("totals:")))


def count_instructions(pairs: int, runs: int, mode: str = "--cg-agent") -> None:
    """Paired callgrind counts of ``runs`` agent runs (or LLM calls), instrumented or not."""
    import tempfile

    server = subprocess.Popen([sys.executable, "-m", "benchmarks.kaizen_overhead", "--serve"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as tmp:
            counted = paired(lambda on: instructions(on, runs, url, f"{tmp}/cg.{on}.out",
                                                     mode), pairs)
    finally:
        server.kill()
        server.wait()
    what = "LLM call" if mode == "--cg-llm" else "run"
    for off, on in counted:
        print(f"instructions of {runs} {what}s: {off:,} -> {on:,} ({(on / off - 1) * 100:+.3f} %, "
              f"{(on - off) / runs:,.0f} per {what})")
    added = interval([on / off - 1 for off, on in counted])
    print(f"{'LLM call' if mode == '--cg-llm' else 'agent run'}, instructions: "
          f"{added[0] * 100:+.3f} % (min-max over pairs "
          f"{min(on / off - 1 for off, on in counted) * 100:+.3f}.."
          f"{max(on / off - 1 for off, on in counted) * 100:+.3f} %)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3, help="agent runs per sample")
    parser.add_argument("--llm", action="store_true",
                        help="count LLM calls (LlmClient.complete) instead of agent runs")
    parser.add_argument("--llm-calls", type=int, default=50, help="LLM calls per sample")
    parser.add_argument("--cg-agent", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--cg-llm", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    child = args.cg_agent or args.cg_llm
    if child:  # one side of a count, started under callgrind by instructions()
        from benchmarks.parity._fake_llm import allow_loopback

        allow_loopback()
        kaizen_perf_configure()
        (cg_llm if args.cg_llm else cg_agent)(child[0], child[1] == "1", int(child[2]))
    elif args.llm:
        count_instructions(args.pairs, args.llm_calls, "--cg-llm")
    else:
        count_instructions(args.pairs, args.runs)


if __name__ == "__main__":
    main()
