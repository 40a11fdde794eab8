"""CallState: its changelog form and the memory it holds."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from enum import Enum

import pytest

from processor.calls.machine import handle
from processor.calls.state import (
    ERROR_CODE_MAX_LEN,
    ERROR_CODES_CAP,
    HISTORY_CAP,
    RECENT_HASHES_CAP,
    CallOutcome,
    CallState,
    fingerprint,
)
from processor.contract.enums import Direction
from processor.outputs.changelog import state_from_dict, state_to_dict
from tests.unit.calls.events import CALL_ID, PROJECT_ID, T0, E, S, make_event, outbound_at, run


def deep_size(obj: object, shared: Iterable[object] = ()) -> int:
    """sys.getsizeof summed over what ``obj`` owns; enums, small ints and ``shared`` skipped."""
    return _deep_size(obj, {id(o) for o in shared})


def _deep_size(obj: object, seen: set[int]) -> int:
    if id(obj) in seen or obj is None or isinstance(obj, (bool, Enum)):
        return 0
    if isinstance(obj, int) and -5 <= obj <= 256:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, (tuple, list)):
        size += sum(_deep_size(item, seen) for item in obj)
    elif hasattr(obj, "__slots__"):
        size += sum(_deep_size(getattr(obj, name), seen) for name in obj.__slots__)
    return size


def full_state() -> CallState:
    """A state with every cap reached and every field at its widest."""
    state = CallState(
        call_id=CALL_ID,
        project_id=PROJECT_ID,
        direction=Direction.OUTBOUND,
        first_seen_ms=T0,
        last_seen_ms=T0 + 86_400_000,
        status=S.CONCURRENCY_LIMIT_EXCEEDED,
        last_reported_status=S.CONCURRENCY_LIMIT_EXCEEDED,
        events_seen=10_000,
        error_count=10_000,
        attempts=1_000,
        started_at_ms=T0,
        answered_at_ms=T0 + 3_600_000,
        outcome=CallOutcome.COMPLETED_WITH_ERRORS,
        terminal_at_ms=T0 + 86_400_000,
        stalled_alerted=True,
    )
    for i in range(HISTORY_CAP + 3):
        state.append_history(S.CONCURRENCY_LIMIT_EXCEEDED, T0 + 86_400_000 - i)
    for i in range(RECENT_HASHES_CAP + 3):
        state.remember(fingerprint(f"body-{i}"))
    state.add_error_codes(
        tuple(f"{i:02d}".ljust(ERROR_CODE_MAX_LEN, "E") for i in range(ERROR_CODES_CAP + 3))
    )
    return state


class TestCallStateSerialization:
    """CallState.to_dict/from_dict: the changelog form."""

    def test_round_trip_through_json(self) -> None:
        """A lived-in state survives to_dict -> JSON -> from_dict unchanged."""
        state = outbound_at(S.CALLING)
        state, _ = run(
            [
                make_event(E.OUTBOUND_CALL_NO_RESPONSE, errors=["NETWORK_ERROR"]),
                make_event(E.OUTBOUND_CALL_REQUESTED),
            ],
            state,
        )
        restored = state_from_dict(json.loads(json.dumps(state_to_dict(state))))
        assert restored == state
        assert restored.history_entries() == state.history_entries()

    def test_round_trip_of_a_full_state(self) -> None:
        """Every cap reached, every optional field set: still round-trips."""
        state = full_state()
        assert state_from_dict(json.loads(json.dumps(state_to_dict(state)))) == state

    def test_round_trip_of_a_new_call(self) -> None:
        """A call known only through an unknown event type (node NEW) round-trips."""
        state, _ = handle(None, make_event(E.UNKNOWN))
        assert state_from_dict(json.loads(json.dumps(state_to_dict(state)))) == state

    @pytest.mark.parametrize(
        ("key", "value"), [("v", 99), ("f", "soon"), ("h", "packed"), ("x", 1), ("s", "NOPE")]
    )
    def test_malformed_input_is_a_value_error(self, key: str, value: object) -> None:
        """A changelog record that does not parse raises ValueError, naming the problem."""
        data = state_to_dict(full_state())
        data[key] = value
        with pytest.raises(ValueError, match=r"."):
            state_from_dict(data)

    def test_missing_key_is_a_value_error(self) -> None:
        """A record missing a field raises ValueError, not KeyError."""
        data = state_to_dict(full_state())
        del data["c"]
        with pytest.raises(ValueError, match="misses key"):
            state_from_dict(data)


class TestMemory:
    """The worker keeps ~1M states: each must stay small."""

    def test_caps_hold(self) -> None:
        """History, hashes and codes stop growing at their caps; dropped history is counted."""
        state = full_state()
        assert len(state.history) == HISTORY_CAP
        assert state.history_dropped == 3
        assert len(state.recent_hashes) == RECENT_HASHES_CAP * 8
        assert len(state.error_codes) == ERROR_CODES_CAP

    def test_full_state_json_under_1kb(self) -> None:
        """A fully populated state serialises to less than 1 KB of JSON."""
        size = len(json.dumps(state_to_dict(full_state()), separators=(",", ":")))
        print(f"full state JSON: {size} bytes")
        assert size < 1024

    def test_full_state_deep_size(self) -> None:
        """A fully populated state owns under 1.5 KB; the interned strings are shared by calls."""
        state = full_state()
        total = deep_size(state)
        owned = deep_size(state, shared=(state.project_id, *state.error_codes))
        print(f"full state deep size: {total} bytes, {owned} bytes without interned strings")
        assert owned < 1536
        assert total < 2560

    def test_active_call_deep_size_under_1kb(self) -> None:
        """A typical active call (dialing, a few events, one error) stays under 1 KB."""
        state = outbound_at(S.CALLING)
        state, _ = handle(state, make_event(E.UNKNOWN, errors=["NETWORK_ERROR"]))
        size = deep_size(state)
        print(f"active call deep size: {size} bytes (interned strings counted)")
        assert size < 1024
