"""The call-alerts records: one per errored event, stalled call or unreadable error claim.

worker -> calls -> **outputs**: the worker hands each :class:`~processor.calls.RaiseAlert`
here; the alert carries the call's context as it stood when it was raised, so
a record can be built at any time after ``handle``. People and notifiers read
these records: summaries are one line, stacktraces stay on the event record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import orjson

from processor.calls import AlertKind, ErrorKind, RaiseAlert
from processor.contract import Envelope, ErrorEntry
from processor.outputs.records import NEW_STATUS, SourceRef, source_dict

ALERT_SCHEMA: Final = "recho.call-alert/1"
"""Value of the ``schema`` field of every call-alerts record."""

ALERT_KINDS: Final[Mapping[AlertKind, str]] = {
    AlertKind.ERRORED_EVENT: "ERRORED_EVENT",
    AlertKind.STALLED: "CALL_STALLED",
    AlertKind.ERRORS_UNREADABLE: "ERRORS_UNREADABLE",
}
"""The public name of each alert kind on the alerts topic."""

UNREADABLE_CODE: Final = "UNREADABLE_ERRORS"
"""Error code of an ERRORS_UNREADABLE alert."""

SUMMARY_MAX_CHARS: Final = 300
"""Longest alert ``summary``; it is one line for a chat message or a page title."""


def alert_record(alert: RaiseAlert, envelope: Envelope | None, source: SourceRef | None) -> bytes:
    """The call-alerts record of one alert.

    ``envelope`` and ``source`` are the errored event's (None for CALL_STALLED,
    which no event raised); the alert's own ``context`` gives the call's.
    """
    errors: list[dict[str, str | None]] = []
    if envelope is not None:
        call_status = envelope.call_status_raw
        event_type_raw = envelope.event_type_raw
        errors = [_alert_error(e) for e in envelope.body.errors or ()]
    else:
        call_status = alert.context.last_reported_status.value
        event_type_raw = None if alert.event_type is None else alert.event_type.value
    status = NEW_STATUS if alert.status is None else alert.status.value
    if alert.kind is AlertKind.STALLED:
        summary = _stalled_summary(alert, status)
    else:
        summary = _errored_summary(alert, event_type_raw, errors)
    return _document(
        alert,
        event_type_raw=event_type_raw,
        call_status=call_status,
        error_kind=alert.error_kind,
        errors=errors,
        error_codes=alert.error_codes,
        summary=summary,
        status=status,
        source=source,
    )


def unreadable_alert_record(
    alert: RaiseAlert, event_type_raw: str | None, errors_text: str, source: SourceRef
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
    return _document(
        alert,
        event_type_raw=event_type_raw,
        call_status=None,
        error_kind=None,
        errors=[{**error, "where": None, "timestamp": None}],
        error_codes=(UNREADABLE_CODE,),
        summary=summary,
        status=status,
        source=source,
    )


def _document(
    alert: RaiseAlert,
    *,
    event_type_raw: str | None,
    call_status: str | None,
    error_kind: ErrorKind | None,
    errors: list[dict[str, str | None]],
    error_codes: tuple[str, ...],
    summary: str,
    status: str,
    source: SourceRef | None,
) -> bytes:
    """The call-alerts record: the alert's own fields plus what its kind adds."""
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
            "callStatus": call_status,
            "errorKind": error_kind,
            "errors": errors,
            "errorCodes": error_codes,
            "atMs": alert.at_ms,
            "summary": summary,
            "context": _context(alert, status),
            "source": None if source is None else source_dict(source),
        }
    )


def _context(alert: RaiseAlert, status: str) -> dict[str, object]:
    context = alert.context
    return {
        "status": status,
        "attempts": context.attempts,
        "eventsSeen": context.events_seen,
        "errorCount": context.error_count,
        "firstSeenMs": context.first_seen_ms,
        "lastSeenMs": alert.last_seen_ms,
        "outcome": context.outcome,
    }


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
