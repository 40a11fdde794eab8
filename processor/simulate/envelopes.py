"""The POST body of one planned event, shaped like the spec §7 examples.

simulate: scenarios -> **envelopes** -> runner -> sender. Pure (the send time is an input).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Final

import orjson

from processor.contract.enums import EVENT_STATUS, EventType
from processor.simulate.scenarios import PlannedEvent

E = EventType


_SUBJECT_OVERRIDES: Final = {
    E.OUTBOUND_CALL_ERROR: "Outbound call error",
    E.INBOUND_CALL_ERROR: "Inbound call error",
    E.INBOUND_CALL_CONCURRENCY_LIMIT_EXCEEDED: "Inbound concurrency limit",
}


def _subject(event_type: EventType) -> str:
    words = event_type.value.split("_CALL_", 1)[1].lower().replace("_", " ")
    default = f"{event_type.direction.value.title()} {words}"
    return "[Recho] " + _SUBJECT_OVERRIDES.get(event_type, default)


SUBJECTS: Final[Mapping[EventType, str]] = MappingProxyType({e: _subject(e) for e in EVENT_STATUS})
"""``body.subject`` of each event type, worded like the spec examples."""

DEFAULT_TARGET: Final = "https://example.org/h"


def envelope_bytes(
    planned: PlannedEvent,
    call_id: str,
    project_id: str,
    *,
    client_id: str | None = "crm-42",
    auth_type: str = "NONE",
    target: str = DEFAULT_TARGET,
    endpoint_id: str = "ep-sim",
    endpoint_name: str = "recho-simulator",
    sent_at: datetime | None = None,
) -> bytes:
    """The POST body of ``planned`` for one call, as the platform would build it at ``sent_at``.

    ``sent_at`` (default: now, UTC) gives the ``Time:`` line of ``body.text`` and, less
    ``error_lead_s``, the errors' ``timestamp``. ``auth_type`` is reported in
    ``authConfig.authType``; ``target`` is the endpoint's URL in ``webhookEndpoint``.
    """
    at = (sent_at or datetime.now(UTC)).astimezone(UTC)
    status = planned.call_status.value
    errors: list[dict[str, Any]] = []
    for error in planned.errors:
        occurred = at - timedelta(seconds=planned.error_lead_s)
        errors.append(
            {
                "code": error["code"],
                "message": error["message"],
                "timestamp": occurred.strftime("%Y-%m-%dT%H:%M:%S.")
                + f"{occurred.microsecond // 1000:03d}Z",
                "where": error["where"],
                "phase": error["phase"],
                "stacktrace": error.get("stacktrace", ""),
            }
        )
    lines = [f"callId: {call_id}", f"callStatus: {status}"]
    if planned.attempt > 1:
        lines.append(f"Attempt: {planned.attempt}")
    if errors:
        lines.append("Errors:")
        lines.extend(f" - [{e['code']}] {e['message']} (phase: {e['phase']})" for e in errors)
    lines.append(f"Time: {at:%Y-%m-%d %H:%M:%S}")
    envelope = {
        "projectId": project_id,
        "webhookEndpoint": {
            "id": endpoint_id,
            "name": endpoint_name,
            "endpointType": "CUSTOM",
            "target": target,
            "contentKey": None,
        },
        "eventType": planned.event_type.value,
        "body": {
            "subject": SUBJECTS[planned.event_type],
            "text": "\n".join(lines),
            "data": {
                "callId": call_id,
                "callStatus": status,
                "callSid": planned.call_sid,
                "clientId": client_id,
            },
            "errors": errors,
        },
        "authConfig": {"authType": auth_type},
    }
    return orjson.dumps(envelope)
