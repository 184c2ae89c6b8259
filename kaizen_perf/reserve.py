"""The documented path of :mod:`kaizen_perf.cost.reserve` (``kaizen_perf.reserve.worst_case_pico``).
"""

from __future__ import annotations

from kaizen_perf.cost.reserve import (
    BINARY_BLOCK_TOKENS,
    BYTES_PER_TOKEN,
    DEFAULT_MAX_OUTPUT,
    NOTHING,
    Reservation,
    estimate_input_tokens,
    max_output_tokens,
    reserve_call,
    worst_case_pico,
)

__all__ = ["BINARY_BLOCK_TOKENS", "BYTES_PER_TOKEN", "DEFAULT_MAX_OUTPUT", "NOTHING",
           "Reservation", "estimate_input_tokens", "max_output_tokens", "reserve_call",
           "worst_case_pico"]
