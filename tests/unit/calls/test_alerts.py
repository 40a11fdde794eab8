"""The alerts the machine raises carry their call's context as it stood then."""

from __future__ import annotations

from processor.calls import CallEvent, RaiseAlert, check_stalled, handle
from processor.contract.enums import CallStatus, EventType

T0 = 1_780_300_000_000


def event(
    event_type: EventType, status: CallStatus, at_ms: int, *, error: bool = False
) -> CallEvent:
    """One outbound event of call c-1, with one NETWORK_ERROR if ``error``."""
    return CallEvent(
        call_id="c-1",
        event_type=event_type,
        event_type_raw=event_type.value,
        call_status=status,
        call_status_raw=status.value,
        has_errors=error,
        error_codes=("NETWORK_ERROR",) if error else (),
        error_phases=("CALLING",) if error else (),
        received_at_ms=at_ms,
        body_hash=f"{event_type.value}-{at_ms}",
        project_id="p-1",
    )


class TestAlertContext:
    """RaiseAlert.context: a snapshot, so an alert record can be built at any time."""

    def test_errored_event_context_is_the_call_as_it_stood(self) -> None:
        """Later events move the call on; the alert still tells the call at its error."""
        state, _ = handle(None, event(EventType.OUTBOUND_CALL_PENDING, CallStatus.PENDING, T0))
        state, effects = handle(
            state, event(EventType.OUTBOUND_CALL_CALLING, CallStatus.CALLING, T0 + 1000, error=True)
        )
        (alert,) = [e for e in effects if isinstance(e, RaiseAlert)]
        handle(state, event(EventType.OUTBOUND_CALL_COMPLETED, CallStatus.COMPLETED, T0 + 9000))
        assert state.outcome is not None
        context = alert.context
        assert (context.events_seen, context.error_count, context.outcome) == (2, 1, None)
        assert context.first_seen_ms == T0
        assert context.last_reported_status is CallStatus.CALLING

    def test_stalled_context_names_the_last_reported_status(self) -> None:
        """A stall alert carries the status last reported and no outcome (the call is open)."""
        state, _ = handle(None, event(EventType.OUTBOUND_CALL_CALLING, CallStatus.CALLING, T0))
        alert = check_stalled(state, T0 + 1_000_000, 900_000)
        assert alert is not None
        assert alert.context.last_reported_status is CallStatus.CALLING
        assert alert.context.outcome is None
