"""The call-events and call-state records, and what every output record shares.

worker -> calls -> **outputs**: the worker hands each effect of
:func:`processor.calls.handle` to a builder here (alerts in
:mod:`~processor.outputs.alerts`, dead letters in
:mod:`~processor.outputs.dead_letters`, the changelog in
:mod:`~processor.outputs.changelog`) and produces the bytes it returns, keyed
by callId. The builders run for every event (tens of thousands a second), so
they assemble plain dicts and serialize them with orjson; the pydantic models
in :mod:`processor.outputs.models` only describe these records (JSON Schema,
AsyncAPI) and are never used on this path. Tests keep the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import orjson

from processor.calls import NEW_NAME, CallState, EmitEvent
from processor.calls.state import CODE_STATUSES, HISTORY_STATUS_BITS, HISTORY_STATUS_MASK
from processor.contract import CallStatus, Direction, Envelope, ErrorEntry

EVENT_SCHEMA: Final = "recho.call-event/1"
"""Value of the ``schema`` field of every call-events record."""
STATE_SCHEMA: Final = "recho.call-state/1"
"""Value of the ``schema`` field of every call-state record."""

NEW_STATUS: Final = NEW_NAME
"""How the machine's node before the first known event (``None``) is spelled in records."""


@dataclass(slots=True)
class SourceRef:
    """Where an input record sits: the position a record was derived from.

    Built once per consumed record and never changed; not ``frozen``, whose
    init costs about a microsecond more per record.
    """

    topic: str
    partition: int
    offset: int


def source_dict(source: SourceRef) -> dict[str, Any]:
    """A source position as a record field."""
    return {"topic": source.topic, "partition": source.partition, "offset": source.offset}


def event_record(
    emit: EmitEvent, envelope: Envelope, source: SourceRef, flags: tuple[str, ...]
) -> bytes:
    """The call-events record of one handled event: normalized, with its verdict."""
    event = emit.event
    body = envelope.body
    data = body.data
    errors = body.errors
    previous = emit.previous_status
    status = emit.status
    direction = event.event_type.direction
    if direction is Direction.UNKNOWN:
        # A new type with a known prefix still belongs to a direction.
        direction = envelope.direction
    return orjson.dumps(
        {
            "schema": EVENT_SCHEMA,
            "callId": event.call_id,
            "projectId": event.project_id,
            "direction": direction,
            "eventType": event.event_type,
            "eventTypeRaw": envelope.event_type_raw,
            "callStatus": data.call_status_raw,
            "callSid": data.call_sid,
            "clientId": data.client_id,
            "verdict": emit.verdict,
            "previousStatus": NEW_STATUS if previous is None else previous,
            "status": NEW_STATUS if status is None else status,
            # body.errors alone decides; callStatus never does.
            "hasErrors": bool(errors),
            "errors": [_event_error(e) for e in errors] if errors else [],
            "flags": flags,
            "receivedAtMs": event.received_at_ms,
            "source": {
                "topic": source.topic,
                "partition": source.partition,
                "offset": source.offset,
            },
            "bodySha256": event.body_hash,
        }
    )


def _event_error(error: ErrorEntry) -> dict[str, str | None]:
    return {
        "code": error.code,
        "message": error.message,
        "timestamp": error.timestamp,
        "where": error.where,
        "phase": error.phase,
        "stacktrace": error.stacktrace,
    }


def state_record(state: CallState) -> bytes:
    """The call-state record: the latest public view of a call (no dedupe internals)."""
    status = state.status
    return orjson.dumps(
        {
            "schema": STATE_SCHEMA,
            "callId": state.call_id,
            "projectId": state.project_id,
            "direction": state.direction,
            "status": NEW_STATUS if status is None else status,
            "lastReportedStatus": state.last_reported_status,
            "history": _history(state),
            "historyDropped": state.history_dropped,
            "firstSeenMs": state.first_seen_ms,
            "lastSeenMs": state.last_seen_ms,
            "eventsSeen": state.events_seen,
            "errorCount": state.error_count,
            "errorCodes": state.error_codes,
            "attempts": state.attempts,
            "finished": state.outcome is not None,
            "outcome": state.outcome,
            "terminalAtMs": state.terminal_at_ms,
            "durationMs": state.duration_ms,
            "timeToAnswerMs": state.time_to_answer_ms,
            "stalled": state.stalled_alerted,
        }
    )


def _history(state: CallState) -> list[dict[str, object]]:
    """``state.history_entries()`` as records, unpacked here without the pairs."""
    first = state.first_seen_ms
    unknown = CallStatus.UNKNOWN
    return [
        {
            "status": CODE_STATUSES.get(packed & HISTORY_STATUS_MASK, unknown),
            "atMs": first + (packed >> HISTORY_STATUS_BITS),
        }
        for packed in state.history
    ]
