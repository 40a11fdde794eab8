"""From raw webhook bytes to the Kafka record: the callId key, flags and headers.

The body is written exactly as received. Parsing here only finds the key and
flags what the worker will also see: a payload with a usable callId is
accepted even when it is off-schema, since rejecting it would make the
platform retry it forever.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Final

import orjson
from pydantic import BaseModel

from processor.contract import EnvelopeFlag, parse_envelope
from processor.contract.enums import EVENT_ALLOWED_STATUSES, CallStatus, EventType
from processor.contract.envelope import (
    AuthConfig,
    Body,
    CallData,
    Envelope,
    ErrorEntry,
    WebhookEndpoint,
)
from processor.contract.headers import (
    HEADER_AUTH_MODE,
    HEADER_CONTENT_SHA256,
    HEADER_FLAGS,
    HEADER_RECEIVED_AT,
    HEADER_REQUEST_ID,
)
from processor.contract.parsing import json_object
from processor.errors import ContractError, MissingCallIdError, NotJsonObjectError


@dataclass(frozen=True, slots=True)
class Keyed:
    """What the ingress needs from a body: its Kafka key, flags and projectId."""

    call_id: str
    flags: tuple[str, ...]
    project_id: str | None


def key_webhook(raw: bytes) -> Keyed:
    """Find the callId of a webhook body; raise ContractError if there is none.

    A body valid against the contract gives its callId and the envelope's
    flags. An off-schema body still gives a callId when ``body.data.callId``
    is a non-empty string, flagged ``off_schema``.

    The usual, valid body is judged by direct checks on the parsed document,
    with the same outcome as :func:`key_webhook_validated` (which builds the
    pydantic envelope, several times the cost); anything the checks do not
    clearly accept goes to that function, which gives the exact error.
    """
    document = json_object(raw)
    keyed = _key_checked(document)
    return keyed if keyed is not None else key_webhook_validated(raw)


def key_webhook_validated(raw: bytes) -> Keyed:
    """:func:`key_webhook` by validating the whole pydantic envelope (the reference)."""
    try:
        envelope = parse_envelope(raw)
    except (MissingCallIdError, NotJsonObjectError):
        raise
    except ContractError as exc:
        return _key_off_schema(raw, exc)
    return Keyed(envelope.call_id, envelope.flags, envelope.project_id)


def _wire_names(model: type[BaseModel]) -> frozenset[str]:
    """The wire (alias) names of a model's fields: any other key is an extra field."""
    return frozenset(info.alias or name for name, info in model.model_fields.items())


_ENVELOPE_FIELDS: Final = _wire_names(Envelope)
_BODY_FIELDS: Final = _wire_names(Body)
_DATA_FIELDS: Final = _wire_names(CallData)
_ENDPOINT_FIELDS: Final = _wire_names(WebhookEndpoint)
_AUTH_FIELDS: Final = _wire_names(AuthConfig)
_ERROR_FIELDS: Final = _wire_names(ErrorEntry)
_EVENT_TYPES: Final[dict[str, EventType]] = {
    e.value: e for e in EventType if e is not EventType.UNKNOWN
}
_CALL_STATUSES: Final[dict[str, CallStatus]] = {
    s.value: s for s in CallStatus if s is not CallStatus.UNKNOWN
}


def _optional_strings(part: Any, names: frozenset[str]) -> bool | None:
    """For an optional part whose fields are all ``str | None``: None if it is not
    clearly valid, else whether it has extra fields."""
    if part is None:
        return False
    if type(part) is not dict:
        return None
    extra = False
    for name, value in part.items():
        if name not in names:
            extra = True
        elif value is not None and type(value) is not str:
            return None
    return extra


def _key_checked(document: dict[str, Any]) -> Keyed | None:
    """The :class:`Keyed` of a document the envelope model surely accepts; None otherwise.

    Mirrors the models in :mod:`processor.contract.envelope`: every named field
    is ``str | None`` except ``projectId`` (a string), ``body``/``body.data``
    (objects), ``body.errors`` (a list of objects) and ``body.data.callId`` (a
    string with a non-space character); unknown keys are allowed and flagged.
    """
    project_id = document.get("projectId")
    body = document.get("body")
    if type(project_id) is not str or type(body) is not dict:
        return None
    data = body.get("data")
    if type(data) is not dict:
        return None
    call_id = data.get("callId")
    if type(call_id) is not str or not call_id.strip():
        # str.strip drops a superset of what the model's \S treats as space:
        # a callId it leaves empty is judged by the model itself.
        return None
    extra = False
    for name, value in document.items():
        if name in _ENVELOPE_FIELDS:
            if name == "webhookEndpoint":
                endpoint_extra = _optional_strings(value, _ENDPOINT_FIELDS)
                if endpoint_extra is None:
                    return None
                extra = extra or endpoint_extra
            elif name == "authConfig":
                auth_extra = _optional_strings(value, _AUTH_FIELDS)
                if auth_extra is None:
                    return None
                extra = extra or auth_extra
            elif name == "eventType" and value is not None and type(value) is not str:
                return None
        else:
            extra = True
    for name, value in body.items():
        if name not in _BODY_FIELDS:
            extra = True
        elif name == "errors":
            if value is None:
                continue
            if type(value) is not list:
                return None
            for entry in value:
                entry_extra = _optional_strings(entry, _ERROR_FIELDS) if entry is not None else None
                if entry_extra is None:
                    return None
                extra = extra or entry_extra
        elif name != "data" and value is not None and type(value) is not str:
            return None
    for name, value in data.items():
        if name not in _DATA_FIELDS:
            extra = True
        elif name != "callId" and value is not None and type(value) is not str:
            return None
    return Keyed(
        call_id, _flags(document.get("eventType"), data.get("callStatus"), extra), project_id
    )


def _flags(event_type_raw: str | None, status_raw: str | None, extra: bool) -> tuple[str, ...]:
    """:func:`~processor.contract.envelope.envelope_flags` from the raw strings."""
    event_type = _EVENT_TYPES.get(event_type_raw or "", EventType.UNKNOWN)
    status = _CALL_STATUSES.get(status_raw or "", CallStatus.UNKNOWN)
    flags: list[str] = []
    if event_type is EventType.UNKNOWN:
        flags.append(EnvelopeFlag.UNKNOWN_EVENT_TYPE)
        if status is CallStatus.UNKNOWN:
            flags.append(EnvelopeFlag.UNKNOWN_CALL_STATUS)
    elif status is CallStatus.UNKNOWN:
        flags.append(EnvelopeFlag.UNKNOWN_CALL_STATUS)
    elif status not in EVENT_ALLOWED_STATUSES[event_type]:
        flags.append(EnvelopeFlag.STATUS_MISMATCH)
    if extra:
        flags.append(EnvelopeFlag.EXTRA_FIELDS)
    return tuple(flags)


def _key_off_schema(raw: bytes, error: ContractError) -> Keyed:
    document = orjson.loads(raw)  # parse_envelope already required a JSON object
    call_id = project_id = None
    if isinstance(document, dict):
        project_id = document.get("projectId")
        body = document.get("body")
        data = body.get("data") if isinstance(body, dict) else None
        call_id = data.get("callId") if isinstance(data, dict) else None
    if not isinstance(call_id, str) or not call_id.strip():
        raise MissingCallIdError(
            "body.data.callId is missing or not a non-empty string: nothing to key it by",
            field="body.data.callId",
        ) from error
    project = project_id if isinstance(project_id, str) else None
    return Keyed(call_id, (EnvelopeFlag.OFF_SCHEMA,), project)


def record_headers(
    *, received_at_ms: int, auth_mode: str, raw: bytes, request_id: str, flags: tuple[str, ...]
) -> list[tuple[str, bytes]]:
    """Kafka headers of a webhook record: provenance the worker and auditors use."""
    headers = [
        (HEADER_RECEIVED_AT, str(received_at_ms).encode()),
        (HEADER_AUTH_MODE, auth_mode.encode()),
        (HEADER_CONTENT_SHA256, hashlib.sha256(raw).hexdigest().encode()),
        (HEADER_REQUEST_ID, request_id.encode()),
    ]
    if flags:
        headers.append((HEADER_FLAGS, ",".join(flags).encode()))
    return headers
