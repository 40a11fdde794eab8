"""From a consumed webhook record to the state machine's input.

Parses the raw body once (the contract's pydantic model) and reduces it to a
:class:`~processor.calls.CallEvent`. A record that cannot be parsed raises
:class:`~processor.errors.ContractError`; the worker dead-letters it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from processor.calls import CallEvent
from processor.contract import Envelope, parse_envelope
from processor.errors import ContractError, MissingCallIdError
from processor.ingress.webhook import HEADER_RECEIVED_AT
from processor.kafka.records import Record


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


def dlq_reason(error: ContractError) -> str:
    """The bounded DLQ reason code for a contract error."""
    if isinstance(error, MissingCallIdError):
        return "missing_call_id"
    if "not valid JSON" in error.message:
        return "not_json"
    return "invalid_contract"
