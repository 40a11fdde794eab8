"""The call store of one partition: what the sweep walks and what the active-calls gauge shows.

Calls are driven through the real state machine, as the partition worker does
(look up, ``handle``, ``put``), so the store is checked with the states it gets.
"""

from __future__ import annotations

from processor.calls import CallState, handle
from processor.worker.store import CallStore, status_key
from tests.unit.calls.events import T0, E, make_event


def deliver(store: CallStore, call_id: str, event_type: E, at_ms: int = T0) -> CallState:
    """Apply one event to a call as the partition worker does; the call's new state."""
    before = store.get(call_id)
    before_key = status_key(before) if before is not None else None
    state, _ = handle(before, make_event(event_type, call_id=call_id, at_ms=at_ms))
    store.put(state, before, before_key)
    return state


def open_calls(store: CallStore) -> dict[str, int]:
    """The active-calls gauge as the worker exports it: statuses with at least one call."""
    return {status: n for status, n in store.open_by_status.items() if n}


class TestCallStore:
    def test_a_new_call_is_stored_and_counted_open(self) -> None:
        """The first event of a call stores it and counts it under its status."""
        store = CallStore()
        state = deliver(store, "c-1", E.OUTBOUND_CALL_PENDING)
        assert len(store) == 1
        assert store.get("c-1") is state
        assert open_calls(store) == {"PENDING": 1}

    def test_a_status_change_moves_the_call_between_counts(self) -> None:
        """PENDING -> REQUESTED: the gauge shows the call once, under its new status."""
        store = CallStore()
        deliver(store, "c-1", E.OUTBOUND_CALL_PENDING)
        deliver(store, "c-2", E.OUTBOUND_CALL_PENDING)
        deliver(store, "c-1", E.OUTBOUND_CALL_REQUESTED)
        assert open_calls(store) == {"PENDING": 1, "REQUESTED": 1}

    def test_a_finished_call_is_kept_but_no_longer_open(self) -> None:
        """After COMPLETED the state stays (for late events) but leaves the active calls."""
        store = CallStore()
        for event_type in (
            E.OUTBOUND_CALL_PENDING,
            E.OUTBOUND_CALL_REQUESTED,
            E.OUTBOUND_CALL_CALLING,
            E.OUTBOUND_CALL_CLOSING,
            E.OUTBOUND_CALL_COMPLETED,
        ):
            state = deliver(store, "c-1", event_type)
        assert state.finished
        assert store.get("c-1") is state
        assert open_calls(store) == {}

    def test_oldest_first_follows_the_last_update(self) -> None:
        """A touched call moves to the end, so the stall/expiry sweep meets the oldest first."""
        store = CallStore()
        for n, call_id in enumerate(("a", "b", "c")):
            deliver(store, call_id, E.OUTBOUND_CALL_PENDING, at_ms=T0 + n)
        deliver(store, "a", E.OUTBOUND_CALL_REQUESTED, at_ms=T0 + 10)
        assert [s.call_id for s in store.oldest_first()] == ["b", "c", "a"]

    def test_remove_forgets_the_call_and_its_count(self) -> None:
        """An expired call is gone from the store and from the active calls."""
        store = CallStore()
        deliver(store, "c-1", E.OUTBOUND_CALL_PENDING)
        deliver(store, "c-2", E.OUTBOUND_CALL_PENDING)
        store.remove("c-1")
        store.remove("never-seen")
        assert store.get("c-1") is None
        assert len(store) == 1
        assert open_calls(store) == {"PENDING": 1}

    def test_restoring_a_call_twice_counts_it_once(self) -> None:
        """The changelog may hold several states of one call: restore keeps the last one
        and counts it once, under its latest status."""
        store = CallStore()
        early, _ = handle(None, make_event(E.OUTBOUND_CALL_PENDING, call_id="c-1"))
        later, _ = handle(None, make_event(E.OUTBOUND_CALL_CALLING, call_id="c-1", at_ms=T0 + 1))
        store.load(early)
        store.load(later)
        assert len(store) == 1
        assert store.get("c-1") is later
        assert open_calls(store) == {"CALLING": 1}

    def test_estimated_memory_grows_with_the_calls(self) -> None:
        """The state-bytes gauge is 0 for an empty store and grows with the number of calls."""
        store = CallStore()
        assert store.estimated_bytes() == 0
        deliver(store, "c-0", E.OUTBOUND_CALL_PENDING)
        one = store.estimated_bytes()
        for n in range(1, 100):
            deliver(store, f"c-{n}", E.OUTBOUND_CALL_PENDING)
        assert one > 0
        assert store.estimated_bytes() >= 50 * one
