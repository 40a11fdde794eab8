"""Output records in, store rows out: the pure first step of materialising.

A :class:`Batch` is what one store transaction applies: event, alert and
error rows, the latest state change per call (``None`` for a tombstone), and
for every partition read the offset to resume from. Decoding uses orjson and
plain dict access, not the pydantic models of :mod:`processor.outputs.models`
(the apply path must keep up with the worker; those models document the same
fields). A record that cannot be decoded is counted and skipped, never fatal:
the explorer is a view, and a stuck view helps nobody.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from processor.kafka.records import Record

Position = tuple[str, int]


@dataclass(slots=True)
class EventRow:
    """One recho.call-events.v1 record."""

    call_id: str
    src_partition: int
    src_offset: int
    at_ms: int
    event_type: str
    event_type_raw: str | None
    call_status: str | None
    verdict: str
    previous_status: str
    status: str
    has_errors: int
    errors_json: str
    flags_json: str


@dataclass(slots=True)
class ErrorRow:
    """One entry of an event's errors, for filtering and counting by code."""

    call_id: str
    src_partition: int
    src_offset: int
    position: int
    code: str
    phase: str | None
    at_ms: int


@dataclass(slots=True)
class StateRow:
    """The latest recho.call-state.v1 record of a call."""

    call_id: str
    project_id: str
    direction: str
    status: str
    outcome: str | None
    finished: int
    first_seen_ms: int
    last_seen_ms: int
    terminal_at_ms: int | None
    duration_ms: int | None
    time_to_answer_ms: int | None
    attempts: int
    events_seen: int
    error_count: int
    stalled: int
    state_json: str


@dataclass(slots=True)
class AlertRow:
    """One recho.call-alerts.v1 record."""

    alert_id: str
    call_id: str
    kind: str
    severity: str
    at_ms: int
    src_partition: int | None
    src_offset: int | None
    alert_json: str


@dataclass(slots=True)
class Batch:
    """Everything one store transaction applies."""

    events: list[EventRow] = field(default_factory=list)
    errors: list[ErrorRow] = field(default_factory=list)
    alerts: list[AlertRow] = field(default_factory=list)
    states: dict[str, StateRow | None] = field(default_factory=dict)
    offsets: dict[Position, int] = field(default_factory=dict)
    skipped: int = 0
    newest_ms: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.events) + len(self.alerts) + len(self.states)


class Decoder:
    """Sorts records of the three output topics into a :class:`Batch`."""

    def __init__(self, events_topic: str, state_topic: str, alerts_topic: str) -> None:
        self._events = events_topic
        self._state = state_topic
        self._alerts = alerts_topic

    def decode(self, records: list[Record]) -> Batch:
        """The batch for ``records`` (in per-partition order); bad records are skipped."""
        batch = Batch()
        # Only a call's last state in the batch is stored: keep the raw values and parse
        # each call's last one at the end (the worker writes a state per event).
        states: dict[str, bytes | None] = {}
        for record in records:
            topic = record.topic
            batch.offsets[(topic, record.partition)] = record.offset + 1
            if record.timestamp > batch.newest_ms.get(topic, 0):
                batch.newest_ms[topic] = record.timestamp
            try:
                if topic == self._events:
                    _add_event(batch, record.value)
                elif topic == self._state and record.key is not None:
                    states[record.key.decode("utf-8", "replace")] = record.value
                elif topic == self._alerts:
                    _add_alert(batch, record.value)
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
                batch.skipped += 1
        for call_id, value in states.items():
            try:
                batch.states[call_id] = None if value is None else _state(value)
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
                batch.skipped += 1
        return batch


def _add_event(batch: Batch, value: bytes | None) -> None:
    if value is None:
        return
    data: dict[str, Any] = orjson.loads(value)
    call_id: str = data["callId"]
    source = data["source"]
    partition, offset = int(source["partition"]), int(source["offset"])
    at_ms = int(data["receivedAtMs"])
    errors: list[dict[str, Any]] = data.get("errors") or []
    batch.events.append(
        EventRow(
            call_id=call_id,
            src_partition=partition,
            src_offset=offset,
            at_ms=at_ms,
            event_type=data["eventType"],
            event_type_raw=data.get("eventTypeRaw"),
            call_status=data.get("callStatus"),
            verdict=data["verdict"],
            previous_status=data["previousStatus"],
            status=data["status"],
            has_errors=1 if data.get("hasErrors") else 0,
            errors_json=orjson.dumps(errors).decode(),
            flags_json=orjson.dumps(data.get("flags") or []).decode(),
        )
    )
    for position, error in enumerate(errors):
        code = error.get("code") if isinstance(error, dict) else None
        batch.errors.append(
            ErrorRow(
                call_id,
                partition,
                offset,
                position,
                str(code) if code else "UNKNOWN",
                error.get("phase") if isinstance(error, dict) else None,
                at_ms,
            )
        )


def _state(value: bytes) -> StateRow:
    data: dict[str, Any] = orjson.loads(value)
    return StateRow(
        call_id=data["callId"],
        project_id=data["projectId"],
        direction=data["direction"],
        status=data["status"],
        outcome=data.get("outcome"),
        finished=1 if data.get("finished") else 0,
        first_seen_ms=int(data["firstSeenMs"]),
        last_seen_ms=int(data["lastSeenMs"]),
        terminal_at_ms=data.get("terminalAtMs"),
        duration_ms=data.get("durationMs"),
        time_to_answer_ms=data.get("timeToAnswerMs"),
        attempts=int(data.get("attempts") or 0),
        events_seen=int(data.get("eventsSeen") or 0),
        error_count=int(data.get("errorCount") or 0),
        stalled=1 if data.get("stalled") else 0,
        state_json=value.decode(),
    )


def _add_alert(batch: Batch, value: bytes | None) -> None:
    if value is None:
        return
    data: dict[str, Any] = orjson.loads(value)
    source = data.get("source")
    batch.alerts.append(
        AlertRow(
            alert_id=data["alertId"],
            call_id=data["callId"],
            kind=data["kind"],
            severity=data["severity"],
            at_ms=int(data["atMs"]),
            src_partition=int(source["partition"]) if source else None,
            src_offset=int(source["offset"]) if source else None,
            alert_json=value.decode(),
        )
    )
