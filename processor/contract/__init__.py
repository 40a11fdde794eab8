"""The Recho webhook contract: event/status enums and the envelope wire model.

Everything that reads a webhook body goes through :func:`parse_envelope`.
"""

from processor.contract.enums import (
    EVENT_ALLOWED_STATUSES,
    EVENT_STATUS,
    INBOUND_STATUSES,
    INTERNAL_OUTBOUND_STATUSES,
    OUTBOUND_STATUSES,
    STATUS_EVENTS,
    CallStatus,
    Direction,
    EventType,
)
from processor.contract.envelope import (
    AuthConfig,
    Body,
    CallData,
    CallId,
    Envelope,
    EnvelopeFlag,
    ErrorEntry,
    WebhookEndpoint,
    envelope_flags,
)
from processor.contract.parsing import json_object, parse_envelope

__all__ = [
    "EVENT_ALLOWED_STATUSES",
    "EVENT_STATUS",
    "INBOUND_STATUSES",
    "INTERNAL_OUTBOUND_STATUSES",
    "OUTBOUND_STATUSES",
    "STATUS_EVENTS",
    "AuthConfig",
    "Body",
    "CallData",
    "CallId",
    "CallStatus",
    "Direction",
    "Envelope",
    "EnvelopeFlag",
    "ErrorEntry",
    "EventType",
    "WebhookEndpoint",
    "envelope_flags",
    "json_object",
    "parse_envelope",
]
