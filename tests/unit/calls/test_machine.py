"""handle(): a call's lifecycle, repeated deliveries, and the summary of a finished call."""

from __future__ import annotations

from processor.calls.machine import CallFinished, EmitEvent, RaiseAlert, handle
from processor.calls.state import NEW, RECENT_HASHES_CAP, CallOutcome, fingerprint
from processor.calls.tables import Verdict
from processor.contract.enums import Direction
from processor.outputs.changelog import state_to_dict
from tests.unit.calls.events import (
    CALL_ID,
    PROJECT_ID,
    T0,
    E,
    S,
    flat,
    make_event,
    of_type,
    outbound_at,
    run,
    verdicts,
)


class TestLifecycle:
    """Whole calls fed through handle() in delivery order."""

    def test_outbound_happy_path(self) -> None:
        """PENDING..COMPLETED: all expected, one CallFinished with durations and one attempt."""
        events = [
            make_event(E.OUTBOUND_CALL_PENDING, at_ms=T0),
            make_event(E.OUTBOUND_CALL_REQUESTED, at_ms=T0 + 1_000),
            make_event(E.OUTBOUND_CALL_CALLING, at_ms=T0 + 4_000),
            make_event(E.OUTBOUND_CALL_CLOSING, at_ms=T0 + 64_000),
            make_event(E.OUTBOUND_CALL_COMPLETED, at_ms=T0 + 65_000),
        ]
        state, outputs = run(events)

        assert verdicts(outputs) == [Verdict.EXPECTED] * 5
        assert [len(effects) for effects in outputs] == [1, 1, 1, 1, 2]
        (finished,) = of_type(flat(outputs), CallFinished)
        assert finished == CallFinished(
            call_id=CALL_ID,
            project_id=PROJECT_ID,
            direction=Direction.OUTBOUND,
            outcome=CallOutcome.COMPLETED,
            attempts=1,
            duration_ms=65_000,
            time_to_answer_ms=4_000,
            error_count=0,
            at_ms=T0 + 65_000,
        )
        assert state.status is S.COMPLETED
        assert state.outcome is CallOutcome.COMPLETED
        assert state.events_seen == 5
        assert [s for s, _ in state.history_entries()] == [
            S.PENDING,
            S.REQUESTED,
            S.CALLING,
            S.CLOSING,
            S.COMPLETED,
        ]
        assert state.history_entries()[2] == (S.CALLING, T0 + 4_000)

    def test_outbound_emits_previous_and_new_status(self) -> None:
        """Each EmitEvent carries the node before and after, starting from NEW."""
        _, outputs = run(
            [
                make_event(E.OUTBOUND_CALL_PENDING),
                make_event(E.OUTBOUND_CALL_REQUESTED),
            ]
        )
        emits = of_type(flat(outputs), EmitEvent)
        assert [(e.previous_status, e.status) for e in emits] == [
            (NEW, S.PENDING),
            (S.PENDING, S.REQUESTED),
        ]

    def test_inbound_happy_path(self) -> None:
        """CONNECTING..COMPLETED: all expected; time to answer is CALLING minus CONNECTING."""
        events = [
            make_event(E.INBOUND_CALL_CONNECTING, at_ms=T0),
            make_event(E.INBOUND_CALL_CALLING, at_ms=T0 + 2_500),
            make_event(E.INBOUND_CALL_CLOSING, at_ms=T0 + 90_000),
            make_event(E.INBOUND_CALL_COMPLETED, at_ms=T0 + 91_000),
        ]
        state, outputs = run(events)

        assert verdicts(outputs) == [Verdict.EXPECTED] * 4
        (finished,) = of_type(flat(outputs), CallFinished)
        assert finished.outcome is CallOutcome.COMPLETED
        assert finished.direction is Direction.INBOUND
        assert finished.duration_ms == 91_000
        assert finished.time_to_answer_ms == 2_500
        assert finished.attempts == 1
        assert state.status is S.COMPLETED

    def test_inbound_concurrency_limit_finishes(self) -> None:
        """An inbound call refused at arrival finishes with CONCURRENCY_LIMIT_EXCEEDED."""
        _, outputs = run(
            [
                make_event(E.INBOUND_CALL_CONNECTING, at_ms=T0),
                make_event(E.INBOUND_CALL_CONCURRENCY_LIMIT_EXCEEDED, at_ms=T0 + 10),
            ]
        )
        assert verdicts(outputs) == [Verdict.EXPECTED] * 2
        (finished,) = of_type(flat(outputs), CallFinished)
        assert finished.outcome is CallOutcome.CONCURRENCY_LIMIT_EXCEEDED
        assert finished.time_to_answer_ms is None

    def test_canceled_while_pending(self) -> None:
        """A user cancel from PENDING is expected and finishes with no attempt made."""
        _, outputs = run(
            [make_event(E.OUTBOUND_CALL_PENDING), make_event(E.OUTBOUND_CALL_CANCELED)]
        )
        assert verdicts(outputs) == [Verdict.EXPECTED] * 2
        (finished,) = of_type(flat(outputs), CallFinished)
        assert finished.outcome is CallOutcome.CANCELED
        assert finished.attempts == 0

    def test_returns_the_given_state_updated_in_place(self) -> None:
        """handle() mutates and returns the worker's state object (no copy per event)."""
        state = outbound_at(S.PENDING)
        new_state, _ = handle(state, make_event(E.OUTBOUND_CALL_REQUESTED))
        assert new_state is state
        assert state.status is S.REQUESTED


class TestDuplicates:
    """The same body delivered again for a call."""

    def test_duplicate_leaves_state_untouched(self) -> None:
        """A redelivered body yields one DUPLICATE EmitEvent and changes nothing."""
        state = outbound_at(S.REQUESTED)
        event = make_event(E.OUTBOUND_CALL_CALLING, at_ms=T0 + 9_000)
        state, _ = handle(state, event)
        before = state_to_dict(state)

        redelivered = make_event(
            E.OUTBOUND_CALL_CALLING, at_ms=T0 + 20_000, body_hash=event.body_hash
        )
        state, effects = handle(state, redelivered)

        assert effects == (EmitEvent(Verdict.DUPLICATE, S.CALLING, S.CALLING, redelivered),)
        assert state_to_dict(state) == before

    def test_duplicate_of_the_first_event(self) -> None:
        """The very first body delivered twice is caught too."""
        event = make_event(E.OUTBOUND_CALL_PENDING)
        _, outputs = run([event, event])
        assert verdicts(outputs) == [Verdict.EXPECTED, Verdict.DUPLICATE]

    def test_errored_event_twice_alerts_once(self) -> None:
        """A double-delivered error event raises exactly one alert."""
        state = outbound_at(S.CALLING)
        event = make_event(E.OUTBOUND_CALL_ERROR, call_status=S.CALLING, errors=["NETWORK_ERROR"])
        _, outputs = run([event, event], state)
        alerts = of_type(flat(outputs), RaiseAlert)
        assert len(alerts) == 1
        assert len(of_type(flat(outputs), CallFinished)) == 1
        assert verdicts(outputs) == [Verdict.EXPECTED, Verdict.DUPLICATE]

    def test_same_status_with_new_body_is_not_a_duplicate(self) -> None:
        """A repeat of an event type with different bytes is a genuine event (self-loop)."""
        state = outbound_at(S.CALLING)
        state, effects = handle(state, make_event(E.OUTBOUND_CALL_CALLING))
        assert of_type(effects, EmitEvent)[0].verdict is Verdict.UNEXPECTED_TRANSITION

    def test_window_keeps_the_last_bodies_only(self) -> None:
        """Duplicates are found among the last RECENT_HASHES_CAP bodies; older ones are not."""
        first = make_event(E.UNKNOWN)
        others = [make_event(E.UNKNOWN) for _ in range(RECENT_HASHES_CAP - 1)]
        state, _ = run([first, *others])
        assert state.has_seen(fingerprint(first.body_hash))
        state, _ = handle(state, make_event(E.UNKNOWN))
        assert not state.has_seen(fingerprint(first.body_hash))
        assert all(state.has_seen(fingerprint(e.body_hash)) for e in others)


class TestSummary:
    """CallFinished durations and time to answer."""

    def test_time_to_answer_from_requested_when_no_pending(self) -> None:
        """Without PENDING, the outbound answer clock starts at REQUESTED."""
        _, outputs = run(
            [
                make_event(E.OUTBOUND_CALL_REQUESTED, at_ms=T0),
                make_event(E.OUTBOUND_CALL_CALLING, at_ms=T0 + 1_500),
                make_event(E.OUTBOUND_CALL_NO_RESPONSE, at_ms=T0 + 31_500),
            ]
        )
        (finished,) = of_type(flat(outputs), CallFinished)
        assert finished.time_to_answer_ms == 1_500
        assert finished.duration_ms == 31_500
        assert finished.attempts == 1

    def test_never_answered(self) -> None:
        """A call that expires before ringing has no time to answer."""
        _, outputs = run([make_event(E.OUTBOUND_CALL_PENDING), make_event(E.OUTBOUND_CALL_EXPIRED)])
        (finished,) = of_type(flat(outputs), CallFinished)
        assert finished.time_to_answer_ms is None
        assert finished.outcome is CallOutcome.EXPIRED

    def test_clock_skew_never_gives_negative_durations(self) -> None:
        """A terminal event stamped before the first one (ingress skew) gives 0, not < 0."""
        state, outputs = run(
            [
                make_event(E.OUTBOUND_CALL_CALLING, at_ms=T0),
                make_event(E.OUTBOUND_CALL_BUSY, at_ms=T0 - 50),
            ]
        )
        (finished,) = of_type(flat(outputs), CallFinished)
        assert finished.duration_ms == 0
        assert state.last_seen_ms == T0
        assert state.history_entries()[-1] == (S.BUSY, T0)
