"""Call events as the worker builds them, and a driver feeding them to handle()."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import TypeVar

from processor.calls.event import CallEvent
from processor.calls.machine import Effect, EmitEvent, handle
from processor.calls.state import CallState
from processor.calls.tables import Verdict
from processor.contract.enums import EVENT_STATUS, CallStatus, EventType

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
