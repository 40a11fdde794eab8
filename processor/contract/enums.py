"""Recho's event types and call statuses (spec §4, seed callstatus reference).

Every enum has an ``UNKNOWN`` member: the platform may add values, and an
unknown one must flow through flagged instead of failing. The raw string is
kept next to it on the envelope.
"""

from __future__ import annotations

from enum import StrEnum


class Direction(StrEnum):
    """Which way the call goes, derived from the eventType prefix."""

    OUTBOUND = "OUTBOUND"
    INBOUND = "INBOUND"
    UNKNOWN = "UNKNOWN"


class EventType(StrEnum):
    """The 18 webhook event types: the public signal and the switch key."""

    OUTBOUND_CALL_PENDING = "OUTBOUND_CALL_PENDING"
    OUTBOUND_CALL_REQUESTED = "OUTBOUND_CALL_REQUESTED"
    OUTBOUND_CALL_CALLING = "OUTBOUND_CALL_CALLING"
    OUTBOUND_CALL_CLOSING = "OUTBOUND_CALL_CLOSING"
    OUTBOUND_CALL_COMPLETED = "OUTBOUND_CALL_COMPLETED"
    OUTBOUND_CALL_EXPIRED = "OUTBOUND_CALL_EXPIRED"
    OUTBOUND_CALL_NO_RESPONSE = "OUTBOUND_CALL_NO_RESPONSE"
    OUTBOUND_CALL_CANCELED = "OUTBOUND_CALL_CANCELED"
    OUTBOUND_CALL_BUSY = "OUTBOUND_CALL_BUSY"
    OUTBOUND_CALL_UNREACHABLE = "OUTBOUND_CALL_UNREACHABLE"
    OUTBOUND_CALL_MAX_ATTEMPTS_REACHED = "OUTBOUND_CALL_MAX_ATTEMPTS_REACHED"
    OUTBOUND_CALL_ERROR = "OUTBOUND_CALL_ERROR"
    INBOUND_CALL_CONNECTING = "INBOUND_CALL_CONNECTING"
    INBOUND_CALL_CALLING = "INBOUND_CALL_CALLING"
    INBOUND_CALL_CLOSING = "INBOUND_CALL_CLOSING"
    INBOUND_CALL_COMPLETED = "INBOUND_CALL_COMPLETED"
    INBOUND_CALL_CONCURRENCY_LIMIT_EXCEEDED = "INBOUND_CALL_CONCURRENCY_LIMIT_EXCEEDED"
    INBOUND_CALL_ERROR = "INBOUND_CALL_ERROR"
    UNKNOWN = "UNKNOWN"

    @property
    def direction(self) -> Direction:
        """OUTBOUND or INBOUND from the name's prefix; UNKNOWN for UNKNOWN."""
        return _DIRECTION[self]


class CallStatus(StrEnum):
    """All call statuses, outbound (17, internal ones included) and inbound (6).

    Inbound statuses share their names with outbound ones (CALLING, CLOSING,
    COMPLETED, CONNECTING, CONCURRENCY_LIMIT_EXCEEDED, ERROR), so one enum
    holds the union; which set applies depends on the direction.
    """

    PENDING = "PENDING"
    REQUESTED = "REQUESTED"
    CALLING = "CALLING"
    CLOSING = "CLOSING"
    COMPLETED = "COMPLETED"
    EXPIRED = "EXPIRED"
    NO_RESPONSE = "NO_RESPONSE"
    CANCELED = "CANCELED"
    BUSY = "BUSY"
    UNREACHABLE = "UNREACHABLE"
    MAX_ATTEMPTS_REACHED = "MAX_ATTEMPTS_REACHED"
    ERROR = "ERROR"
    VOICEMAIL_REACHED = "VOICEMAIL_REACHED"
    HEALTHCHECK_FAILED = "HEALTHCHECK_FAILED"
    LIMIT_REACHED = "LIMIT_REACHED"
    CONNECTING = "CONNECTING"
    CONCURRENCY_LIMIT_EXCEEDED = "CONCURRENCY_LIMIT_EXCEEDED"
    UNKNOWN = "UNKNOWN"


OUTBOUND_STATUSES: frozenset[CallStatus] = frozenset(
    s for s in CallStatus if s is not CallStatus.UNKNOWN
)
"""The 17 outbound statuses of the seed, internal ones included."""

INBOUND_STATUSES: frozenset[CallStatus] = frozenset(
    {
        CallStatus.CONNECTING,
        CallStatus.CALLING,
        CallStatus.CLOSING,
        CallStatus.COMPLETED,
        CallStatus.CONCURRENCY_LIMIT_EXCEEDED,
        CallStatus.ERROR,
    }
)
"""The 6 inbound statuses of the seed."""

INTERNAL_OUTBOUND_STATUSES: frozenset[CallStatus] = frozenset(
    {
        CallStatus.VOICEMAIL_REACHED,
        CallStatus.HEALTHCHECK_FAILED,
        CallStatus.LIMIT_REACHED,
        CallStatus.CONNECTING,
        CallStatus.CONCURRENCY_LIMIT_EXCEEDED,
    }
)
"""Outbound statuses with no event of their own: surfaced as OUTBOUND_CALL_ERROR."""


def _status_of(event_type: EventType) -> CallStatus:
    suffix = event_type.value.split("_CALL_", 1)[1]
    return CallStatus(suffix)


EVENT_STATUS: dict[EventType, CallStatus] = {
    e: _status_of(e) for e in EventType if e is not EventType.UNKNOWN
}
"""The status each eventType normally carries (``X_CALL_Y`` -> ``Y``)."""

EVENT_ALLOWED_STATUSES: dict[EventType, frozenset[CallStatus]] = {
    e: frozenset({s}) for e, s in EVENT_STATUS.items()
}
# OUTBOUND_CALL_ERROR may carry any status (the docs' sample carries CALLING);
# the internal ones are folded into it.
EVENT_ALLOWED_STATUSES[EventType.OUTBOUND_CALL_ERROR] = OUTBOUND_STATUSES
"""Statuses a given eventType may carry without being flagged as a mismatch."""

_DIRECTION: dict[EventType, Direction] = {
    e: (
        Direction.OUTBOUND
        if e.value.startswith("OUTBOUND_")
        else Direction.INBOUND
        if e.value.startswith("INBOUND_")
        else Direction.UNKNOWN
    )
    for e in EventType
}

STATUS_EVENTS: dict[tuple[Direction, CallStatus], EventType] = {
    (e.direction, s): e for e, s in EVENT_STATUS.items()
}
for _status in INTERNAL_OUTBOUND_STATUSES:
    STATUS_EVENTS[(Direction.OUTBOUND, _status)] = EventType.OUTBOUND_CALL_ERROR
"""The eventType that surfaces a (direction, status): the reverse mapping."""
