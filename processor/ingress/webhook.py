"""From raw webhook bytes to the Kafka record: the callId key, flags and headers.

The body is written exactly as received. Parsing here only finds the key and
flags what the worker will also see: a payload with a usable callId is
accepted even when it is off-schema, since rejecting it would make the
platform retry it forever.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import orjson

from processor.contract import EnvelopeFlag, parse_envelope
from processor.contract.headers import (
    HEADER_AUTH_MODE,
    HEADER_CONTENT_SHA256,
    HEADER_FLAGS,
    HEADER_RECEIVED_AT,
    HEADER_REQUEST_ID,
)
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
    """
    try:
        envelope = parse_envelope(raw)
    except (MissingCallIdError, NotJsonObjectError):
        raise
    except ContractError as exc:
        return _key_off_schema(raw, exc)
    return Keyed(envelope.call_id, envelope.flags, envelope.project_id)


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
