"""The in-memory call store of one input partition.

A dict from callId to :class:`~processor.calls.CallState`, kept in order of
last update (a touched call moves to the end), so the sweep for stalled and
expired calls walks from the front and stops at the first recent call.
Open calls are also counted by status for the active-calls gauge.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from typing import Final

from processor.calls import NEW, NEW_NAME, CallState, Node
from processor.contract import CallStatus


class CallStore:
    """Call states of one partition."""

    __slots__ = ("_calls", "open_by_status")

    def __init__(self) -> None:
        self._calls: dict[str, CallState] = {}
        self.open_by_status: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._calls)

    def get(self, call_id: str) -> CallState | None:
        """The call's state, if known."""
        return self._calls.get(call_id)

    def put(self, state: CallState, before: CallState | None, before_key: str | None) -> None:
        """Store ``state`` as the most recently updated call.

        ``before_key`` is the status key the call had before this update
        (None for a new or finished call), for the open-calls count.
        """
        calls = self._calls
        call_id = state.call_id
        if before is not None:
            del calls[call_id]
        calls[call_id] = state
        after_key = status_key(state)
        if before_key != after_key:
            if before_key is not None:
                self.open_by_status[before_key] -= 1
            if after_key is not None:
                self.open_by_status[after_key] += 1

    def load(self, state: CallState) -> None:
        """Insert a restored state (restore order = update order)."""
        previous = self._calls.pop(state.call_id, None)
        if previous is not None and (key := status_key(previous)) is not None:
            self.open_by_status[key] -= 1
        self._calls[state.call_id] = state
        if (key := status_key(state)) is not None:
            self.open_by_status[key] += 1

    def remove(self, call_id: str) -> None:
        """Forget a call (after its tombstone is staged)."""
        state = self._calls.pop(call_id, None)
        if state is not None and (key := status_key(state)) is not None:
            self.open_by_status[key] -= 1

    def oldest_first(self) -> Iterator[CallState]:
        """Calls from least to most recently updated (do not mutate while iterating)."""
        return iter(self._calls.values())

    def estimated_bytes(self, sample: int = 64) -> int:
        """Memory held by the states, estimated from a sample's shallow sizes."""
        if not self._calls:
            return 0
        sizes = [_state_size(s) for _, s in zip(range(sample), self._calls.values(), strict=False)]
        per_call = sum(sizes) / len(sizes) + 100  # + the dict slot and the key string
        return int(per_call * len(self._calls))


_STATUS_KEYS: Final[dict[Node, str]] = {NEW: NEW_NAME, **{s: s.value for s in CallStatus}}


def status_key(state: CallState) -> str | None:
    """The open-calls gauge label of a call, None once it finished."""
    if state.outcome is not None:
        return None
    return _STATUS_KEYS[state.status]


def _state_size(state: CallState) -> int:
    size = sys.getsizeof(state)
    for name in ("history", "error_codes", "recent_hashes", "call_id"):
        size += sys.getsizeof(getattr(state, name))
    return size
