"""The head-to-head workload on a real Kaizen agent, run as its own process.

``python h2h_kaizen_driver.py URL PLAN_JSON OUT_JSON``: a ``BaseAgent`` of the
installed kailash-kaizen with ``MultiCycleStrategy`` (Kaizen's tool loop: one JSON
tool action per LLM request, the last tool result carried to the next request as
an "Observation" input field) talks to the scripted OpenAI-compatible server at
URL. Its tools (Bash, Read; Write is denied) go through the agent's own
``PermissionPolicy`` (``denied_tools`` in its config) before they run, and a
PRE_TOOL_USE hook is registered on its ``HookManager``.

Kaizen 2.46.1 does not retry a failed LLM request (a 529 answer ends the cycle with
a ProviderError), so the driver retries it the way a Kaizen user has to: through
MultiCycleStrategy's ``cycle_processor`` extension point, once, after the same
0.5 s the Claude Agent SDK's CLI waits before its first retry. The same callback
sums the usage Kaizen's LLM node reports for every answered request.

What the program saw goes to OUT_JSON, timestamps in ``time.perf_counter`` seconds
(CLOCK_MONOTONIC: the same clock as the server's, in another process).
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from kailash.runtime.local import LocalRuntime
from kaizen.core.autonomy.hooks import HookManager
from kaizen.core.autonomy.hooks.types import HookContext, HookEvent, HookResult
from kaizen.core.base_agent import BaseAgent
from kaizen.core.config import BaseAgentConfig
from kaizen.llm.http_client import SafeDnsResolver
from kaizen.signatures import InputField, OutputField, Signature
from kaizen.strategies.multi_cycle import MultiCycleStrategy
from kaizen.tools.types import ToolResult

RETRY_BACKOFF_S = 0.5  # the SDK CLI's first retry delay, so wall times compare like with like
SEEN: dict[str, list[Any]] = {"hooks": [], "decisions": [], "retries": [], "usage": []}


class Task(Signature):
    """Do the task with the tools Bash and Read, one at a time; answer when done."""

    question: str = InputField(desc="Task")
    observation: str = InputField(desc="Observation")
    answer: str = OutputField(desc="Answer")


class ToolAgent(BaseAgent):
    """Bash and Read, each checked by the agent's permission policy first."""

    async def execute_tool(self, tool_name: str, params: dict[str, Any],
                           timeout: float | None = None) -> ToolResult:
        allowed, reason = self.permission_policy.check_permission(tool_name, params)
        SEEN["decisions"].append([tool_name, allowed is not False, time.perf_counter()])
        if allowed is False:
            return ToolResult(tool_name=tool_name, success=False, error=reason)
        if tool_name == "Bash":
            out = subprocess.run(["bash", "-c", params["command"]], capture_output=True,
                                 text=True, check=False).stdout
        elif tool_name == "Read":
            out = Path(params["file_path"]).read_text()
        else:
            return ToolResult(tool_name=tool_name, success=False, error="no such tool")
        return ToolResult(tool_name=tool_name, success=True, result=out.strip())


async def pre_tool_hook(context: HookContext) -> HookResult:
    """The user's PreToolUse hook: notes the call and when it ran."""
    data = context.data
    SEEN["hooks"].append([data["tool_name"], data["tool_params"], time.perf_counter()])
    return HookResult(success=True)


def cycle_with_retry(strategy: MultiCycleStrategy, agent: BaseAgent,
                     ) -> Any:
    """MultiCycleStrategy's own cycle (build, run, parse), retried once on a 529."""
    def cycle(inputs: dict[str, Any], cycle_num: int) -> dict[str, Any]:
        for attempt in range(2):
            workflow = strategy.build_workflow(agent)
            messages = strategy._create_messages_from_inputs(agent, inputs)
            with LocalRuntime() as runtime:
                raw, _ = runtime.execute(workflow.build(),
                                         parameters={"agent_exec": {"messages": messages}})
            node = raw.get("agent_exec", raw)
            if attempt == 0 and "529" in json.dumps(node.get("error", ""), default=str):
                SEEN["retries"].append(time.perf_counter())
                time.sleep(RETRY_BACKOFF_S)
                continue
            usage = (node.get("response") or {}).get("usage") or node.get("usage") or {}
            SEEN["usage"].append([usage.get("prompt_tokens", 0),
                                  usage.get("completion_tokens", 0)])
            return strategy.parse_result(raw)
        return {"error": "retried once, failed again"}
    return cycle


def main(url: str, plan: dict[str, Any]) -> dict[str, Any]:
    original = SafeDnsResolver.check_host

    def check_host(self: Any, host: str) -> None:
        # Kaizen refuses loopback peers at connect time (SSRF guard, no setting):
        # only the scripted server on this machine is let through.
        if host not in ("localhost", "127.0.0.1"):
            original(self, host)

    SafeDnsResolver.check_host = check_host  # type: ignore[method-assign]
    hooks = HookManager()
    hooks.register(HookEvent.PRE_TOOL_USE, pre_tool_hook)
    strategy = MultiCycleStrategy(max_cycles=12)
    config = BaseAgentConfig(llm_provider="openai", model="gpt-4o-mini",
                             base_url=url.replace("127.0.0.1", "localhost"),
                             api_key="sk-offline", denied_tools=set(plan["denied_tools"]))
    agent = ToolAgent(config=config, signature=Task(), strategy=strategy, mcp_servers=[],
                      agent_id="h2h-kaizen", hook_manager=hooks)
    strategy.cycle_processor_callback = cycle_with_retry(strategy, agent)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MultiCycleStrategy prints every step
        result = agent.run(question=plan["prompt"])
    return {"result_s": time.perf_counter(), "answer": result.get("answer"),
            "error": result.get("error"), **SEEN}


if __name__ == "__main__":
    doc = main(sys.argv[1], json.loads(sys.argv[2]))
    Path(sys.argv[3]).write_text(json.dumps(doc, default=str))
