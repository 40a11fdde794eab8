"""The Recho webhook envelope (spec §3, §5) as pydantic models, parsed once from raw bytes.

This is the wire edge of the pipeline: ingress and the worker both turn the raw
POST body into an :class:`Envelope` with
:func:`~processor.contract.parsing.parse_envelope`, and anything that breaks the
contract becomes a :class:`~processor.errors.ContractError`.

Forward compatibility drives the design:

* ``eventType`` and ``callStatus`` are stored as the raw strings that came in;
  the enums are looked up on access, so a value the platform adds later maps to
  ``UNKNOWN`` and still round-trips unchanged (:meth:`Envelope.to_wire`).
* Unknown fields are kept at every level (``extra="allow"``) and dumped back.
* Anything unexpected but harmless is reported in :attr:`Envelope.flags`
  instead of failing the event (spec §4: record it, keep the event).

Validation runs entirely in pydantic-core (no Python validators), because the
worker parses tens of thousands of envelopes per second.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

from processor.contract.enums import (
    EVENT_ALLOWED_STATUSES,
    CallStatus,
    Direction,
    EventType,
)

# Lookup tables instead of ``EventType(raw)``: no exception on unknown values,
# and "UNKNOWN" on the wire is itself treated as unknown.
_EVENT_TYPES: Final[dict[str, EventType]] = {
    e.value: e for e in EventType if e is not EventType.UNKNOWN
}
_CALL_STATUSES: Final[dict[str, CallStatus]] = {
    s.value: s for s in CallStatus if s is not CallStatus.UNKNOWN
}
_DIRECTION_PREFIXES: Final = (
    ("OUTBOUND_", Direction.OUTBOUND),
    ("INBOUND_", Direction.INBOUND),
)

CallId = Annotated[str, StringConstraints(pattern=r"\S")]
"""A callId kept exactly as sent, but with at least one non-whitespace character."""


class EnvelopeFlag(StrEnum):
    """Bounded codes for contract oddities that do not stop an event (usable as labels)."""

    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    UNKNOWN_CALL_STATUS = "unknown_call_status"
    STATUS_MISMATCH = "status_mismatch"
    EXTRA_FIELDS = "extra_fields"
    OFF_SCHEMA = "off_schema"
    """Set by the ingress on a body it keyed without parsing it whole (it has no envelope)."""


class _WireModel(BaseModel):
    """Shared config of every envelope part."""

    model_config = ConfigDict(
        # camelCase on the wire, snake_case in Python; both accepted when building
        # models in code, while parse_envelope accepts the wire names only.
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,
        # New fields from the platform must survive the pipeline untouched.
        extra="allow",
        # An envelope is a received fact; nobody downstream should edit it.
        frozen=True,
    )


class WebhookEndpoint(_WireModel):
    """Snapshot of the endpoint config that sent the event; informational only."""

    id: str | None = None
    name: str | None = None
    # Open string: only CUSTOM is documented, other spellings are unconfirmed.
    endpoint_type: str | None = None
    target: str | None = None
    content_key: str | None = None


class AuthConfig(_WireModel):
    """The auth method the endpoint uses; informational, the headers are what is verified."""

    # Open string so a new auth method does not reject otherwise valid events.
    auth_type: str | None = None


class ErrorEntry(_WireModel):
    """One ``body.errors[]`` item (spec §5); every field is an open, optional string."""

    code: str | None = None
    message: str | None = None
    timestamp: str | None = None
    where: str | None = None
    phase: str | None = None
    stacktrace: str | None = None


class CallData(_WireModel):
    """``body.data``: which call the event is about and its status snapshot."""

    call_id: CallId
    call_status_raw: str | None = Field(default=None, alias="callStatus")
    # Null before the provider has been asked to dial (spec §7 assumption).
    call_sid: str | None = None
    client_id: str | None = None

    @property
    def call_status(self) -> CallStatus:
        """The status as an enum; ``UNKNOWN`` for a value we do not know or a null."""
        if self.call_status_raw is None:
            return CallStatus.UNKNOWN
        return _CALL_STATUSES.get(self.call_status_raw, CallStatus.UNKNOWN)


class Body(_WireModel):
    """``body``: human text for display plus the machine-readable data and errors."""

    subject: str | None = None
    text: str | None = None
    data: CallData
    errors: tuple[ErrorEntry, ...] | None = None

    @property
    def has_errors(self) -> bool:
        """True only for a non-empty ``errors``: absent, null and [] all mean no error."""
        return bool(self.errors)


class Envelope(_WireModel):
    """One Recho webhook notification as posted to a Custom endpoint (spec §3)."""

    project_id: str
    webhook_endpoint: WebhookEndpoint | None = None
    event_type_raw: str | None = Field(default=None, alias="eventType")
    body: Body
    auth_config: AuthConfig | None = None

    @property
    def event_type(self) -> EventType:
        """The event type as an enum; ``UNKNOWN`` for a value we do not know or a null."""
        if self.event_type_raw is None:
            return EventType.UNKNOWN
        return _EVENT_TYPES.get(self.event_type_raw, EventType.UNKNOWN)

    @property
    def call_id(self) -> str:
        """``body.data.callId``, the correlation key."""
        return self.body.data.call_id

    @property
    def call_status(self) -> CallStatus:
        """``body.data.callStatus`` as an enum (see :attr:`CallData.call_status`)."""
        return self.body.data.call_status

    @property
    def call_status_raw(self) -> str | None:
        """``body.data.callStatus`` exactly as sent."""
        return self.body.data.call_status_raw

    @property
    def has_errors(self) -> bool:
        """The one error signal: a non-empty ``body.errors``, never the callStatus."""
        return self.body.has_errors

    @property
    def direction(self) -> Direction:
        """OUTBOUND or INBOUND from the eventType prefix (the wire has no direction field).

        An unknown eventType with a known prefix still gets its direction, so a
        new outbound event type lands on the outbound side instead of nowhere.
        """
        event_type = self.event_type
        if event_type is not EventType.UNKNOWN:
            return event_type.direction
        raw = self.event_type_raw or ""
        for prefix, direction in _DIRECTION_PREFIXES:
            if raw.startswith(prefix):
                return direction
        return Direction.UNKNOWN

    @property
    def flags(self) -> tuple[str, ...]:
        """The :class:`EnvelopeFlag` codes that apply, in a fixed order; empty when clean."""
        return envelope_flags(self, self.event_type, self.call_status)

    @property
    def has_extra_fields(self) -> bool:
        """True if any object in the envelope carries a field the contract does not name."""
        # __pydantic_extra__ directly: the model_extra property costs a call per part.
        if self.__pydantic_extra__:
            return True
        body = self.body
        if body.__pydantic_extra__ or body.data.__pydantic_extra__:
            return True
        endpoint, auth = self.webhook_endpoint, self.auth_config
        if endpoint is not None and endpoint.__pydantic_extra__:
            return True
        if auth is not None and auth.__pydantic_extra__:
            return True
        return any(error.__pydantic_extra__ for error in body.errors or ())

    def to_wire(self) -> dict[str, Any]:
        """The envelope as a JSON-ready dict in wire form.

        Absent fields stay absent, raw enum strings and unknown fields come back
        as received, so ``parse_envelope(orjson.dumps(env.to_wire())) == env``.
        """
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


def envelope_flags(
    envelope: Envelope, event_type: EventType, status: CallStatus
) -> tuple[str, ...]:
    """:attr:`Envelope.flags`, given the envelope's already looked-up type and status."""
    if event_type is EventType.UNKNOWN:
        flags = [EnvelopeFlag.UNKNOWN_EVENT_TYPE]
        if status is CallStatus.UNKNOWN:
            flags.append(EnvelopeFlag.UNKNOWN_CALL_STATUS)
    elif status is CallStatus.UNKNOWN:
        flags = [EnvelopeFlag.UNKNOWN_CALL_STATUS]
    elif status not in EVENT_ALLOWED_STATUSES[event_type]:
        # Only judged when both are known: an unknown value is already flagged.
        flags = [EnvelopeFlag.STATUS_MISMATCH]
    elif not envelope.has_extra_fields:
        return ()
    else:
        return (EnvelopeFlag.EXTRA_FIELDS,)
    if envelope.has_extra_fields:
        flags.append(EnvelopeFlag.EXTRA_FIELDS)
    return tuple(flags)
