"""From a consumed webhook record to the state machine's input.

Parses the raw body once (the contract's pydantic model) and reduces it to a
:class:`~processor.calls.CallEvent`. A record that cannot be parsed raises
:class:`~processor.errors.ContractError`; the worker dead-letters it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

import orjson

from processor.calls import CallEvent
from processor.contract import Envelope, parse_envelope
from processor.contract.headers import HEADER_RECEIVED_AT
from processor.errors import ContractError, MissingCallIdError, NotJsonObjectError
from processor.kafka.records import Record

ERRORS_TEXT_MAX_CHARS: Final = 200
"""How much of an unreadable ``body.errors`` an alert quotes."""


@dataclass(frozen=True, slots=True)
class Ingested:
    """A parsed webhook: the envelope for the outputs, the event for the machine."""

    envelope: Envelope
    event: CallEvent


def ingest(record: Record) -> Ingested:
    """Parse a record's body; raise ContractError if it breaks the contract."""
    value = record.value
    if value is None:
        raise ContractError("record has no value (a tombstone on the input topic)")
    envelope = parse_envelope(value)
    event = call_event(envelope, value, received_at_ms(record))
    return Ingested(envelope, event)


def call_event(envelope: Envelope, raw: bytes, received_at_ms: int) -> CallEvent:
    """The state machine's view of a parsed webhook; ``raw`` is the body as received."""
    errors = envelope.body.errors or ()
    return CallEvent(
        call_id=envelope.call_id,
        event_type=envelope.event_type,
        event_type_raw=envelope.event_type_raw or "",
        call_status=envelope.call_status,
        call_status_raw=envelope.call_status_raw or "",
        has_errors=bool(errors),
        error_codes=tuple(e.code or "UNSPECIFIED" for e in errors),
        error_phases=tuple(e.phase or "UNSPECIFIED" for e in errors),
        received_at_ms=received_at_ms,
        body_hash=hashlib.sha256(raw).hexdigest(),
        project_id=envelope.project_id,
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


def dlq_reason(error: ContractError) -> str:
    """The bounded DLQ reason code for a contract error."""
    if isinstance(error, MissingCallIdError):
        return "missing_call_id"
    if isinstance(error, NotJsonObjectError):  # not RFC 8259 JSON, or not an object
        return "not_json"
    return "invalid_contract"
