"""From a consumed webhook record to the state machine's input.

Parses the raw body once (the contract's pydantic model) and reduces it to a
:class:`~processor.calls.CallEvent`. A record that cannot be parsed raises
:class:`~processor.errors.ContractError`; the worker dead-letters it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from hashlib import sha256
from typing import Final

import orjson

from processor.calls import (
    CRITICAL_EVENT_TYPES,
    AlertContext,
    AlertKind,
    CallEvent,
    CallState,
    RaiseAlert,
    Severity,
    alert_context,
    alert_id,
)
from processor.contract import CallStatus, Envelope, EventType, envelope_flags, parse_envelope
from processor.contract.headers import HEADER_RECEIVED_AT
from processor.errors import ContractError, MissingCallIdError, NotJsonObjectError
from processor.kafka.records import Record
from processor.outputs.alerts import UNREADABLE_CODE
from processor.outputs.dead_letters import DeadLetterReason

ERRORS_TEXT_MAX_CHARS: Final = 200
"""How much of an unreadable ``body.errors`` an alert quotes."""


@dataclass(slots=True)
class Ingested:
    """A parsed webhook: the envelope and its flags for the outputs, the event for the machine.

    Never changed once built; not ``frozen``, whose init costs more per record.
    """

    envelope: Envelope
    event: CallEvent
    flags: tuple[str, ...]


def ingest(record: Record) -> Ingested:
    """Parse a record's body; raise ContractError if it breaks the contract."""
    value = record.value
    if value is None:
        raise ContractError("record has no value (a tombstone on the input topic)")
    envelope = parse_envelope(value)
    event = call_event(envelope, value, received_at_ms(record))
    return Ingested(envelope, event, envelope_flags(envelope, event.event_type, event.call_status))


def call_event(envelope: Envelope, raw: bytes, received_at_ms: int) -> CallEvent:
    """The state machine's view of a parsed webhook; ``raw`` is the body as received."""
    body = envelope.body
    data = body.data
    errors = body.errors
    if errors:
        codes = tuple(e.code or "UNSPECIFIED" for e in errors)
        phases = tuple(e.phase or "UNSPECIFIED" for e in errors)
    else:
        codes = phases = ()
    # Positional, in field order: it runs once per event.
    return CallEvent(
        data.call_id,
        envelope.event_type,
        envelope.event_type_raw or "",
        data.call_status,
        data.call_status_raw or "",
        bool(errors),
        codes,
        phases,
        received_at_ms,
        sha256(raw).hexdigest(),
        envelope.project_id,
    )


def received_at_ms(record: Record) -> int:
    """The ingress receive time (header), else the record's timestamp."""
    for name, value in record.headers:
        if name == HEADER_RECEIVED_AT:
            try:
                return int(value)
            except ValueError:
                break
    return int(record.timestamp)


@dataclass(frozen=True, slots=True)
class ClaimedErrors:
    """What can be read of an unprocessable body that reports errors."""

    call_id: str
    project_id: str
    event_type_raw: str | None
    errors_text: str


def claimed_errors(record: Record) -> ClaimedErrors | None:
    """For a body that failed the contract: its claim of errors, if it makes one.

    A body claims errors when ``body.errors`` is present and not empty (``[]``,
    ``null`` and a missing field claim none), whatever its shape; such an event
    must raise an alert even though it cannot be processed.
    """
    try:
        data = orjson.loads(record.value or b"")
    except orjson.JSONDecodeError:
        return None
    body = data.get("body") if isinstance(data, dict) else None
    errors = body.get("errors") if isinstance(body, dict) else None
    if errors is None or errors == [] or errors == {} or errors == "":
        return None
    call = body.get("data") if isinstance(body, dict) else None
    call_id = call.get("callId") if isinstance(call, dict) else None
    if not isinstance(call_id, str) or not call_id:
        call_id = (record.key or b"").decode("utf-8", errors="replace")
    project_id = data.get("projectId")
    event_type = data.get("eventType")
    return ClaimedErrors(
        call_id=call_id,
        project_id=project_id if isinstance(project_id, str) else "",
        event_type_raw=event_type if isinstance(event_type, str) else None,
        errors_text=orjson.dumps(errors).decode()[:ERRORS_TEXT_MAX_CHARS],
    )


def unreadable_alert(claim: ClaimedErrors, record: Record, state: CallState | None) -> RaiseAlert:
    """The ERRORS_UNREADABLE alert of a dead-lettered body that claims errors.

    ``state`` is the claimed call's, if the worker knows it.
    """
    raw_type = claim.event_type_raw or ""
    event_type = EventType(raw_type) if raw_type in EventType.__members__ else EventType.UNKNOWN
    received = received_at_ms(record)
    return RaiseAlert(
        kind=AlertKind.ERRORS_UNREADABLE,
        severity=Severity.CRITICAL if event_type in CRITICAL_EVENT_TYPES else Severity.WARNING,
        alert_id=alert_id(
            claim.call_id, f"unreadable\x00{hashlib.sha256(record.value or b'').hexdigest()}"
        ),
        call_id=claim.call_id,
        project_id=claim.project_id,
        direction=event_type.direction,
        status=None if state is None else state.status,
        at_ms=received,
        last_seen_ms=received if state is None else state.last_seen_ms,
        context=_unreadable_context(state, received),
        event_type=None if event_type is EventType.UNKNOWN else event_type,
        error_codes=(UNREADABLE_CODE,),
    )


def _unreadable_context(state: CallState | None, received_ms: int) -> AlertContext:
    """The context of an unreadable event's alert: its call's, or a blank one."""
    if state is not None:
        return alert_context(state)
    return AlertContext(
        attempts=0,
        events_seen=0,
        error_count=0,
        first_seen_ms=received_ms,
        outcome=None,
        last_reported_status=CallStatus.UNKNOWN,
    )


def dlq_reason(error: ContractError) -> DeadLetterReason:
    """The bounded DLQ reason code for a contract error."""
    if isinstance(error, MissingCallIdError):
        return DeadLetterReason.MISSING_CALL_ID
    if isinstance(error, NotJsonObjectError):  # not RFC 8259 JSON, or not an object
        return DeadLetterReason.NOT_JSON
    return DeadLetterReason.INVALID_CONTRACT
