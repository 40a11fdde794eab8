"""handle() against the transition tables: every node and event, off-graph events, after
the outcome, redials and unknown event types."""

from __future__ import annotations

import pytest

from processor.calls.machine import CallFinished, EmitEvent, RaiseAlert, Severity, handle
from processor.calls.state import NEW, CallOutcome, CallState, Node
from processor.calls.tables import TABLES, Verdict
from processor.contract.enums import EVENT_STATUS, Direction, EventType
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
