"""Partitions waiting to restart from their last commit, with capped exponential back-off.

A partition whose transaction failed (broker away, a batch rejected) is
paused; the worker retries restarting it (new producer, state from the
changelog, position from the committed offset) when its back-off has passed,
doubling the wait after each failed attempt up to a cap.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

FIRST_RETRY_S = 0.5
MAX_RETRY_S = 10.0


@dataclass(slots=True)
class _Attempt:
    due: float
    wait_s: float


class Recovery:
    """The partitions to restart, each with the time of its next attempt."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._waiting: dict[int, _Attempt] = {}

    def __contains__(self, partition: int) -> bool:
        return partition in self._waiting

    @property
    def pending(self) -> bool:
        """Any partition waiting to restart."""
        return bool(self._waiting)

    def _now(self) -> float:
        return self._clock()

    def add(self, partition: int) -> bool:
        """Schedule a restart now; False if it was already waiting."""
        if partition in self._waiting:
            return False
        self._waiting[partition] = _Attempt(self._now(), FIRST_RETRY_S)
        return True

    def due(self) -> bool:
        """Some partition's next attempt is due."""
        now = self._now()
        return any(a.due <= now for a in self._waiting.values())

    def take_due(self) -> list[int]:
        """Partitions whose attempt is due, in order."""
        now = self._now()
        return sorted(p for p, a in self._waiting.items() if a.due <= now)

    def failed(self, partition: int) -> None:
        """The attempt failed: try again after the back-off, then wait twice as long."""
        attempt = self._waiting.get(partition)
        if attempt is None:
            return
        attempt.due = self._now() + attempt.wait_s
        attempt.wait_s = min(attempt.wait_s * 2, MAX_RETRY_S)

    def done(self, partition: int) -> None:
        """The partition restarted."""
        self._waiting.pop(partition, None)

    forget = done

    def clear(self) -> None:
        """Nothing waits any more (the worker stops)."""
        self._waiting.clear()
