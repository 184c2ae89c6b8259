"""Bounded sliding windows for the alert evaluators: memory bounded by key count, not by rate.

Two shapes: :class:`SlicedWindow` sums per-key count vectors over ``SLICES`` time
slices (latency buckets, error counts), so a window costs a few dicts whatever
the event rate; :class:`Samples` keeps timestamped readings (memory, counters)
thinned to about 100 per window. Both cap their keys at ``MAX_KEYS``, because
label values (tools, models) come from agent code and are unbounded.
"""

from __future__ import annotations

from collections import deque

from kaizen_perf.metrics import OVERFLOW

#: label values of one series (agent, tool…), in the order of the rule's metric labels
Key = tuple[str, ...]
#: a tenth of the window per slice: the window edge is exact to 10 %, memory is 12 dicts
SLICES = 10
MAX_KEYS = 1000


class SlicedWindow:
    """Per-key vectors of counts summed over a sliding window of ``SLICES`` time slices."""

    def __init__(self, window_s: float, width: int) -> None:
        self.window_ns = int(window_s * 1e9)
        self._slice_ns = max(1, self.window_ns // SLICES)
        self._width = width
        self._slices: deque[tuple[int, dict[Key, list[int]]]] = deque()

    def add(self, t_ns: int, key: Key, index: int, amount: int = 1) -> None:
        """Count ``amount`` at position ``index`` of ``key``'s vector at time ``t_ns``."""
        idx = t_ns // self._slice_ns
        slices = self._slices
        if not slices or slices[-1][0] < idx:
            slices.append((idx, {}))
            if len(slices) > SLICES + 2:
                slices.popleft()
        last_idx, counts = slices[-1]
        if last_idx != idx:  # a late event (another thread's clock read): its own slice
            counts = next((c for i, c in reversed(slices) if i <= idx), slices[0][1])
        vec = counts.get(key)
        if vec is None:
            if len(counts) >= MAX_KEYS:  # cardinality bound: fold like the metric families
                key = tuple(OVERFLOW for _ in key)
            vec = counts.setdefault(key, [0] * self._width)
        vec[index] += amount

    def totals(self, now_ns: int) -> dict[Key, list[int]]:
        """Sum of every key's vector over the slices inside the window ending at ``now_ns``."""
        first = (now_ns - self.window_ns) // self._slice_ns + 1
        while self._slices and self._slices[0][0] < first:
            self._slices.popleft()
        out: dict[Key, list[int]] = {}
        for _, counts in self._slices:
            for key, vec in counts.items():
                acc = out.setdefault(key, [0] * self._width)
                for i, n in enumerate(vec):
                    acc[i] += n
        return out


class Samples:
    """Timestamped readings per key, thinned to about 100 per window."""

    def __init__(self, window_s: float, *, counter: bool = False) -> None:
        self.window_ns = int(window_s * 1e9)
        self._step = self.window_ns // 100
        self._counter = counter
        self.series: dict[Key, deque[tuple[int, float]]] = {}

    def add(self, key: Key, t_ns: int, value: float) -> None:
        samples = self.series.get(key)
        if samples is None:
            if len(self.series) >= MAX_KEYS:
                return
            samples = self.series[key] = deque()
        if samples and value < samples[-1][1] and self._counter:
            samples.clear()  # a counter went down: it was reset (a fork), start again
        if samples and t_ns - samples[-1][0] < self._step and len(samples) > 1:
            samples[-1] = (t_ns, value)  # thin: replace the newest instead of appending
        else:
            samples.append((t_ns, value))
        # keep one reading at or before the window start: the baseline of the increase
        while len(samples) > 1 and samples[1][0] <= t_ns - self.window_ns:
            samples.popleft()
