"""The call state machine's input: one webhook, reduced to what the machine needs.

The worker builds a :class:`CallEvent` from a decoded envelope and hands it to
:func:`processor.calls.machine.handle`. Nothing here parses or does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from processor.contract.enums import CallStatus, Direction, EventType


@dataclass(slots=True)
class CallEvent:
    """One webhook for one call, as the state machine sees it (never changed once built).

    Not ``frozen``: a frozen dataclass sets each field through
    ``object.__setattr__``, which costs microseconds per event on the worker's
    hot path; nothing mutates an event.

    ``event_type`` is the switch key; ``call_status`` is only a snapshot kept
    for logging and statistics. ``has_errors`` (a non-empty ``body.errors``) is
    the only error signal. ``received_at_ms`` is the ingress receive time in
    epoch ms, the platform sends no event time of its own. ``body_hash`` is a
    hash of the raw body bytes: the same value twice for one call means the
    platform delivered the same webhook twice.
    """

    call_id: str
    event_type: EventType
    event_type_raw: str
    call_status: CallStatus
    call_status_raw: str
    has_errors: bool
    error_codes: tuple[str, ...]
    error_phases: tuple[str, ...]
    received_at_ms: int
    body_hash: str
    project_id: str

    @property
    def direction(self) -> Direction:
        """OUTBOUND or INBOUND from the eventType; UNKNOWN for an unknown type."""
        return self.event_type.direction


class ErrorKind(StrEnum):
    """What kind of failure an error event reports, from the status it carries.

    OUTBOUND_CALL_ERROR folds several internal statuses into one public event
    (seed reference); the carried ``callStatus`` tells them apart. Bounded, so
    it is fit for a metric label.
    """

    VOICEMAIL = "VOICEMAIL"
    HEALTHCHECK = "HEALTHCHECK"
    LIMIT = "LIMIT"
    CONCURRENCY_LIMIT = "CONCURRENCY_LIMIT"
    CONNECT_FAILURE = "CONNECT_FAILURE"
    IN_CALL = "IN_CALL"
    GENERIC = "GENERIC"


ERROR_KINDS: dict[CallStatus, ErrorKind] = {
    CallStatus.VOICEMAIL_REACHED: ErrorKind.VOICEMAIL,
    CallStatus.HEALTHCHECK_FAILED: ErrorKind.HEALTHCHECK,
    CallStatus.LIMIT_REACHED: ErrorKind.LIMIT,
    CallStatus.CONCURRENCY_LIMIT_EXCEEDED: ErrorKind.CONCURRENCY_LIMIT,
    CallStatus.CONNECTING: ErrorKind.CONNECT_FAILURE,
    CallStatus.CALLING: ErrorKind.IN_CALL,
}
"""Carried status -> kind; every other status (ERROR, UNKNOWN, ...) is GENERIC."""


def classify_error(event: CallEvent) -> ErrorKind:
    """Classify an error event by the status it carries; never rejects one.

    Meant for OUTBOUND_CALL_ERROR, which may carry any status, but total over
    every event so an errored COMPLETED or an INBOUND_CALL_ERROR gets a kind
    too (GENERIC unless its status says more).
    """
    return ERROR_KINDS.get(event.call_status, ErrorKind.GENERIC)
