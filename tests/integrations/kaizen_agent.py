"""A real Kaizen program with no kaizen-perf code, for ``kaizen-perf run`` acceptance tests.

``python kaizen_agent.py URL OUT GO``: two agents talk to the fake OpenAI server at
URL. ``calc-agent`` (``MultiCycleStrategy``, 4 LLM requests) uses a calculator,
is denied ``bash`` by its permission policy and finishes; it then asks for two
approvals through a ``ControlProtocol`` (one approved, one that times out),
saves and loads a checkpoint with ``StateManager`` and records tool spend with
``BudgetEnforcer``. Its tool interrupts it gracefully once the answer is found
(``InterruptManager``); an immediate interrupt of the whole program follows.
``summary-agent`` (the default single-shot strategy) makes one request. What the
program itself saw is written as JSON to OUT; then it waits for the file GO.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # for the loopback helper only

import anyio
from kaizen.core.autonomy.control.protocol import ControlProtocol
from kaizen.core.autonomy.control.transports.memory import InMemoryTransport
from kaizen.core.autonomy.control.types import ControlRequest, ControlResponse
from kaizen.core.autonomy.interrupts.manager import InterruptManager
from kaizen.core.autonomy.interrupts.types import InterruptMode, InterruptSource
from kaizen.core.autonomy.permissions.budget_enforcer import BudgetEnforcer
from kaizen.core.autonomy.state.manager import StateManager
from kaizen.core.autonomy.state.storage import FilesystemStorage
from kaizen.core.autonomy.state.types import AgentState
from kaizen.core.base_agent import BaseAgent
from kaizen.core.config import BaseAgentConfig
from kaizen.signatures import InputField, OutputField, Signature
from kaizen.strategies.multi_cycle import MultiCycleStrategy
from kaizen.tools.types import ToolResult

from tests.integrations.kaizen_loopback import allow_loopback, local_url

MODEL = "gpt-4o-mini"


class Question(Signature):
    """Answer a question, with tools."""

    question: str = InputField(desc="Question")
    answer: str = OutputField(desc="Answer")


class CalcAgent(BaseAgent):
    """Runs a calculator; every tool goes through the agent's permission policy first."""

    interrupts: InterruptManager

    async def execute_tool(self, tool_name: str, params: dict[str, Any],
                           timeout: float | None = None) -> ToolResult:
        allowed, reason = self.permission_policy.check_permission(tool_name, params)
        if allowed is False:
            return ToolResult(tool_name=tool_name, success=False, error=reason)
        value = eval(params["expression"], {"__builtins__": {}})  # the test's own input
        if value == 35:  # the answer: stop after this step
            self.interrupts.request_interrupt(InterruptMode.GRACEFUL, InterruptSource.PROGRAMMATIC,
                                              "answer found")
        return ToolResult(tool_name=tool_name, success=True, result=value)


async def approvals(protocol: ControlProtocol, transport: InMemoryTransport,
                    agent: BaseAgent) -> list[bool]:
    """Two approval requests: the user approves ``Write`` and never answers ``Bash``."""
    async def user() -> None:
        assert transport.write_receive is not None and transport.read_send is not None
        async for message in transport.write_receive:
            request = ControlRequest.from_json(message)
            if request.data["tool_name"] == "Write":
                await transport.read_send.send(ControlResponse(
                    request_id=request.request_id, data={"approved": True}).to_json())

    async with anyio.create_task_group() as tg:
        await protocol.start(tg)
        tg.start_soon(user)
        manager, ctx = agent.approval_manager, agent.execution_context
        assert manager is not None
        decisions = [await manager.request_approval("Write", {"path": "x"}, ctx, timeout=10.0),
                     await manager.request_approval("Bash", {"command": "ls"}, ctx, timeout=0.3)]
        tg.cancel_scope.cancel()
    await protocol.stop()
    return decisions


def main(url: str, out: str, go: str) -> None:
    allow_loopback()
    base = {"llm_provider": "openai", "model": MODEL, "base_url": local_url(url),
            "api_key": "sk-test"}
    transport = InMemoryTransport()
    protocol = ControlProtocol(transport)
    calc = CalcAgent(config=BaseAgentConfig(**base, denied_tools={"bash"}, budget_limit_usd=2.0),
                     signature=Question(), strategy=MultiCycleStrategy(max_cycles=5),
                     mcp_servers=[], agent_id="calc-agent", control_protocol=protocol)
    calc.interrupts = InterruptManager()
    summary = BaseAgent(config=BaseAgentConfig(**base), signature=Question(), mcp_servers=[],
                        agent_id="summary-agent")
    with contextlib.redirect_stdout(io.StringIO()):  # MultiCycleStrategy prints every step
        answer = calc.run(question="What is (2+3)*7?")
        summarized = summary.run(question="Summarize: 35")
    decisions = asyncio.run(approvals(protocol, transport, calc))

    BudgetEnforcer.record_usage(calc.execution_context, "calculator", 0.25)
    states = StateManager(storage=FilesystemStorage(os.path.join(os.path.dirname(out), "ckpt")))
    checkpoint = asyncio.run(states.save_checkpoint(AgentState(agent_id="calc-agent",
                                                               step_number=4)))
    loaded = asyncio.run(states.load_checkpoint(checkpoint))
    calc.interrupts.request_interrupt(InterruptMode.IMMEDIATE, InterruptSource.USER,
                                      "ignored: already interrupted")
    InterruptManager().request_interrupt(InterruptMode.IMMEDIATE, InterruptSource.SIGNAL,
                                         "the whole program")  # no agent: the process's id

    size = next(Path(states.storage.base_dir).glob(f"{checkpoint}*")).stat().st_size
    Path(out).write_text(json.dumps({
        "answer": answer, "summary": summarized, "approvals": decisions,
        "checkpoint_bytes": size, "loaded_step": loaded.step_number}))
    while not os.path.exists(go):
        time.sleep(0.05)


if __name__ == "__main__":
    main(*sys.argv[1:4])
