"""Pydantic descriptions of the output records, the source of the shipped JSON Schemas.

The worker never builds these (see :mod:`processor.outputs.records`, which
writes the same shapes from plain dicts); they exist to generate
``processor/schemas/*.json`` and the AsyncAPI document, and to let a consumer
read a record with ``CallEventRecord.model_validate_json(raw)``. Unknown fields
are ignored when reading: a record may gain fields within its version.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from processor.calls import CallOutcome, ErrorKind, Severity, Verdict
from processor.contract import CallStatus, Direction, EventType
from processor.outputs.dead_letters import DeadLetterReason

NodeName = Annotated[
    CallStatus | Literal["NEW"],
    Field(description="A machine node: a status, or NEW before the call's first known event."),
]


class _Record(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,
        serialize_by_alias=True,
        # Readers skip fields added later within the same schema version.
        extra="ignore",
        frozen=True,
    )


class Source(_Record):
    """The input record an output was derived from."""

    topic: str = Field(description="Input topic.")
    partition: int = Field(ge=0, description="Partition of the input record.")
    offset: int = Field(ge=0, description="Offset of the input record.")


class EventError(_Record):
    """One ``body.errors[]`` entry exactly as the platform sent it."""

    code: str | None = Field(description="Error code, e.g. NETWORK_ERROR.")
    message: str | None = Field(description="Human-readable message.")
    timestamp: str | None = Field(description="When the platform saw the error (ISO-8601 text).")
    where: str | None = Field(description="Component that raised it.")
    phase: str | None = Field(description="Call phase it happened in, e.g. CONNECTING.")
    stacktrace: str | None = Field(description="Stack trace, often empty.")


class CallEventRecord(_Record):
    """recho.call-events.v1: every webhook, normalized, with its transition verdict.

    Keyed by callId; events of a call appear in the order the platform sent them.
    """

    schema_id: Literal["recho.call-event/1"] = Field(
        alias="schema", description="Record type and version."
    )
    call_id: str = Field(description="body.data.callId; also the Kafka key.")
    project_id: str = Field(description="Recho project the call belongs to.")
    direction: Direction = Field(description="From the eventType prefix.")
    event_type: EventType = Field(description="The eventType, UNKNOWN for one not known yet.")
    event_type_raw: str | None = Field(description="The eventType exactly as sent.")
    call_status: str | None = Field(
        description="body.data.callStatus exactly as sent: a snapshot, never an error signal."
    )
    call_sid: str | None = Field(description="Telephony provider's call id, null before dialing.")
    client_id: str | None = Field(description="The customer's own id for the call.")
    verdict: Verdict = Field(description="How the event fits the call's expected graph.")
    previous_status: NodeName = Field(description="Machine node before this event.")
    status: NodeName = Field(description="Machine node after this event.")
    has_errors: bool = Field(
        description="True exactly when body.errors is non-empty (never from callStatus)."
    )
    errors: list[EventError] = Field(description="body.errors as received; [] when none.")
    flags: list[str] = Field(
        description="Contract oddities that did not stop the event, e.g. unknown_event_type."
    )
    received_at_ms: int = Field(description="Ingress receive time, epoch ms.")
    source: Source = Field(description="Position of the raw webhook on the input topic.")
    body_sha256: str = Field(description="Hex SHA-256 of the raw body: equal for redeliveries.")


class HistoryEntry(_Record):
    """One node the call entered."""

    status: CallStatus = Field(description="Node entered.")
    at_ms: int = Field(description="Receive time of the event that entered it, epoch ms.")


class CallStateRecord(_Record):
    """recho.call-state.v1 (compacted): the latest state of each call.

    Keyed by callId; a tombstone (null value) once a finished call expires.
    """

    schema_id: Literal["recho.call-state/1"] = Field(
        alias="schema", description="Record type and version."
    )
    call_id: str = Field(description="The call; also the Kafka key.")
    project_id: str = Field(description="Recho project the call belongs to.")
    direction: Direction = Field(description="Direction of the call's first known event.")
    status: NodeName = Field(description="Current machine node.")
    last_reported_status: CallStatus = Field(
        description="callStatus of the last event (UNKNOWN if unknown or null)."
    )
    history: list[HistoryEntry] = Field(description="Nodes entered, oldest first (the last 16).")
    history_dropped: int = Field(ge=0, description="Older history entries no longer listed.")
    first_seen_ms: int = Field(description="Receive time of the call's first event, epoch ms.")
    last_seen_ms: int = Field(description="Receive time of its latest event, epoch ms.")
    events_seen: int = Field(ge=0, description="Events applied, duplicates not counted.")
    error_count: int = Field(ge=0, description="Events that carried a non-empty body.errors.")
    error_codes: list[str] = Field(description="Distinct error codes seen, first ones kept.")
    attempts: int = Field(ge=0, description="Dials (a redial is another attempt).")
    finished: bool = Field(description="True while the call has an outcome.")
    outcome: CallOutcome | None = Field(description="How the call ended; null while open.")
    terminal_at_ms: int | None = Field(description="When it reached the outcome, epoch ms.")
    duration_ms: int | None = Field(description="First seen to terminal; null while open.")
    time_to_answer_ms: int | None = Field(
        description="Start to first CALLING; null unless both were seen."
    )
    stalled: bool = Field(
        description="True once a CALL_STALLED alert was raised for the call (it stays true)."
    )


class AlertError(_Record):
    """One ``body.errors[]`` entry of the errored event, without its stack trace."""

    code: str | None = Field(description="Error code, e.g. NETWORK_ERROR.")
    phase: str | None = Field(description="Call phase it happened in.")
    message: str | None = Field(description="Human-readable message.")
    where: str | None = Field(description="Component that raised it.")
    timestamp: str | None = Field(description="When the platform saw the error (ISO-8601 text).")


class AlertContext(_Record):
    """The call around the alert, when it was raised."""

    status: NodeName = Field(description="Machine node when the alert was raised.")
    attempts: int = Field(ge=0, description="Dials so far.")
    events_seen: int = Field(ge=0, description="Events applied so far.")
    error_count: int = Field(ge=0, description="Errored events so far.")
    first_seen_ms: int = Field(description="Receive time of the call's first event, epoch ms.")
    last_seen_ms: int = Field(description="Receive time of its latest event, epoch ms.")
    outcome: CallOutcome | None = Field(description="Outcome if the call has finished.")


class CallAlertRecord(_Record):
    """recho.call-alerts.v1: one per event with a non-empty body.errors, and per stalled call.

    ``alertId`` is stable across redelivery and reprocessing: use it to deduplicate.
    """

    schema_id: Literal["recho.call-alert/1"] = Field(
        alias="schema", description="Record type and version."
    )
    alert_id: str = Field(description="Deterministic id (32 hex chars).")
    kind: Literal["ERRORED_EVENT", "CALL_STALLED", "ERRORS_UNREADABLE"] = Field(
        description="ERRORED_EVENT: the event carried errors. CALL_STALLED: no terminal "
        "event for the configured time. ERRORS_UNREADABLE: the event reported errors "
        "that could not be read; it is in the dead-letter topic."
    )
    severity: Severity = Field(description="critical for *_CALL_ERROR events, else warning.")
    call_id: str = Field(description="The call; also the Kafka key.")
    project_id: str = Field(description="Recho project the call belongs to.")
    direction: Direction = Field(description="Direction of the call.")
    event_type: EventType | None = Field(description="The errored event's type; null for stalls.")
    event_type_raw: str | None = Field(description="Its eventType exactly as sent.")
    call_status: str | None = Field(
        description="callStatus as sent by the errored event; the last reported one for stalls."
    )
    error_kind: ErrorKind | None = Field(
        description="Failure kind from the carried status; null for stalls."
    )
    errors: list[AlertError] = Field(description="The event's body.errors; [] for stalls.")
    error_codes: list[str] = Field(description="The event's error codes; [] for stalls.")
    at_ms: int = Field(description="Event receive time, or the stall check time, epoch ms.")
    summary: str = Field(description="One line for people, e.g. for a chat message.")
    context: AlertContext = Field(description="The call around the alert.")
    source: Source | None = Field(description="The errored webhook's position; null for stalls.")


class DeadLetterHeader(_Record):
    """One header of the original record."""

    key: str = Field(description="Header name.")
    value_base64: str | None = Field(description="Header value, base64; null for a null value.")


class DeadLetterRecord(_Record):
    """recho.webhooks.dlq.v1: an input record that could not be processed, kept exactly.

    Keyed like the original. ``processor replay --from-dlq`` sends
    keyBase64/valueBase64/headers back byte for byte.
    """

    schema_id: Literal["recho.webhook-dead-letter/1"] = Field(
        alias="schema", description="Record type and version."
    )
    reason: DeadLetterReason = Field(description="Why it failed (bounded code).")
    error: str = Field(description="What failed, for people.")
    source: Source = Field(description="Position of the original record.")
    key: str | None = Field(description="Original key as UTF-8 text (invalid bytes replaced).")
    key_base64: str | None = Field(description="Original key, base64: the exact bytes.")
    value_base64: str | None = Field(description="Original value, base64: the exact bytes.")
    value_text: str | None = Field(
        description="Original value as UTF-8 text (invalid bytes replaced), for people."
    )
    headers: list[DeadLetterHeader] = Field(description="Original headers, in order.")
    failed_at_ms: int = Field(description="When processing gave up, epoch ms.")
