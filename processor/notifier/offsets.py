"""Which alert offsets the notifier may commit: never past an alert still in flight.

notifier: consume -> grouping -> sinks, then **offsets** -> commit. Alerts of one
partition finish out of order (a group waits, a sink retries), so the commit is the
lowest offset still in flight, or one past the last read when none is. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable


class OffsetTracker:
    """Per partition, the offset that may be committed: below every alert still in flight."""

    def __init__(self) -> None:
        self._pending: dict[int, set[int]] = {}
        self._next: dict[int, int] = {}
        self._committed: dict[int, int] = {}

    def consumed(self, partition: int, offset: int) -> None:
        """An alert was read and is in flight."""
        self._pending.setdefault(partition, set()).add(offset)
        self._next[partition] = max(self._next.get(partition, 0), offset + 1)

    def done(self, partition: int, offset: int) -> None:
        """An alert is handled by every sink (delivered, failed for good, or unreadable)."""
        pending = self._pending.get(partition)
        if pending is not None:
            pending.discard(offset)

    def committable(self, partitions: Iterable[int] | None = None) -> dict[int, int]:
        """Offsets to commit that moved since the last commit."""
        offsets: dict[int, int] = {}
        for partition in self._next if partitions is None else partitions:
            if partition not in self._next:
                continue
            pending = self._pending.get(partition)
            offset = min(pending) if pending else self._next[partition]
            if self._committed.get(partition) != offset:
                offsets[partition] = offset
        return offsets

    def committed(self, offsets: dict[int, int]) -> None:
        """Record a successful commit."""
        self._committed.update(offsets)

    def forget(self, partitions: Iterable[int]) -> None:
        """Drop partitions that moved to another member (they are its to commit now)."""
        for partition in partitions:
            self._pending.pop(partition, None)
            self._next.pop(partition, None)
            self._committed.pop(partition, None)
