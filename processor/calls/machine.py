"""The pure call state machine: ``handle(state, event) -> (state, effects)``.

Sits between the worker's consumer and its outputs. It does no I/O: it moves
the call along its direction's table (``tables``) and returns effects that the
worker applies (emit to the call-events topic, raise an alert, record a
finished call). The timer-driven checks (:func:`check_stalled`,
:func:`is_expired`) are pure too; the worker calls them on its own clock.

``handle`` updates the given state in place and returns that same object (or
a new one for a call's first event): the worker owns the state and copying
about a million of them per second's worth of events would cost more than it
buys. Effects hold only immutable values, so they stay right after later
events mutate the state.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from processor.calls.event import CallEvent, ErrorKind, classify_error
from processor.calls.state import CallOutcome, CallState, Node, fingerprint
from processor.calls.tables import ERRORED_OUTCOMES, TABLES, Verdict
from processor.contract.enums import EVENT_STATUS, CallStatus, Direction, EventType


class AlertKind(StrEnum):
    """Why an alert was raised."""

    ERRORED_EVENT = "ERRORED_EVENT"
    STALLED = "STALLED"
    ERRORS_UNREADABLE = "ERRORS_UNREADABLE"
    """The event claimed errors but could not be read (it was dead-lettered)."""


class Severity(StrEnum):
    """Alert severity, spelled as Alertmanager expects it."""

    CRITICAL = "critical"
    WARNING = "warning"


CRITICAL_EVENT_TYPES: Final = frozenset(
    {EventType.OUTBOUND_CALL_ERROR, EventType.INBOUND_CALL_ERROR}
)
"""Errors on these are critical; errors on any other event are warnings."""


@dataclass(slots=True)
class EmitEvent:
    """Publish the event with its verdict; exactly one per handled event.

    Never changed once built; not ``frozen`` for the cost of a frozen init per
    event (see :class:`CallEvent`).
    """

    verdict: Verdict
    previous_status: Node
    status: Node
    event: CallEvent


@dataclass(frozen=True, slots=True)
class AlertContext:
    """The call as it stood when an alert was raised (the alert record's context)."""

    attempts: int
    events_seen: int
    error_count: int
    first_seen_ms: int
    outcome: CallOutcome | None
    last_reported_status: CallStatus


def alert_context(state: CallState) -> AlertContext:
    """A snapshot of ``state`` for an alert: later events do not change it."""
    return AlertContext(
        attempts=state.attempts,
        events_seen=state.events_seen,
        error_count=state.error_count,
        first_seen_ms=state.first_seen_ms,
        outcome=state.outcome,
        last_reported_status=state.last_reported_status,
    )


@dataclass(frozen=True, slots=True)
class RaiseAlert:
    """Raise an alert; ``alert_id`` is stable across redelivery and reprocessing.

    For ERRORED_EVENT, ``at_ms`` is the event's receive time and the event
    fields are set; for STALLED, ``at_ms`` is the check time and
    ``last_seen_ms`` says since when the call has been silent. ``context``
    is the call as it stood then, so the alert carries all its record needs.
    """

    kind: AlertKind
    severity: Severity
    alert_id: str
    call_id: str
    project_id: str
    direction: Direction
    status: Node
    at_ms: int
    last_seen_ms: int
    context: AlertContext
    event_type: EventType | None = None
    error_kind: ErrorKind | None = None
    error_codes: tuple[str, ...] = ()
    error_phases: tuple[str, ...] = ()


@dataclass(slots=True)
class CallFinished:
    """A call reached an outcome: the summary the metrics and outputs need.

    Never changed once built; not ``frozen`` for the cost of a frozen init
    (see :class:`CallEvent`).
    """

    call_id: str
    project_id: str
    direction: Direction
    outcome: CallOutcome
    attempts: int
    duration_ms: int
    """First seen to terminal event, by ingress receive time."""
    time_to_answer_ms: int | None
    """Start to first CALLING (see ``tables``); None if not both were seen."""
    error_count: int
    at_ms: int


Effect = EmitEvent | RaiseAlert | CallFinished


def alert_id(call_id: str, key: str) -> str:
    """A stable id (32 hex chars) for the alert about ``key`` on a call."""
    digest = hashlib.sha256(f"{call_id}\x00{key}".encode())
    return digest.hexdigest()[:32]


def handle(state: CallState | None, event: CallEvent) -> tuple[CallState, tuple[Effect, ...]]:
    """Apply one event to its call; returns the state (updated in place) and effects.

    ``state`` is None for a call's first event, else the state of
    ``event.call_id``. Effects come in this order: one :class:`EmitEvent`, then
    a :class:`RaiseAlert` if the event has errors, then a :class:`CallFinished`
    if it took the call to an outcome. A duplicate (same body already seen for
    the call) leaves the state untouched and yields only its EmitEvent.
    """
    digest = fingerprint(event.body_hash)
    if state is None:
        state = CallState(
            call_id=event.call_id,
            project_id=sys.intern(event.project_id),
            direction=event.direction,
            first_seen_ms=event.received_at_ms,
            last_seen_ms=event.received_at_ms,
        )
    elif state.has_seen(digest):
        return state, (EmitEvent(Verdict.DUPLICATE, state.status, state.status, event),)

    previous = state.status
    state.remember(digest)
    state.events_seen += 1
    state.last_seen_ms = max(state.last_seen_ms, event.received_at_ms)
    state.last_reported_status = event.call_status
    if event.has_errors:
        state.error_count += 1
        state.add_error_codes(event.error_codes)

    finished: CallFinished | None = None
    if event.event_type is EventType.UNKNOWN:
        verdict = Verdict.UNKNOWN_TYPE
    else:
        verdict, finished = _transition(state, event)

    effects: list[Effect] = [EmitEvent(verdict, previous, state.status, event)]
    if event.has_errors:
        effects.append(_errored_alert(state, event))
    if finished is not None:
        effects.append(finished)
    return state, tuple(effects)


@dataclass(frozen=True, slots=True)
class _Step:
    """What an event type does at a node of a direction's graph: the table's answers,
    worked out once per (direction, node, finished, event type) and then looked up."""

    verdict: Verdict
    target: CallStatus
    reopens: bool
    """A listed edge out of a reopenable outcome: a redial, a new attempt."""
    dials: bool
    starts: bool
    answers: bool
    outcome: CallOutcome | None


_StepKey = tuple[Direction, Node, bool, EventType]
_STEPS: dict[_StepKey, _Step] = {}


def _learn_step(key: _StepKey) -> _Step:
    direction, node, finished, event_type = key
    table = TABLES[direction]
    target = EVENT_STATUS[event_type]
    verdict = table.verdict(node, finished, event_type)
    step = _STEPS[key] = _Step(
        verdict=verdict,
        target=target,
        reopens=verdict is Verdict.EXPECTED and finished,
        dials=node in table.dial_from and target in table.dial_into,
        starts=target in table.start,
        answers=target is table.answer,
        outcome=table.outcomes.get(target),
    )
    return step


def _transition(state: CallState, event: CallEvent) -> tuple[Verdict, CallFinished | None]:
    """Move the call to the node the event's type names; see ``tables`` for the rules."""
    if state.direction is Direction.UNKNOWN:
        state.direction = event.direction
    key = (state.direction, state.status, state.outcome is not None, event.event_type)
    step = _STEPS.get(key) or _learn_step(key)
    at_ms = event.received_at_ms

    if step.reopens:
        state.outcome = None
        state.terminal_at_ms = None
    if step.dials:
        state.attempts += 1
    if step.starts and state.started_at_ms is None:
        state.started_at_ms = at_ms
    if step.answers and state.answered_at_ms is None:
        state.answered_at_ms = at_ms
    target = step.target
    state.status = target
    state.append_history(target, at_ms)

    outcome = step.outcome
    if outcome is None or state.outcome is not None:
        return step.verdict, None
    if event.has_errors:
        outcome = ERRORED_OUTCOMES.get(outcome, outcome)
    state.outcome = outcome
    state.terminal_at_ms = at_ms
    return step.verdict, _summary(state, outcome, at_ms)


def _summary(state: CallState, outcome: CallOutcome, at_ms: int) -> CallFinished:
    return CallFinished(
        call_id=state.call_id,
        project_id=state.project_id,
        direction=state.direction,
        outcome=outcome,
        attempts=state.attempts,
        duration_ms=max(0, at_ms - state.first_seen_ms),
        time_to_answer_ms=state.time_to_answer_ms,
        error_count=state.error_count,
        at_ms=at_ms,
    )


def _errored_alert(state: CallState, event: CallEvent) -> RaiseAlert:
    critical = event.event_type in CRITICAL_EVENT_TYPES
    return RaiseAlert(
        kind=AlertKind.ERRORED_EVENT,
        severity=Severity.CRITICAL if critical else Severity.WARNING,
        alert_id=alert_id(event.call_id, f"event\x00{event.body_hash}"),
        call_id=event.call_id,
        project_id=state.project_id,
        direction=state.direction,
        status=state.status,
        at_ms=event.received_at_ms,
        last_seen_ms=state.last_seen_ms,
        context=alert_context(state),
        event_type=event.event_type,
        error_kind=classify_error(event),
        error_codes=event.error_codes,
        error_phases=event.error_phases,
    )


def check_stalled(state: CallState, now_ms: int, stall_after_ms: int) -> RaiseAlert | None:
    """A CALL_STALLED alert if an open call has been silent ``stall_after_ms``.

    Silence is counted from the last non-duplicate event. Fires once per call:
    it sets ``state.stalled_alerted`` (the one mutation) and never fires
    again, nor for a finished call.
    """
    if state.finished or state.stalled_alerted:
        return None
    if now_ms - state.last_seen_ms < stall_after_ms:
        return None
    state.stalled_alerted = True
    return RaiseAlert(
        kind=AlertKind.STALLED,
        severity=Severity.WARNING,
        alert_id=alert_id(state.call_id, "STALLED"),
        call_id=state.call_id,
        project_id=state.project_id,
        direction=state.direction,
        status=state.status,
        at_ms=now_ms,
        last_seen_ms=state.last_seen_ms,
        context=alert_context(state),
    )


def is_expired(
    state: CallState, now_ms: int, retention_ms: int, *, open_retention_ms: int | None = None
) -> bool:
    """True when the worker may forget the call (and write its tombstone).

    A finished call expires ``retention_ms`` after its last event, so late
    duplicates and after-terminal events still find it. An open call never
    expires unless ``open_retention_ms`` is given: then it expires after that
    long without events, so calls whose end never arrives cannot pile up.
    """
    idle_ms = now_ms - state.last_seen_ms
    if state.finished:
        return idle_ms >= retention_ms
    return open_retention_ms is not None and idle_ms >= open_retention_ms
