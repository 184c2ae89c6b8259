"""Samplers that take turns: one window each, in order, so only one py-spy runs at a time.

``ProfilerPair(in_turn=True)``: each kind of profile samples every other window at the
full rate, instead of all windows at its share of the rate. Measured on the reference
agent, both ways cost the same within noise (docs/profiles.md); taking turns gives each
kind full-rate windows, at the price of seeing only every other window.
"""

from __future__ import annotations

import threading


class Turns:
    """Whose window it is, among samplers that joined (a sampler that ends leaves)."""

    def __init__(self) -> None:
        self._order: list[object] = []
        self._next = 0
        self._cond = threading.Condition()

    def join(self, who: object) -> None:
        """Add a sampler; turns go in the order of joining."""
        with self._cond:
            self._order.append(who)

    def wait(self, who: object, stopping: threading.Event, poll_s: float = 0.05) -> bool:
        """Block until it is ``who``'s turn (True), or ``stopping`` is set (False)."""
        with self._cond:
            while not stopping.is_set():
                if who not in self._order or self._order[self._next % len(self._order)] is who:
                    return True
                self._cond.wait(poll_s)
        return False

    def done(self, who: object) -> None:
        """``who`` finished its window: the next sampler's turn."""
        with self._cond:
            if who in self._order and self._order[self._next % len(self._order)] is who:
                self._next += 1
            self._cond.notify_all()

    def leave(self, who: object) -> None:
        """``who`` stops sampling (stopped, or gave up): the others go on without it."""
        with self._cond:
            if who in self._order:
                gone, current = self._order.index(who), self._next % len(self._order)
                self._order.remove(who)
                # the turn stays with the sampler that had it (the next one, if it was who's)
                self._next = current - 1 if gone < current else current
                self._next = self._next % len(self._order) if self._order else 0
            self._cond.notify_all()
