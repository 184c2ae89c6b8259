"""Reservations: a hard budget that holds mid-run, before a request leaves.

Where an integration sees a request before it is sent (the ``anthropic`` and
``openai`` clients, Kaizen's ``LlmClient``), it reserves the request's **worst
case** against every hard-stop budget that applies
(:meth:`kaizen_perf.cost.budget.BudgetTracker.reserve`):

    worst case = estimated input tokens × the model's dearest input rate
                 + ``max_tokens`` × its output rate

A budget refuses the reservation, and the integration raises
:class:`~kaizen_perf.errors.BudgetExceeded` without sending, when

    spent + reserved by calls in flight + this worst case > limit.

When the call ends, its real cost is recorded (``record_api_call`` counts it
against the budgets on the calling thread) and then the reservation is released,
so the budget never forgets a call in between. A call that fails is released
without cost. Amounts are integer pico-dollars throughout.

The input estimate (:func:`estimate_input_tokens`) is one token per 3 bytes of
UTF-8 text in the request, keys included, plus a fixed allowance per image: cheap
(no tokenizer, no extra request) and above the provider's count for ordinary text
and code. It is still an estimate: when a call uses more input than estimated,
that excess is the only way spend can pass a hard limit.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from typing import Any

from kaizen_perf.cost import ModelPrice

#: UTF-8 bytes of request text counted as one input token
BYTES_PER_TOKEN = 3
#: input tokens counted for an image or other binary block (Anthropic's cost of a
#: full-size image is about 1,600 tokens; its base64 bytes are not counted as text)
BINARY_BLOCK_TOKENS = 1_600
#: output tokens reserved when a request sets no limit (``max_tokens`` and friends)
DEFAULT_MAX_OUTPUT = 4_096
_MAX_DEPTH = 40
_BINARY_TYPES = frozenset({"image", "image_url", "input_image", "document", "input_file",
                           "input_audio", "file"})


class Reservation:
    """A worst case held against budgets until :meth:`release` (idempotent, thread-safe).

    ``pico`` is the amount held. Release it once the call's real cost has been
    recorded (or the call failed); until then it counts as spent for admission.
    """

    __slots__ = ("_lock", "_release", "pico")

    def __init__(self, pico: int, release: Callable[[int], None] | None = None) -> None:
        self.pico = pico
        self._release = release
        self._lock = threading.Lock()

    @property
    def held(self) -> bool:
        """Whether the amount still counts against the budgets."""
        return self._release is not None

    def release(self) -> None:
        """Stop holding the amount (later calls do nothing)."""
        with self._lock:
            release, self._release = self._release, None
        if release is not None:
            release(self.pico)

    def __enter__(self) -> Reservation:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


#: a reservation that holds nothing (no hard-stop budget applies, or the model is unpriced)
NOTHING = Reservation(0)


def worst_case_pico(price: ModelPrice, input_tokens: int, max_output_tokens: int) -> int:
    """The most a call of ``input_tokens`` and at most ``max_output_tokens`` can cost.

    Input is charged at the dearest input rate (a cache write costs more than plain
    input), in the long-context tier when the estimate is above its threshold.
    """
    rates = price.rates
    if price.long_context is not None and price.long_context_threshold is not None \
            and input_tokens > price.long_context_threshold:
        rates = price.long_context
    dearest = max(rates.input, rates.cache_write, rates.cache_write_1h, rates.cache_read)
    return input_tokens * dearest + max_output_tokens * rates.output


def estimate_input_tokens(*parts: object) -> int:
    """Estimated input tokens of a request's messages, system prompt, tools…

    One token per :data:`BYTES_PER_TOKEN` bytes of every string (dictionary keys
    included, so the JSON structure is counted too), rounded up, and
    :data:`BINARY_BLOCK_TOKENS` per image, document or audio block (whose base64
    data is not text). Objects such as SDK content blocks are read through
    ``model_dump()`` or their attributes.
    """
    total = 0
    for part in parts:
        if part is not None:
            total += _bytes(part, 0)
    return math.ceil(total / BYTES_PER_TOKEN)


def _text_bytes(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _bytes(obj: object, depth: int) -> int:
    if isinstance(obj, str):
        return _text_bytes(obj)
    if depth > _MAX_DEPTH or obj is None or isinstance(obj, bool | int | float):
        return 8
    if isinstance(obj, Mapping):
        if obj.get("type") in _BINARY_TYPES:
            return BINARY_BLOCK_TOKENS * BYTES_PER_TOKEN
        return sum(_text_bytes(str(k)) + _bytes(v, depth + 1) for k, v in obj.items())
    if isinstance(obj, list | tuple):
        return sum(_bytes(v, depth + 1) for v in obj)
    if isinstance(obj, bytes | bytearray):  # raw file content: counted like base64 text
        return len(obj)
    dump = getattr(obj, "model_dump", None)  # pydantic SDK objects (response content blocks)
    if callable(dump):
        try:
            return _bytes(dump(), depth + 1)
        except Exception:  # an object we cannot read: counted by its text
            return _text_bytes(str(obj))
    fields = getattr(obj, "__dict__", None)
    if isinstance(fields, dict):
        return _bytes(fields, depth + 1)
    return _text_bytes(str(obj))


def max_output_tokens(kwargs: Mapping[str, Any], *names: str) -> int:
    """The request's output limit: the first of ``names`` set to a positive int, else
    :data:`DEFAULT_MAX_OUTPUT`."""
    for name in names:
        value = kwargs.get(name)
        if type(value) is int and value > 0:
            return value
    return DEFAULT_MAX_OUTPUT


def reserve_call(monitor: Any, provider: str, model: str, input_tokens: int,
                 max_output: int) -> Reservation:
    """Reserve a request's worst case in ``monitor``'s budgets (raises ``BudgetExceeded``).

    Holds nothing when no hard-stop budget exists or no source prices ``model`` (an
    unpriced call cannot be bounded; it is counted as unpriced when it ends).
    """
    budget = getattr(monitor, "budget", None)
    if budget is None or not budget.gating:
        return NOTHING
    price = monitor.pricing.lookup(model, provider)
    if price is None:
        return NOTHING
    reservation: Reservation = budget.reserve(
        worst_case_pico(price, input_tokens, max_output), agent=monitor.agent_id)
    return reservation
