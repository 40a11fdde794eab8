"""The pure call state machine: handle(), the timer checks, and the state it keeps."""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Iterable, Sequence
from enum import Enum
from typing import TypeVar

import pytest

from processor.calls.event import CallEvent, ErrorKind, classify_error
from processor.calls.machine import (
    AlertKind,
    CallFinished,
    Effect,
    EmitEvent,
    RaiseAlert,
    Severity,
    alert_id,
    check_stalled,
    handle,
    is_expired,
)
from processor.calls.state import (
    ERROR_CODE_MAX_LEN,
    ERROR_CODES_CAP,
    HISTORY_CAP,
    NEW,
    RECENT_HASHES_CAP,
    CallOutcome,
    CallState,
    Node,
    fingerprint,
)
from processor.calls.tables import TABLES, Verdict
from processor.contract.enums import EVENT_STATUS, CallStatus, Direction, EventType

S = CallStatus
E = EventType

T0 = 1_760_000_000_000
CALL_ID = "0b9f6a52-3c1d-4e8f-9a7b-2d5c6e1f0a93"
PROJECT_ID = "6f1d2c3e-8a4b-4c5d-9e0f-1a2b3c4d5e6f"
_bodies = itertools.count()
T = TypeVar("T")


def make_event(
    event_type: EventType,
    *,
    at_ms: int = T0,
    call_status: CallStatus | None = None,
    errors: Sequence[str] = (),
    phases: Sequence[str] = (),
    body_hash: str | None = None,
    call_id: str = CALL_ID,
) -> CallEvent:
    """A CallEvent as the worker would build it; a fresh body unless one is given."""
    status = call_status or EVENT_STATUS.get(event_type, S.UNKNOWN)
    raw_type = "OUTBOUND_CALL_RINGING" if event_type is E.UNKNOWN else event_type.value
    return CallEvent(
        call_id=call_id,
        event_type=event_type,
        event_type_raw=raw_type,
        call_status=status,
        call_status_raw=status.value,
        has_errors=bool(errors),
        error_codes=tuple(errors),
        error_phases=tuple(phases),
        received_at_ms=at_ms,
        body_hash=body_hash or f"sha256-{next(_bodies):060d}",
        project_id=PROJECT_ID,
    )


def run(
    events: Iterable[CallEvent], state: CallState | None = None
) -> tuple[CallState, list[tuple[Effect, ...]]]:
    """Feed events in order; the final state and each event's effects."""
    outputs: list[tuple[Effect, ...]] = []
    for event in events:
        state, effects = handle(state, event)
        outputs.append(effects)
    assert state is not None
    return state, outputs


def of_type(effects: Iterable[Effect], kind: type[T]) -> list[T]:
    return [e for e in effects if isinstance(e, kind)]


def flat(outputs: Iterable[tuple[Effect, ...]]) -> list[Effect]:
    return [e for effects in outputs for e in effects]


def verdicts(outputs: Iterable[tuple[Effect, ...]]) -> list[Verdict]:
    return [of_type(effects, EmitEvent)[0].verdict for effects in outputs]


def outbound_at(node: CallStatus, *, events_before: int = 0) -> CallState:
    """An outbound call driven along the happy path up to ``node``."""
    path = [
        E.OUTBOUND_CALL_PENDING,
        E.OUTBOUND_CALL_REQUESTED,
        E.OUTBOUND_CALL_CALLING,
        E.OUTBOUND_CALL_CLOSING,
    ]
    stop = [EVENT_STATUS[e] for e in path].index(node) + 1
    state, _ = run(make_event(e, at_ms=T0 + i * 1000) for i, e in enumerate(path[:stop]))
    return state


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


def _configs() -> list[tuple[Direction, Node, bool]]:
    """Every (direction, node, finished) a call can be in, NEW and other-direction nodes too."""
    nodes: list[Node] = [NEW, *sorted(set(EVENT_STATUS.values()))]
    configs: list[tuple[Direction, Node, bool]] = [(Direction.UNKNOWN, NEW, False)]
    for direction, table in TABLES.items():
        for node in nodes:
            if node is NEW:
                configs.append((direction, node, False))
            elif node in table.outcomes:
                configs.append((direction, node, True))
            else:
                configs.extend([(direction, node, False), (direction, node, True)])
    return configs


def _config_id(config: tuple[Direction, Node, bool]) -> str:
    direction, node, finished = config
    return f"{direction}-{node or 'NEW'}-{'finished' if finished else 'open'}"


def _state_at(direction: Direction, node: Node, finished: bool) -> CallState:
    state = CallState(CALL_ID, PROJECT_ID, direction, T0, T0, status=node)
    if finished and node is not None:
        # Finished at an open node: an after-terminal event moved it there after an ERROR.
        state.outcome = TABLES[direction].outcomes.get(node, CallOutcome.ERROR)
        state.terminal_at_ms = T0
    return state


def _table_verdict(direction: Direction, node: Node, finished: bool, e: EventType) -> Verdict:
    """The verdict the tables call for, worked out from the table data alone."""
    if e is E.UNKNOWN:
        return Verdict.UNKNOWN_TYPE
    table = TABLES[e.direction if direction is Direction.UNKNOWN else direction]
    listed = (node, e) in table.transitions
    if finished:
        return Verdict.EXPECTED if listed and node in table.reopenable else Verdict.AFTER_TERMINAL
    return Verdict.EXPECTED if listed else Verdict.UNEXPECTED_TRANSITION


class TestExhaustive:
    """Every node of every direction against every event type, unknown included."""

    @pytest.mark.parametrize("event_type", list(EventType), ids=str)
    @pytest.mark.parametrize("config", _configs(), ids=_config_id)
    def test_one_emit_with_the_table_verdict(
        self, config: tuple[Direction, Node, bool], event_type: EventType
    ) -> None:
        """One EmitEvent whose verdict the table predicts; the event is applied, never dropped."""
        direction, node, finished = config
        state = _state_at(direction, node, finished)
        outcome_before = state.outcome

        new_state, effects = handle(state, make_event(event_type, at_ms=T0 + 5))

        emits = of_type(effects, EmitEvent)
        assert len(emits) == 1
        emit = emits[0]
        verdict = _table_verdict(direction, node, finished, event_type)
        assert emit.verdict is verdict
        assert emit.previous_status == node
        target = node if event_type is E.UNKNOWN else EVENT_STATUS[event_type]
        assert emit.status == target
        assert new_state.status == target
        assert new_state.events_seen == 1
        assert new_state.last_seen_ms == T0 + 5
        if verdict is Verdict.AFTER_TERMINAL:
            assert new_state.outcome is outcome_before
            assert not of_type(effects, CallFinished)

    @pytest.mark.parametrize("direction", list(TABLES), ids=str)
    def test_every_table_edge_is_exercised_as_expected(self, direction: Direction) -> None:
        """The product above meets each table edge as EXPECTED exactly where it is listed."""
        table = TABLES[direction]
        expected = {
            (node, e)
            for d, node, finished in _configs()
            if d is direction
            for e in EventType
            if _table_verdict(d, node, finished, e) is Verdict.EXPECTED
        }
        assert expected == set(table.transitions)


class TestUnexpectedTransitions:
    """Transitions the graph does not list are applied and flagged, never dropped."""

    def test_call_picked_up_mid_graph(self) -> None:
        """A first event of CALLING is flagged once; the call then runs as expected."""
        _, outputs = run(
            [
                make_event(E.OUTBOUND_CALL_CALLING, at_ms=T0),
                make_event(E.OUTBOUND_CALL_CLOSING, at_ms=T0 + 1_000),
                make_event(E.OUTBOUND_CALL_COMPLETED, at_ms=T0 + 2_000),
            ]
        )
        assert verdicts(outputs) == [
            Verdict.UNEXPECTED_TRANSITION,
            Verdict.EXPECTED,
            Verdict.EXPECTED,
        ]
        (finished,) = of_type(flat(outputs), CallFinished)
        assert finished.attempts == 1
        assert finished.time_to_answer_ms is None

    def test_skip_to_terminal_still_finishes(self) -> None:
        """PENDING straight to COMPLETED is flagged but finishes the call."""
        state, outputs = run(
            [make_event(E.OUTBOUND_CALL_PENDING), make_event(E.OUTBOUND_CALL_COMPLETED)]
        )
        assert verdicts(outputs)[1] is Verdict.UNEXPECTED_TRANSITION
        assert state.outcome is CallOutcome.COMPLETED
        assert len(of_type(outputs[1], CallFinished)) == 1

    def test_other_direction_event_is_applied(self) -> None:
        """An inbound event on an outbound call moves it but keeps its direction."""
        state = outbound_at(S.REQUESTED)
        state, effects = handle(state, make_event(E.INBOUND_CALL_CALLING))
        (emit,) = of_type(effects, EmitEvent)
        assert emit.verdict is Verdict.UNEXPECTED_TRANSITION
        assert state.status is S.CALLING
        assert state.direction is Direction.OUTBOUND


class TestDuplicates:
    """The same body delivered again for a call."""

    def test_duplicate_leaves_state_untouched(self) -> None:
        """A redelivered body yields one DUPLICATE EmitEvent and changes nothing."""
        state = outbound_at(S.REQUESTED)
        event = make_event(E.OUTBOUND_CALL_CALLING, at_ms=T0 + 9_000)
        state, _ = handle(state, event)
        before = state.to_dict()

        redelivered = make_event(
            E.OUTBOUND_CALL_CALLING, at_ms=T0 + 20_000, body_hash=event.body_hash
        )
        state, effects = handle(state, redelivered)

        assert effects == (EmitEvent(Verdict.DUPLICATE, S.CALLING, S.CALLING, redelivered),)
        assert state.to_dict() == before

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


class TestAfterTerminal:
    """Events that reach a call after its outcome."""

    def test_event_after_completed_is_applied_and_flagged(self) -> None:
        """A late CLOSING after COMPLETED moves the node, keeps the outcome, no second finish."""
        state, outputs = run(
            [
                make_event(E.INBOUND_CALL_CONNECTING),
                make_event(E.INBOUND_CALL_COMPLETED),
                make_event(E.INBOUND_CALL_CLOSING),
            ]
        )
        assert verdicts(outputs)[2] is Verdict.AFTER_TERMINAL
        assert state.status is S.CLOSING
        assert state.outcome is CallOutcome.COMPLETED
        assert len(of_type(flat(outputs), CallFinished)) == 1

    def test_error_then_wrap_up(self) -> None:
        """OUTBOUND_CALL_ERROR ends the call; a later CLOSING/COMPLETED is after-terminal."""
        state = outbound_at(S.CALLING)
        state, outputs = run(
            [
                make_event(E.OUTBOUND_CALL_ERROR, call_status=S.CALLING, errors=["NETWORK_ERROR"]),
                make_event(E.OUTBOUND_CALL_CLOSING),
                make_event(E.OUTBOUND_CALL_COMPLETED),
            ],
            state,
        )
        assert verdicts(outputs) == [
            Verdict.EXPECTED,
            Verdict.AFTER_TERMINAL,
            Verdict.AFTER_TERMINAL,
        ]
        assert state.outcome is CallOutcome.ERROR
        assert state.status is S.COMPLETED
        assert [f.outcome for f in of_type(flat(outputs), CallFinished)] == [CallOutcome.ERROR]

    def test_dial_after_error_does_not_reopen(self) -> None:
        """ERROR is not reopenable: a later REQUESTED is after-terminal and no attempt."""
        state = outbound_at(S.REQUESTED)
        state, outputs = run(
            [make_event(E.OUTBOUND_CALL_ERROR), make_event(E.OUTBOUND_CALL_REQUESTED)], state
        )
        assert verdicts(outputs)[1] is Verdict.AFTER_TERMINAL
        assert state.outcome is CallOutcome.ERROR
        assert state.attempts == 1


class TestRedial:
    """Failed dials that the platform retries under the same callId."""

    def test_redial_reopens_and_finishes_again(self) -> None:
        """NO_RESPONSE, redial, BUSY, give up: three finishes, two attempts, all expected."""
        state, outputs = run(
            [
                make_event(E.OUTBOUND_CALL_PENDING, at_ms=T0),
                make_event(E.OUTBOUND_CALL_REQUESTED, at_ms=T0 + 1_000),
                make_event(E.OUTBOUND_CALL_CALLING, at_ms=T0 + 2_000),
                make_event(E.OUTBOUND_CALL_NO_RESPONSE, at_ms=T0 + 32_000),
                make_event(E.OUTBOUND_CALL_REQUESTED, at_ms=T0 + 300_000),
                make_event(E.OUTBOUND_CALL_CALLING, at_ms=T0 + 301_000),
                make_event(E.OUTBOUND_CALL_BUSY, at_ms=T0 + 302_000),
                make_event(E.OUTBOUND_CALL_MAX_ATTEMPTS_REACHED, at_ms=T0 + 303_000),
            ]
        )
        assert verdicts(outputs) == [Verdict.EXPECTED] * 8
        finishes = of_type(flat(outputs), CallFinished)
        assert [(f.outcome, f.attempts) for f in finishes] == [
            (CallOutcome.NO_RESPONSE, 1),
            (CallOutcome.BUSY, 2),
            (CallOutcome.MAX_ATTEMPTS_REACHED, 2),
        ]
        assert [f.duration_ms for f in finishes] == [32_000, 302_000, 303_000]
        assert all(f.time_to_answer_ms == 2_000 for f in finishes)
        assert state.outcome is CallOutcome.MAX_ATTEMPTS_REACHED

    def test_redial_clears_the_outcome_while_dialing(self) -> None:
        """Between the redial and its result, the call is open again."""
        state = outbound_at(S.CALLING)
        state, _ = run(
            [make_event(E.OUTBOUND_CALL_UNREACHABLE), make_event(E.OUTBOUND_CALL_PENDING)], state
        )
        assert not state.finished
        assert state.terminal_at_ms is None
        assert state.status is S.PENDING
        assert state.attempts == 1
        state, _ = handle(state, make_event(E.OUTBOUND_CALL_REQUESTED))
        assert state.attempts == 2


class TestUnknownEventType:
    """Event types the platform may add later."""

    def test_unknown_is_recorded_without_moving(self) -> None:
        """An unknown type keeps the node, counts the event and keeps the status snapshot."""
        state = outbound_at(S.CALLING)
        state, effects = handle(state, make_event(E.UNKNOWN, call_status=S.VOICEMAIL_REACHED))
        assert effects == (of_type(effects, EmitEvent)[0],)
        assert of_type(effects, EmitEvent)[0].verdict is Verdict.UNKNOWN_TYPE
        assert state.status is S.CALLING
        assert state.last_reported_status is S.VOICEMAIL_REACHED
        assert state.events_seen == 4
        assert len(state.history) == 3

    def test_unknown_first_then_known(self) -> None:
        """A call first seen through an unknown type takes its direction from the next event."""
        state, outputs = run([make_event(E.UNKNOWN), make_event(E.INBOUND_CALL_CONNECTING)])
        assert verdicts(outputs) == [Verdict.UNKNOWN_TYPE, Verdict.EXPECTED]
        assert state.direction is Direction.INBOUND

    def test_unknown_with_errors_warns(self) -> None:
        """Errors on an unknown event type are still alerted, as a warning."""
        _, effects = handle(None, make_event(E.UNKNOWN, errors=["X"]))
        (alert,) = of_type(effects, RaiseAlert)
        assert alert.severity is Severity.WARNING


class TestErrors:
    """body.errors is the only error signal."""

    def test_completed_with_errors(self) -> None:
        """COMPLETED with errors finishes as COMPLETED_WITH_ERRORS and warns once."""
        state = outbound_at(S.CLOSING)
        state, effects = handle(
            state, make_event(E.OUTBOUND_CALL_COMPLETED, errors=["NETWORK_ERROR"])
        )
        assert [type(e) for e in effects] == [EmitEvent, RaiseAlert, CallFinished]
        alert = of_type(effects, RaiseAlert)[0]
        assert alert.severity is Severity.WARNING
        assert alert.kind is AlertKind.ERRORED_EVENT
        finished = of_type(effects, CallFinished)[0]
        assert finished.outcome is CallOutcome.COMPLETED_WITH_ERRORS
        assert finished.error_count == 1
        assert state.outcome is CallOutcome.COMPLETED_WITH_ERRORS

    @pytest.mark.parametrize(
        ("setup", "event_type"),
        [
            (E.OUTBOUND_CALL_PENDING, E.OUTBOUND_CALL_ERROR),
            (E.INBOUND_CALL_CONNECTING, E.INBOUND_CALL_ERROR),
        ],
    )
    def test_error_event_with_errors_is_critical(
        self, setup: EventType, event_type: EventType
    ) -> None:
        """An *_CALL_ERROR with errors raises one critical alert carrying codes and phases."""
        state, _ = handle(None, make_event(setup))
        event = make_event(event_type, errors=["NETWORK_ERROR"], phases=["CONNECTING"])
        state, effects = handle(state, event)
        (alert,) = of_type(effects, RaiseAlert)
        assert alert.severity is Severity.CRITICAL
        assert alert.error_codes == ("NETWORK_ERROR",)
        assert alert.error_phases == ("CONNECTING",)
        assert alert.event_type is event_type
        assert alert.status is S.ERROR
        assert alert.alert_id == alert_id(CALL_ID, f"event\x00{event.body_hash}")
        assert state.outcome is CallOutcome.ERROR

    def test_error_status_without_errors_raises_no_alert(self) -> None:
        """OUTBOUND_CALL_ERROR with an empty errors array ends the call but alerts nothing."""
        state = outbound_at(S.CALLING)
        state, effects = handle(state, make_event(E.OUTBOUND_CALL_ERROR))
        assert not of_type(effects, RaiseAlert)
        assert state.outcome is CallOutcome.ERROR
        assert state.error_count == 0

    def test_error_call_status_on_other_event_is_not_an_error(self) -> None:
        """callStatus ERROR on a non-error event with no errors is just a snapshot."""
        state = outbound_at(S.CALLING)
        state, effects = handle(state, make_event(E.OUTBOUND_CALL_CLOSING, call_status=S.ERROR))
        assert not of_type(effects, RaiseAlert)
        assert state.outcome is None
        assert state.last_reported_status is S.ERROR

    def test_errors_on_an_open_call_warn_without_ending_it(self) -> None:
        """Errors on CALLING warn and are counted; the call goes on."""
        state = outbound_at(S.REQUESTED)
        state, effects = handle(state, make_event(E.OUTBOUND_CALL_CALLING, errors=["E1", "E1"]))
        assert of_type(effects, RaiseAlert)[0].severity is Severity.WARNING
        assert state.error_count == 1
        assert state.error_codes == ("E1",)
        assert not state.finished

    def test_error_codes_distinct_capped_and_cut(self) -> None:
        """Kept codes are distinct, the first ERROR_CODES_CAP, each cut to ERROR_CODE_MAX_LEN."""
        long_code = "X" * (ERROR_CODE_MAX_LEN + 10)
        codes = [long_code, *(f"CODE_{i}" for i in range(ERROR_CODES_CAP + 5))]
        state, _ = handle(None, make_event(E.OUTBOUND_CALL_PENDING, errors=codes))
        state, _ = handle(state, make_event(E.OUTBOUND_CALL_REQUESTED, errors=["LATE"]))
        assert len(state.error_codes) == ERROR_CODES_CAP
        assert state.error_codes[0] == "X" * ERROR_CODE_MAX_LEN
        assert "LATE" not in state.error_codes
        assert state.error_count == 2

    def test_alert_id_is_stable(self) -> None:
        """Reprocessing the same body on a fresh state yields the same alert id."""
        event = make_event(E.OUTBOUND_CALL_ERROR, errors=["NETWORK_ERROR"])
        _, first = handle(None, event)
        _, again = handle(None, event)
        ids = [of_type(effects, RaiseAlert)[0].alert_id for effects in (first, again)]
        assert ids[0] == ids[1]
        assert len(ids[0]) == 32
        other = make_event(E.OUTBOUND_CALL_ERROR, errors=["NETWORK_ERROR"])
        _, third = handle(None, other)
        assert of_type(third, RaiseAlert)[0].alert_id != ids[0]


class TestClassifyError:
    """classify_error: OUTBOUND_CALL_ERROR told apart by the status it carries."""

    @pytest.mark.parametrize(
        ("status", "kind"),
        [
            (S.VOICEMAIL_REACHED, ErrorKind.VOICEMAIL),
            (S.HEALTHCHECK_FAILED, ErrorKind.HEALTHCHECK),
            (S.LIMIT_REACHED, ErrorKind.LIMIT),
            (S.CONCURRENCY_LIMIT_EXCEEDED, ErrorKind.CONCURRENCY_LIMIT),
            (S.CONNECTING, ErrorKind.CONNECT_FAILURE),
            (S.CALLING, ErrorKind.IN_CALL),
            (S.ERROR, ErrorKind.GENERIC),
            (S.UNKNOWN, ErrorKind.GENERIC),
            (S.PENDING, ErrorKind.GENERIC),
        ],
    )
    def test_kind_from_carried_status(self, status: CallStatus, kind: ErrorKind) -> None:
        """Each carried status maps to its kind; anything else is GENERIC."""
        event = make_event(E.OUTBOUND_CALL_ERROR, call_status=status, errors=["E"])
        assert classify_error(event) is kind

    @pytest.mark.parametrize("status", sorted(CallStatus), ids=str)
    def test_error_with_any_status_is_accepted(self, status: CallStatus) -> None:
        """OUTBOUND_CALL_ERROR carrying any status moves to ERROR, kind on the alert."""
        state = outbound_at(S.CALLING)
        event = make_event(E.OUTBOUND_CALL_ERROR, call_status=status, errors=["E"])
        state, effects = handle(state, event)
        assert of_type(effects, EmitEvent)[0].verdict is Verdict.EXPECTED
        assert state.status is S.ERROR
        assert state.last_reported_status is status
        assert of_type(effects, RaiseAlert)[0].error_kind is classify_error(event)


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
        restored = CallState.from_dict(json.loads(json.dumps(state.to_dict())))
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
        restored = CallState.from_dict(json.loads(json.dumps(state.to_dict())))
        assert restored == state
        assert restored.history_entries() == state.history_entries()

    def test_round_trip_of_a_full_state(self) -> None:
        """Every cap reached, every optional field set: still round-trips."""
        state = full_state()
        assert CallState.from_dict(json.loads(json.dumps(state.to_dict()))) == state

    def test_round_trip_of_a_new_call(self) -> None:
        """A call known only through an unknown event type (node NEW) round-trips."""
        state, _ = handle(None, make_event(E.UNKNOWN))
        assert CallState.from_dict(json.loads(json.dumps(state.to_dict()))) == state

    @pytest.mark.parametrize(
        ("key", "value"), [("v", 99), ("f", "soon"), ("h", "packed"), ("x", 1), ("s", "NOPE")]
    )
    def test_malformed_input_is_a_value_error(self, key: str, value: object) -> None:
        """A changelog record that does not parse raises ValueError, naming the problem."""
        data = full_state().to_dict()
        data[key] = value
        with pytest.raises(ValueError, match=r"."):
            CallState.from_dict(data)

    def test_missing_key_is_a_value_error(self) -> None:
        """A record missing a field raises ValueError, not KeyError."""
        data = full_state().to_dict()
        del data["c"]
        with pytest.raises(ValueError, match="misses key"):
            CallState.from_dict(data)


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
        size = len(json.dumps(full_state().to_dict(), separators=(",", ":")))
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
