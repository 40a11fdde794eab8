"""Output records as the worker writes them, for explorer tests without a broker."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

EVENTS, STATE, ALERTS = "events", "state", "alerts"


@dataclass
class FakeRecord:
    """Satisfies :class:`processor.kafka.records.Record`."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int = 1_780_272_000_000
    headers: Sequence[tuple[str, bytes]] = field(default_factory=list)


def event(call_id: str, offset: int, **fields: Any) -> dict[str, Any]:
    """A recho.call-events.v1 value."""
    record = {
        "schema": "recho.call-event/1",
        "callId": call_id,
        "projectId": "p-1",
        "direction": "OUTBOUND",
        "eventType": "OUTBOUND_CALL_PENDING",
        "eventTypeRaw": "OUTBOUND_CALL_PENDING",
        "callStatus": "PENDING",
        "callSid": None,
        "clientId": None,
        "verdict": "EXPECTED",
        "previousStatus": "NEW",
        "status": "PENDING",
        "hasErrors": False,
        "errors": [],
        "flags": [],
        "receivedAtMs": 1_780_272_000_000 + offset,
        "source": {"topic": "recho.webhooks.v1", "partition": 0, "offset": offset},
        "bodySha256": "0" * 64,
    }
    record.update(fields)
    return record


def state(call_id: str, **fields: Any) -> dict[str, Any]:
    """A recho.call-state.v1 value."""
    record = {
        "schema": "recho.call-state/1",
        "callId": call_id,
        "projectId": "p-1",
        "direction": "OUTBOUND",
        "status": "COMPLETED",
        "lastReportedStatus": "COMPLETED",
        "history": [{"status": "PENDING", "atMs": 1_780_272_000_000}],
        "historyDropped": 0,
        "firstSeenMs": 1_780_272_000_000,
        "lastSeenMs": 1_780_272_005_000,
        "eventsSeen": 1,
        "errorCount": 0,
        "errorCodes": [],
        "attempts": 1,
        "finished": True,
        "outcome": "COMPLETED",
        "terminalAtMs": 1_780_272_005_000,
        "durationMs": 5000,
        "timeToAnswerMs": 1200,
        "stalled": False,
    }
    record.update(fields)
    return record


def alert(call_id: str, offset: int, alert_id: str = "a" * 32) -> dict[str, Any]:
    """A recho.call-alerts.v1 value for the event at ``offset``."""
    return {
        "schema": "recho.call-alert/1",
        "alertId": alert_id,
        "kind": "ERRORED_EVENT",
        "severity": "critical",
        "callId": call_id,
        "projectId": "p-1",
        "direction": "OUTBOUND",
        "eventType": "OUTBOUND_CALL_ERROR",
        "eventTypeRaw": "OUTBOUND_CALL_ERROR",
        "callStatus": "CALLING",
        "errorKind": "CONNECT_FAILURE",
        "errors": [],
        "errorCodes": ["NETWORK_ERROR"],
        "atMs": 1_780_272_000_000 + offset,
        "summary": f"{call_id}: NETWORK_ERROR",
        "context": {},
        "source": {"topic": "recho.webhooks.v1", "partition": 0, "offset": offset},
    }


def record(topic: str, offset: int, value: dict[str, Any] | None, key: str) -> FakeRecord:
    """One fake record on partition 0."""
    raw = orjson.dumps(value) if value is not None else None
    return FakeRecord(topic, 0, offset, key.encode(), raw)
