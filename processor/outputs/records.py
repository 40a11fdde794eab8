"""The JSON records of every output topic, built from the state machine's effects.

worker -> calls -> **outputs**: the worker hands each effect of
:func:`processor.calls.handle` to a builder here and produces the bytes it
returns, keyed by callId. The builders run for every event (tens of thousands a
second), so they assemble plain dicts and serialize them with orjson; the
pydantic models in :mod:`processor.outputs.models` only describe these records
(JSON Schema, AsyncAPI) and are never used on this path. Tests keep the two in
step.

Build a record right after the ``handle`` call that produced its effect: the
state-derived fields read the state as it is at that moment.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from processor.calls import AlertKind, CallState, EmitEvent, RaiseAlert
from processor.calls.state import CODE_STATUSES, HISTORY_STATUS_BITS, HISTORY_STATUS_MASK
from processor.contract import CallStatus, Direction, Envelope, ErrorEntry

EVENT_SCHEMA: Final = "recho.call-event/1"
"""Value of the ``schema`` field of every call-events record."""
STATE_SCHEMA: Final = "recho.call-state/1"
"""Value of the ``schema`` field of every call-state record."""
ALERT_SCHEMA: Final = "recho.call-alert/1"
"""Value of the ``schema`` field of every call-alerts record."""
DLQ_SCHEMA: Final = "recho.webhook-dead-letter/1"
"""Value of the ``schema`` field of every dead-letter record."""

NEW_STATUS: Final = "NEW"
"""How the machine's node before the first known event (``None``) is spelled in records."""

DLQ_REASONS: Final = ("not_json", "missing_call_id", "invalid_contract", "processing_error")
"""The bounded ``reason`` codes of a dead letter (fit for a metric label)."""

ALERT_KINDS: Final[Mapping[AlertKind, str]] = {
    AlertKind.ERRORED_EVENT: "ERRORED_EVENT",
    AlertKind.STALLED: "CALL_STALLED",
    AlertKind.ERRORS_UNREADABLE: "ERRORS_UNREADABLE",
}
"""The public name of each alert kind on the alerts topic."""

UNREADABLE_CODE: Final = "UNREADABLE_ERRORS"
"""Error code of an ERRORS_UNREADABLE alert."""

DLQ_ERROR_MAX_CHARS: Final = 4096
"""Longest ``error`` message kept in a dead letter; a runaway message is cut."""
SUMMARY_MAX_CHARS: Final = 300
"""Longest alert ``summary``; it is one line for a chat message or a page title."""


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where an input record sits: the position a record was derived from."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A dead-letter record read back: the original record, byte for byte, and why it failed.

    ``headers`` keep a null header value as ``None`` (Kafka allows one), so a
    replay sends exactly what came in.
    """

    reason: str
    error: str
    source: SourceRef
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]
    failed_at_ms: int


def _source(source: SourceRef) -> dict[str, Any]:
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


def alert_record(
    alert: RaiseAlert,
    state: CallState,
    envelope: Envelope | None,
    source: SourceRef | None,
) -> bytes:
    """The call-alerts record of one alert.

    ``envelope`` and ``source`` are the errored event's (None for CALL_STALLED,
    which no event raised); ``state`` gives the call context.
    """
    errors: list[dict[str, str | None]] = []
    if envelope is not None:
        call_status = envelope.call_status_raw
        event_type_raw = envelope.event_type_raw
        errors = [_alert_error(e) for e in envelope.body.errors or ()]
    else:
        call_status = state.last_reported_status.value
        event_type_raw = None if alert.event_type is None else alert.event_type.value
    status = NEW_STATUS if alert.status is None else alert.status.value
    kind = ALERT_KINDS[alert.kind]
    if alert.kind is AlertKind.STALLED:
        summary = _stalled_summary(alert, status)
    else:
        summary = _errored_summary(alert, event_type_raw, errors)
    return orjson.dumps(
        {
            "schema": ALERT_SCHEMA,
            "alertId": alert.alert_id,
            "kind": kind,
            "severity": alert.severity,
            "callId": alert.call_id,
            "projectId": alert.project_id,
            "direction": alert.direction,
            "eventType": alert.event_type,
            "eventTypeRaw": event_type_raw,
            "callStatus": call_status,
            "errorKind": alert.error_kind,
            "errors": errors,
            "errorCodes": alert.error_codes,
            "atMs": alert.at_ms,
            "summary": summary,
            "context": {
                "status": status,
                "attempts": state.attempts,
                "eventsSeen": state.events_seen,
                "errorCount": state.error_count,
                "firstSeenMs": state.first_seen_ms,
                "lastSeenMs": alert.last_seen_ms,
                "outcome": state.outcome,
            },
            "source": None if source is None else _source(source),
        }
    )


def unreadable_alert_record(
    alert: RaiseAlert,
    state: CallState | None,
    event_type_raw: str | None,
    errors_text: str,
    source: SourceRef,
) -> bytes:
    """The alert for an event that claimed errors but could not be read.

    Such an event is dead-lettered (reason and original bytes there); the alert
    makes sure a claimed error is never silent. ``errors_text`` is the raw
    ``body.errors`` as JSON text, cut for people.
    """
    status = NEW_STATUS if alert.status is None else alert.status.value
    message = _one_line(f"body.errors could not be read: {errors_text}")
    error = {"code": UNREADABLE_CODE, "phase": None, "message": message}
    summary = _one_line(
        f"{event_type_raw or 'event'} on call {alert.call_id}: {UNREADABLE_CODE} "
        f"(errors reported but unreadable; the event is in the dead-letter topic)"
    )
    return orjson.dumps(
        {
            "schema": ALERT_SCHEMA,
            "alertId": alert.alert_id,
            "kind": ALERT_KINDS[alert.kind],
            "severity": alert.severity,
            "callId": alert.call_id,
            "projectId": alert.project_id,
            "direction": alert.direction,
            "eventType": alert.event_type,
            "eventTypeRaw": event_type_raw,
            "callStatus": None,
            "errorKind": None,
            "errors": [{**error, "where": None, "timestamp": None}],
            "errorCodes": [UNREADABLE_CODE],
            "atMs": alert.at_ms,
            "summary": summary,
            "context": {
                "status": status,
                "attempts": 0 if state is None else state.attempts,
                "eventsSeen": 0 if state is None else state.events_seen,
                "errorCount": 0 if state is None else state.error_count,
                "firstSeenMs": alert.at_ms if state is None else state.first_seen_ms,
                "lastSeenMs": alert.last_seen_ms,
                "outcome": None if state is None else state.outcome,
            },
            "source": _source(source),
        }
    )


def _alert_error(error: ErrorEntry) -> dict[str, str | None]:
    # No stacktrace: an alert is read by people and notifiers, the event record keeps it.
    return {
        "code": error.code,
        "phase": error.phase,
        "message": error.message,
        "where": error.where,
        "timestamp": error.timestamp,
    }


def _errored_summary(
    alert: RaiseAlert, event_type_raw: str | None, errors: list[dict[str, str | None]]
) -> str:
    """``"OUTBOUND_CALL_ERROR on call c-1: NETWORK_ERROR (phase CONNECTING) Upstream ..."``."""
    head = f"{event_type_raw or 'event'} on call {alert.call_id}"
    if not errors:
        codes = ", ".join(alert.error_codes)
        return _one_line(f"{head}: {codes or 'errors reported'}")
    first = errors[0]
    text = f"{head}: {first['code'] or 'error'}"
    if first["phase"]:
        text += f" (phase {first['phase']})"
    if first["message"]:
        text += f" {first['message']}"
    if len(errors) > 1:
        text += f" (+{len(errors) - 1} more)"
    return _one_line(text)


def _stalled_summary(alert: RaiseAlert, status: str) -> str:
    """``"CALL_STALLED on call c-1: no terminal event, silent for 900 s in status CALLING"``."""
    silent_s = max(0, alert.at_ms - alert.last_seen_ms) // 1000
    return _one_line(
        f"CALL_STALLED on call {alert.call_id}: no terminal event, "
        f"silent for {silent_s} s in status {status}"
    )


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > SUMMARY_MAX_CHARS:
        text = text[: SUMMARY_MAX_CHARS - 1] + "…"
    return text


def dlq_record(
    *,
    reason: str,
    error: str,
    source: SourceRef,
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes | None]],
    failed_at_ms: int,
) -> bytes:
    """The dead-letter record of an input record that could not be processed.

    The original key, value and headers are kept exactly (base64) so
    :func:`parse_dlq_record` gives back the very bytes for a replay; ``key``
    and ``valueText`` are readable renderings for people. Raises ValueError
    for a ``reason`` outside :data:`DLQ_REASONS`: reasons are metric labels.
    """
    if reason not in DLQ_REASONS:
        raise ValueError(f"unknown dead-letter reason {reason!r}; one of {DLQ_REASONS}")
    return orjson.dumps(
        {
            "schema": DLQ_SCHEMA,
            "reason": reason,
            "error": error[:DLQ_ERROR_MAX_CHARS],
            "source": _source(source),
            "key": None if key is None else key.decode("utf-8", errors="replace"),
            "keyBase64": _b64(key),
            "valueBase64": _b64(value),
            "valueText": None if value is None else value.decode("utf-8", errors="replace"),
            "headers": [{"key": name, "valueBase64": _b64(raw)} for name, raw in headers],
            "failedAtMs": failed_at_ms,
        }
    )


def parse_dlq_record(raw: bytes) -> DeadLetter:
    """Read a :func:`dlq_record` back into the original record; ValueError if malformed."""
    data = _object(orjson.loads(raw))
    try:
        source = _object(data["source"])
        headers = data["headers"]
        if not isinstance(headers, list):
            raise ValueError("dead letter headers must be a list")
        return DeadLetter(
            reason=_str(data["reason"]),
            error=_str(data["error"]),
            source=SourceRef(
                topic=_str(source["topic"]),
                partition=_int(source["partition"]),
                offset=_int(source["offset"]),
            ),
            key=_unb64(data["keyBase64"]),
            value=_unb64(data["valueBase64"]),
            headers=[
                (_str(header["key"]), _unb64(header["valueBase64"]))
                for header in map(_object, headers)
            ],
            failed_at_ms=_int(data["failedAtMs"]),
        )
    except KeyError as exc:
        raise ValueError(f"dead letter misses key {exc}") from exc


def changelog_record(state: CallState) -> bytes:
    """The worker's changelog value for a call: its full state, compact."""
    return orjson.dumps(state.to_dict())


def parse_changelog(raw: bytes) -> CallState:
    """Rebuild a state from :func:`changelog_record` bytes; ValueError if malformed."""
    return CallState.from_dict(_object(orjson.loads(raw)))


def _b64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.b64encode(raw).decode("ascii")


def _unb64(value: object) -> bytes | None:
    if value is None:
        return None
    try:
        return base64.b64decode(_str(value), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"invalid base64: {exc}") from exc


def _object(value: object) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an int, got {value!r}")
    return value
