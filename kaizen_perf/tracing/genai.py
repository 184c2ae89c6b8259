"""Every OpenTelemetry GenAI semantic-convention name kaizen-perf emits, in one place.

The GenAI conventions live in their own repository, ``open-telemetry/semantic-conventions-genai``,
with no tagged release yet. kaizen-perf follows one commit of it (:data:`CONVENTIONS_COMMIT`);
the cost attributes and metric come from the proposal that adds them (:data:`COST_PROPOSAL_COMMIT`,
pull request 443), which was not yet in the registry at that commit. No other module spells a
``gen_ai.*`` name: a rename is a change here.

``OTEL_SEMCONV_STABILITY_OPT_IN`` chooses the names, as OpenTelemetry's own GenAI
instrumentations do (:class:`Conventions`, decided once when a sink is built):

- not set (or without a ``gen_ai`` value): the names kaizen-perf has emitted so far
  (``opentelemetry-semantic-conventions`` 0.66b2: ``cache_creation``,
  ``gen_ai.client.token.usage``);
- ``gen_ai_latest_experimental``: the pinned commit's names only;
- ``gen_ai_latest_experimental/dup``: both, where they differ (our extension, after ``http/dup``).

Names under ``kaizen.*`` are ours and are emitted whatever the choice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

#: the conventions followed (``gen_ai_latest_experimental``): repository and commit
CONVENTIONS_REPO: Final = "open-telemetry/semantic-conventions-genai"
CONVENTIONS_COMMIT: Final = "e9de14bafd9725937c6b0c219897260074a2896c"
#: ``gen_ai.usage.cost.*`` and ``gen_ai.client.operation.cost``: the head of the proposal (PR 443)
COST_PROPOSAL_COMMIT: Final = "972e9e2a2a58baea4b1f68257d922265e7b1ce27"
#: what the default names follow
LEGACY_CONVENTIONS: Final = "opentelemetry-semantic-conventions 0.66b2"

# -- operations (gen_ai.operation.name) and span names -----------------------------------
OP_INVOKE_AGENT: Final = "invoke_agent"
OP_EXECUTE_TOOL: Final = "execute_tool"
OP_CHAT: Final = "chat"

# -- span attributes (the same in both versions) ------------------------------------------
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
#: ``provider`` (the provider reported the cost) or ``local`` (computed from a price)
USAGE_COST_SOURCE: Final = "gen_ai.usage.cost.source"
ERROR_TYPE: Final = "error.type"
TOKEN_TYPE: Final = "gen_ai.token.type"
TOKEN_TYPE_INPUT: Final = "input"
TOKEN_TYPE_OUTPUT: Final = "output"

# -- names that differ: default (0.66b2) ---------------------------------------------------
#: called "cache write" in kaizen-perf's API and Prometheus labels
USAGE_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
METRIC_TOKEN_USAGE: Final = "gen_ai.client.token.usage"
METRIC_OPERATION_DURATION: Final = "gen_ai.client.operation.duration"

# -- names that differ: the pinned commit ----------------------------------------------------
USAGE_CACHE_WRITE_INPUT_TOKENS: Final = "gen_ai.usage.cache_write.input_tokens"
USAGE_COST_AMOUNT: Final = "gen_ai.usage.cost.amount"
USAGE_COST_CURRENCY: Final = "gen_ai.usage.cost.currency"
COST_CURRENCY_USD: Final = "USD"
RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
TOKEN_MODALITY: Final = "gen_ai.token.modality"
#: the provider does not break usage down by modality: the conventions' value for that
TOKEN_MODALITY_UNKNOWN: Final = "unknown"
METRIC_INFERENCE_DURATION: Final = "gen_ai.client.inference.duration"
METRIC_USAGE_INPUT: Final = "gen_ai.client.inference.usage.input_tokens"
METRIC_USAGE_OUTPUT: Final = "gen_ai.client.inference.usage.output_tokens"
METRIC_USAGE_CACHE_READ: Final = "gen_ai.client.inference.usage.cache_read.input_tokens"
METRIC_USAGE_CACHE_WRITE: Final = "gen_ai.client.inference.usage.cache_write.input_tokens"
METRIC_OPERATION_INPUT: Final = "gen_ai.client.inference.operation.input_tokens"
METRIC_OPERATION_OUTPUT: Final = "gen_ai.client.inference.operation.output_tokens"
METRIC_OPERATION_COST: Final = "gen_ai.client.operation.cost"

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
INTERRUPT_SOURCE: Final = "kaizen.interrupt.source"
CONTROL_KIND: Final = "kaizen.control.kind"
CONTROL_OUTCOME: Final = "kaizen.control.outcome"
TASK_TYPE: Final = "kaizen.task.type"
TASK_COMPLEXITY: Final = "kaizen.task.complexity"
SAMPLED_BECAUSE: Final = "kaizen.sampling.kept_because"

#: the conventions' advisory buckets: powers of 4 from 1 to 67,108,864 tokens
TOKEN_USAGE_BUCKETS: Final[tuple[float, ...]] = tuple(float(4**i) for i in range(14))
#: the conventions' advisory buckets: 0.01 s doubling to 81.92 s
OPERATION_DURATION_BUCKETS: Final[tuple[float, ...]] = tuple(
    round(0.01 * 2**i, 2) for i in range(14))

OPT_IN_VAR: Final = "OTEL_SEMCONV_STABILITY_OPT_IN"
OPT_IN_LATEST: Final = "gen_ai_latest_experimental"
OPT_IN_DUP: Final = "gen_ai_latest_experimental/dup"


@dataclass(frozen=True)
class Conventions:
    """Which GenAI names to emit, decided once (``OTEL_SEMCONV_STABILITY_OPT_IN``).

    ``legacy`` emits the default (0.66b2) names, ``latest`` the pinned commit's; both are
    true under ``gen_ai_latest_experimental/dup``. Builders read the precomputed fields
    below, so a span or metric point pays no branching on the mode beyond one ``if``.
    """

    legacy: bool = True
    latest: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Conventions:
        """The choice ``OTEL_SEMCONV_STABILITY_OPT_IN`` makes (a comma-separated list, as in
        opentelemetry-python-contrib, where ``/dup`` wins over the plain value)."""
        values = {v.strip() for v in environ.get(OPT_IN_VAR, "").split(",")}
        if OPT_IN_DUP in values:
            return cls(legacy=True, latest=True)
        if OPT_IN_LATEST in values:
            return cls(legacy=False, latest=True)
        return cls()

    @property
    def cache_write_keys(self) -> tuple[str, ...]:
        """The cache-write token attribute(s): ``cache_creation`` became ``cache_write``."""
        return ((USAGE_CACHE_CREATION_INPUT_TOKENS,) if self.legacy else ()) + (
            (USAGE_CACHE_WRITE_INPUT_TOKENS,) if self.latest else ())

    @property
    def name(self) -> str:
        """``default``, ``latest`` or ``dup`` (for docs, logs and tests)."""
        return "dup" if self.legacy and self.latest else "latest" if self.latest else "default"


DEFAULT: Final = Conventions()


def input_tokens(uncached: int, cache_read: int, cache_write: int) -> int:
    """``gen_ai.usage.input_tokens``: every input token, cached or not.

    kaizen-perf's ``input_tokens`` are the provider's uncached tokens (Anthropic's
    own ``input_tokens`` exclude cache reads and writes), whereas the conventions
    count all input tokens, so the three are summed.
    """
    return uncached + cache_read + cache_write
