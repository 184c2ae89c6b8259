"""The optional ``@benchmark`` decorator for ``bench_*`` functions (stdlib only).

Every function named ``bench_*`` in a suite file is a benchmark without it; the
decorator only adds metadata. It stores a plain dict on the function, so a suite
file may set ``fn.__kaizen_bench__ = {...}`` itself and need no kaizen-perf
import at all (useful when an old git ref of the project is the baseline).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

BENCH_ATTR = "__kaizen_bench__"
#: Units whose value is the function's return value instead of its run time.
VALUE_UNITS = ("bytes", "count", "ms", "%", "msg/s", "ops/s")
DIRECTIONS = ("lower", "higher")
#: What a timed sample measures; "auto" (the default) lets the engine choose per benchmark.
MEASURES = ("auto", "wall", "cpu", "instructions")

F = TypeVar("F", bound=Callable[..., Any])


def benchmark(*, unit: str = "s", direction: str = "lower", gate: float | None = None,
              setup: Callable[[], object] | None = None,
              pairs_per_round: int | None = None, ops: int = 1,
              measure: str = "auto") -> Callable[[F], F]:
    """Attach metadata to a ``bench_*`` function.

    ``unit`` "s" times the call; "bytes"/"count" use its return value instead.
    ``direction`` says whether lower or higher is better; ``gate`` overrides the
    practical gate (a fraction, 0.03 = 3 %); ``setup`` runs once per worker
    process before the first sample; ``pairs_per_round`` lowers the pairs per
    worker pair for slow benchmarks; ``ops`` is how many operations one call
    performs, so times are reported per operation. ``measure`` is what a timed
    sample measures: "wall" time (where waiting is the point), process "cpu" time
    (every thread; steady under load), callgrind "instructions" (CPU-bound
    micro-benchmarks; repeat almost exactly), or "auto" to let the engine choose.
    """
    if unit != "s" and unit not in VALUE_UNITS:
        msg = f"Benchmark unit {unit!r} is not supported. Use 's' or one of {VALUE_UNITS}."
        raise ValueError(msg)
    if direction not in DIRECTIONS:
        msg = f"Benchmark direction {direction!r} is not supported. Use 'lower' or 'higher'."
        raise ValueError(msg)
    if ops < 1:
        msg = f"Benchmark ops {ops!r} must be a positive count of operations per call."
        raise ValueError(msg)
    if measure not in MEASURES:
        msg = f"Benchmark measure {measure!r} is not supported. Use one of {MEASURES}."
        raise ValueError(msg)
    if gate is not None and not 0 < gate < 1:
        msg = f"Benchmark gate {gate!r} is not a fraction in (0, 1); write 3 % as 0.03."
        raise ValueError(msg)

    def mark(fn: F) -> F:
        setattr(fn, BENCH_ATTR, {"unit": unit, "direction": direction, "gate": gate,
                                 "setup": setup, "pairs_per_round": pairs_per_round, "ops": ops,
                                 "measure": None if measure == "auto" else measure})
        return fn

    return mark
