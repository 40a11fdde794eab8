"""The timer checks: check_stalled and is_expired."""

from __future__ import annotations

import json

from processor.calls.machine import AlertKind, Severity, alert_id, check_stalled, handle, is_expired
from processor.outputs.changelog import state_from_dict, state_to_dict
from tests.unit.calls.events import CALL_ID, T0, E, S, make_event, outbound_at, run


class TestCheckStalled:
    """check_stalled: CALL_STALLED for open calls that went silent."""

    def test_fires_once_after_silence(self) -> None:
        """Silent for stall_after_ms: one warning alert, then never again."""
        state = outbound_at(S.CALLING)  # last event at T0 + 2_000
        assert check_stalled(state, T0 + 2_000 + 899_999, 900_000) is None
        alert = check_stalled(state, T0 + 2_000 + 900_000, 900_000)
        assert alert is not None
        assert alert.kind is AlertKind.STALLED
        assert alert.severity is Severity.WARNING
        assert alert.status is S.CALLING
        assert alert.last_seen_ms == T0 + 2_000
        assert alert.alert_id == alert_id(CALL_ID, "STALLED")
        assert state.stalled_alerted
        assert check_stalled(state, T0 + 10_000_000, 900_000) is None

    def test_not_for_finished_calls(self) -> None:
        """A finished call never stalls, however long it stays silent."""
        state = outbound_at(S.CLOSING)
        state, _ = handle(state, make_event(E.OUTBOUND_CALL_COMPLETED))
        assert check_stalled(state, T0 + 10**9, 1) is None

    def test_duplicates_do_not_count_as_activity(self) -> None:
        """A redelivered body does not reset the silence clock."""
        event = make_event(E.OUTBOUND_CALL_PENDING, at_ms=T0)
        state, _ = handle(None, event)
        late = make_event(E.OUTBOUND_CALL_PENDING, at_ms=T0 + 800_000, body_hash=event.body_hash)
        state, _ = handle(state, late)
        assert check_stalled(state, T0 + 900_000, 900_000) is not None

    def test_survives_the_changelog(self) -> None:
        """The once-only flag is part of the persisted state."""
        state = outbound_at(S.PENDING)
        assert check_stalled(state, T0 + 10**6, 1) is not None
        restored = state_from_dict(json.loads(json.dumps(state_to_dict(state))))
        assert check_stalled(restored, T0 + 10**7, 1) is None


class TestIsExpired:
    """is_expired: when the worker may forget a call."""

    def test_finished_call_expires_after_retention(self) -> None:
        """A finished call is kept retention_ms after its last event, then expires."""
        state = outbound_at(S.CLOSING)
        state, _ = handle(state, make_event(E.OUTBOUND_CALL_COMPLETED, at_ms=T0 + 5_000))
        assert not is_expired(state, T0 + 5_000 + 3_599_999, 3_600_000)
        assert is_expired(state, T0 + 5_000 + 3_600_000, 3_600_000)

    def test_late_event_extends_retention(self) -> None:
        """An after-terminal event keeps the finished call around longer."""
        state = outbound_at(S.CLOSING)
        state, _ = run(
            [
                make_event(E.OUTBOUND_CALL_COMPLETED, at_ms=T0),
                make_event(E.OUTBOUND_CALL_CLOSING, at_ms=T0 + 1_000_000),
            ],
            state,
        )
        assert not is_expired(state, T0 + 1_500_000, 1_000_000)

    def test_open_call_does_not_expire_by_default(self) -> None:
        """An open call is kept however old, unless an open retention is given."""
        state = outbound_at(S.CALLING)
        assert not is_expired(state, T0 + 10**10, 1)
        assert is_expired(state, T0 + 10**10, 1, open_retention_ms=86_400_000)
        assert not is_expired(state, T0 + 2_000 + 1_000, 1, open_retention_ms=86_400_000)
