"""Every OpenTelemetry GenAI semantic-convention name kaizen-perf emits, in one place.

The GenAI conventions are still moving (``gen_ai.system`` became
``gen_ai.provider.name``; cache token attributes have been renamed before), so
no other module spells a ``gen_ai.*`` name: a rename is a one-line change here.
Names follow ``opentelemetry-semantic-conventions`` 0.66b2. Names under
``kaizen.*`` are ours: the conventions have no cost attribute.
"""

from __future__ import annotations

from typing import Final

# -- operations (gen_ai.operation.name) and span names -----------------------------------
OP_INVOKE_AGENT: Final = "invoke_agent"
OP_EXECUTE_TOOL: Final = "execute_tool"
OP_CHAT: Final = "chat"

# -- span attributes -------------------------------------------------------------------
OPERATION_NAME: Final = "gen_ai.operation.name"
PROVIDER_NAME: Final = "gen_ai.provider.name"
SYSTEM_DEPRECATED: Final = "gen_ai.system"
REQUEST_MODEL: Final = "gen_ai.request.model"
RESPONSE_MODEL: Final = "gen_ai.response.model"
AGENT_NAME: Final = "gen_ai.agent.name"
AGENT_ID: Final = "gen_ai.agent.id"
CONVERSATION_ID: Final = "gen_ai.conversation.id"
TOOL_NAME: Final = "gen_ai.tool.name"
TOOL_CALL_ID: Final = "gen_ai.tool.call.id"
USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
#: called "cache write" in kaizen-perf's API and Prometheus labels
USAGE_CACHE_WRITE_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
#: ``provider`` (the provider reported the cost) or ``local`` (computed from a price)
USAGE_COST_SOURCE: Final = "gen_ai.usage.cost.source"
ERROR_TYPE: Final = "error.type"
TOKEN_TYPE: Final = "gen_ai.token.type"
TOKEN_TYPE_INPUT: Final = "input"
TOKEN_TYPE_OUTPUT: Final = "output"

# -- our own namespace ---------------------------------------------------------------------
COST_USD: Final = "kaizen.cost.usd"
COST_UNPRICED: Final = "kaizen.cost.unpriced"
ACTIVE_TOOL: Final = "kaizen.tool"
PERMISSION_DECISION: Final = "kaizen.permission.decision"
PERMISSION_REASON: Final = "kaizen.permission.reason"
CHECKPOINT_OP: Final = "kaizen.checkpoint.op"
CHECKPOINT_SIZE: Final = "kaizen.checkpoint.size_bytes"
HOOK_NAME: Final = "kaizen.hook.name"
INTERRUPT_KIND: Final = "kaizen.interrupt.kind"
CONTROL_KIND: Final = "kaizen.control.kind"
CONTROL_OUTCOME: Final = "kaizen.control.outcome"
TASK_TYPE: Final = "kaizen.task.type"
TASK_COMPLEXITY: Final = "kaizen.task.complexity"
SAMPLED_BECAUSE: Final = "kaizen.sampling.kept_because"

# -- metrics (OTLP) ------------------------------------------------------------------------
METRIC_TOKEN_USAGE: Final = "gen_ai.client.token.usage"
METRIC_OPERATION_DURATION: Final = "gen_ai.client.operation.duration"
#: the conventions' advisory buckets: powers of 4 from 1 to 67,108,864 tokens
TOKEN_USAGE_BUCKETS: Final[tuple[float, ...]] = tuple(float(4**i) for i in range(14))
#: the conventions' advisory buckets: 0.01 s doubling to 81.92 s
OPERATION_DURATION_BUCKETS: Final[tuple[float, ...]] = tuple(
    round(0.01 * 2**i, 2) for i in range(14))


def input_tokens(uncached: int, cache_read: int, cache_write: int) -> int:
    """``gen_ai.usage.input_tokens``: every input token, cached or not.

    kaizen-perf's ``input_tokens`` are the provider's uncached tokens (Anthropic's
    own ``input_tokens`` exclude cache reads and writes), whereas the conventions
    count all input tokens, so the three are summed.
    """
    return uncached + cache_read + cache_write
