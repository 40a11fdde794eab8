"""Payload factories shared by all tests: realistic Recho envelopes as dicts and raw bytes.

Build a valid envelope with :func:`make_envelope`, break or trim it with
:func:`set_path` / :func:`drop_path` (both return copies), and turn it into the
POST body with :func:`to_bytes`. :data:`SPEC_EXAMPLES` holds every example
payload of spec §7, verbatim; :func:`envelope_payloads` is a hypothesis strategy
for random valid envelopes.
"""

# The §7 payloads are kept byte for byte as the spec prints them, one per line.
# ruff: noqa: E501

from __future__ import annotations

import copy
from typing import Any

import orjson
from hypothesis import strategies as st
from pydantic import BaseModel

from processor.contract import (
    EVENT_STATUS,
    AuthConfig,
    Body,
    CallData,
    CallStatus,
    Envelope,
    ErrorEntry,
    EventType,
    WebhookEndpoint,
)

PROJECT_ID = "6f1d2c3e-8a4b-4c5d-9e0f-1a2b3c4d5e6f"
"""The project id used by the spec examples and by default in factories."""

_SPEC_EXAMPLES_JSONL = r"""
{"projectId":"6f1d2c3e-8a4b-4c5d-9e0f-1a2b3c4d5e6f","webhookEndpoint":{"id":"ep-7f3a","name":"ops","endpointType":"CUSTOM","target":"https://example.org/h","contentKey":null},"eventType":"OUTBOUND_CALL_PENDING","body":{"subject":"[Recho] Outbound pending","text":"callId: c-1001","data":{"callId":"c-1001","callStatus":"PENDING","callSid":null,"clientId":"crm-42"},"errors":[]},"authConfig":{"authType":"BEARER"}}
{"projectId":"6f1d2c3e-8a4b-4c5d-9e0f-1a2b3c4d5e6f","webhookEndpoint":{"id":"ep-7f3a","name":"ops","endpointType":"CUSTOM","target":"https://example.org/h","contentKey":null},"eventType":"OUTBOUND_CALL_REQUESTED","body":{"subject":"[Recho] Outbound requested","text":"callId: c-1001","data":{"callId":"c-1001","callStatus":"REQUESTED","callSid":"CA7e21f0","clientId":"crm-42"},"errors":[]},"authConfig":{"authType":"BEARER"}}
{"projectId":"6f1d2c3e-8a4b-4c5d-9e0f-1a2b3c4d5e6f","webhookEndpoint":{"id":"ep-7f3a","name":"ops","endpointType":"CUSTOM","target":"https://example.org/h","contentKey":null},"eventType":"OUTBOUND_CALL_CALLING","body":{"subject":"[Recho] Outbound calling","text":"callId: c-1001","data":{"callId":"c-1001","callStatus":"CALLING","callSid":"CA7e21f0","clientId":"crm-42"},"errors":[]},"authConfig":{"authType":"BEARER"}}
{"projectId":"6f1d2c3e-8a4b-4c5d-9e0f-1a2b3c4d5e6f","webhookEndpoint":{"id":"ep-7f3a","name":"ops","endpointType":"CUSTOM","target":"https://example.org/h","contentKey":null},"eventType":"OUTBOUND_CALL_CLOSING","body":{"subject":"[Recho] Outbound closing","text":"callId: c-1001","data":{"callId":"c-1001","callStatus":"CLOSING","callSid":"CA7e21f0","clientId":"crm-42"},"errors":[]},"authConfig":{"authType":"BEARER"}}
{"projectId":"6f1d2c3e-8a4b-4c5d-9e0f-1a2b3c4d5e6f","webhookEndpoint":{"id":"ep-7f3a","name":"ops","endpointType":"CUSTOM","target":"https://example.org/h","contentKey":null},"eventType":"OUTBOUND_CALL_COMPLETED","body":{"subject":"[Recho] Outbound completed","text":"callId: c-1001","data":{"callId":"c-1001","callStatus":"COMPLETED","callSid":"CA7e21f0","clientId":"crm-42"},"errors":[]},"authConfig":{"authType":"BEARER"}}
{"projectId":"6f1d2c3e-8a4b-4c5d-9e0f-1a2b3c4d5e6f","webhookEndpoint":{"id":"ep-7f3a","name":"ops","endpointType":"CUSTOM","target":"https://example.org/h","contentKey":null},"eventType":"INBOUND_CALL_CONNECTING","body":{"subject":"[Recho] Inbound connecting","text":"callId: i-2001","data":{"callId":"i-2001","callStatus":"CONNECTING","callSid":"CA55d0aa","clientId":"crm-77"}},"authConfig":{"authType":"BEARER"}}
{"projectId":"6f1d2c3e-8a4b-4c5d-9e0f-1a2b3c4d5e6f","webhookEndpoint":{"id":"ep-7f3a","name":"ops","endpointType":"CUSTOM","target":"https://example.org/h","contentKey":null},"eventType":"INBOUND_CALL_CALLING","body":{"subject":"[Recho] Inbound calling","text":"callId: i-2001","data":{"callId":"i-2001","callStatus":"CALLING","callSid":"CA55d0aa","clientId":"crm-77"}},"authConfig":{"authType":"BEARER"}}
{"projectId":"6f1d2c3e-8a4b-4c5d-9e0f-1a2b3c4d5e6f","webhookEndpoint":{"id":"ep-7f3a","name":"ops","endpointType":"CUSTOM","target":"https://example.org/h","contentKey":null},"eventType":"INBOUND_CALL_CLOSING","body":{"subject":"[Recho] Inbound closing","text":"callId: i-2001","data":{"callId":"i-2001","callStatus":"CLOSING","callSid":"CA55d0aa","clientId":"crm-77"}},"authConfig":{"authType":"BEARER"}}
{"projectId":"6f1d2c3e-8a4b-4c5d-9e0f-1a2b3c4d5e6f","webhookEndpoint":{"id":"ep-7f3a","name":"ops","endpointType":"CUSTOM","target":"https://example.org/h","contentKey":null},"eventType":"INBOUND_CALL_COMPLETED","body":{"subject":"[Recho] Inbound completed","text":"callId: i-2001","data":{"callId":"i-2001","callStatus":"COMPLETED","callSid":"CA55d0aa","clientId":"crm-77"}},"authConfig":{"authType":"BEARER"}}
{"projectId":"6f1d2c3e-8a4b-4c5d-9e0f-1a2b3c4d5e6f","webhookEndpoint":{"id":"ep-7f3a","name":"ops","endpointType":"CUSTOM","target":"https://example.org/h","contentKey":null},"eventType":"OUTBOUND_CALL_ERROR","body":{"subject":"[Recho] Outbound call error","text":"callId: c-1002\ncallStatus: CALLING\nErrors:\n - [NETWORK_ERROR] Upstream socket reset (phase: CONNECTING)\nTime: 2026-06-01 09:15:07","data":{"callId":"c-1002","callStatus":"CALLING","callSid":"CA9c0b13","clientId":"crm-43"},"errors":[{"code":"NETWORK_ERROR","message":"Upstream socket reset","timestamp":"2026-06-01T09:15:02.418Z","where":"OutboundCallAdapter.connect","phase":"CONNECTING","stacktrace":""}]},"authConfig":{"authType":"SIGNATURE_RSA_SHA256"}}
{"projectId":"6f1d2c3e-8a4b-4c5d-9e0f-1a2b3c4d5e6f","webhookEndpoint":{"id":"ep-7f3a","name":"ops","endpointType":"CUSTOM","target":"https://example.org/h","contentKey":null},"eventType":"OUTBOUND_CALL_COMPLETED","body":{"subject":"[Recho] Outbound completed","text":"callId: c-1003","data":{"callId":"c-1003","callStatus":"COMPLETED","callSid":"CA31aa9e","clientId":"crm-44"},"errors":[{"code":"NETWORK_ERROR","message":"Transient media drop","timestamp":"2026-06-01T10:02:11.004Z","where":"MediaStream.relay","phase":"CALLING","stacktrace":""}]},"authConfig":{"authType":"SIGNATURE_RSA_SHA256"}}
{"projectId":"6f1d2c3e-8a4b-4c5d-9e0f-1a2b3c4d5e6f","webhookEndpoint":{"id":"ep-7f3a","name":"ops","endpointType":"CUSTOM","target":"https://example.org/h","contentKey":null},"eventType":"INBOUND_CALL_CONCURRENCY_LIMIT_EXCEEDED","body":{"subject":"[Recho] Inbound concurrency limit","text":"callId: i-2002","data":{"callId":"i-2002","callStatus":"CONCURRENCY_LIMIT_EXCEEDED","callSid":"CA0f4e77","clientId":"crm-78"},"errors":[]},"authConfig":{"authType":"NONE"}}
{"projectId":"6f1d2c3e-8a4b-4c5d-9e0f-1a2b3c4d5e6f","webhookEndpoint":{"id":"ep-7f3a","name":"ops","endpointType":"CUSTOM","target":"https://example.org/h","contentKey":null},"eventType":"OUTBOUND_CALL_CANCELED","body":{"subject":"[Recho] Outbound canceled","text":"callId: c-1004","data":{"callId":"c-1004","callStatus":"CANCELED","callSid":null,"clientId":"crm-45"},"errors":[]},"authConfig":{"authType":"SIGNATURE_RSA_SHA256"}}
"""

SPEC_EXAMPLE_BYTES: list[bytes] = [
    line.encode() for line in _SPEC_EXAMPLES_JSONL.splitlines() if line.strip()
]
"""The 13 example payloads of spec §7 as raw bodies, in the order the spec lists them."""

SPEC_EXAMPLES: list[dict[str, Any]] = [orjson.loads(raw) for raw in SPEC_EXAMPLE_BYTES]
"""The same 13 payloads as parsed JSON objects."""


def make_envelope(
    event_type: str = "OUTBOUND_CALL_PENDING",
    call_id: str = "c-1",
    call_status: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    project_id: str = PROJECT_ID,
    *,
    call_sid: str | None = "CA7e21f0",
    client_id: str | None = "crm-42",
    auth_type: str = "BEARER",
    **overrides: Any,
) -> dict[str, Any]:
    """A complete, realistic envelope dict shaped like the spec §7 examples.

    ``call_status=None`` picks the status the event type normally carries
    (``X_CALL_Y`` -> ``Y``, also for unknown types of that shape).
    ``errors=None`` gives ``[]`` (no error); use :func:`drop_path` or
    :func:`set_path` for an absent or null ``errors``. ``overrides`` replace or
    add top-level wire keys, e.g. ``authConfig=None`` or ``futureField=1``.
    """
    status = call_status if call_status is not None else _default_status(event_type)
    envelope: dict[str, Any] = {
        "projectId": project_id,
        "webhookEndpoint": {
            "id": "ep-7f3a",
            "name": "ops",
            "endpointType": "CUSTOM",
            "target": "https://example.org/h",
            "contentKey": None,
        },
        "eventType": event_type,
        "body": {
            "subject": f"[Recho] {event_type}",
            "text": f"callId: {call_id}\ncallStatus: {status}\nTime: 2026-06-01 09:15:07",
            "data": {
                "callId": call_id,
                "callStatus": status,
                "callSid": call_sid,
                "clientId": client_id,
            },
            "errors": list(errors) if errors is not None else [],
        },
        "authConfig": {"authType": auth_type},
    }
    envelope.update(overrides)
    return envelope


def make_error(
    code: str = "NETWORK_ERROR",
    phase: str = "CONNECTING",
    message: str = "Upstream socket reset",
    *,
    timestamp: str = "2026-06-01T09:15:02.418Z",
    where: str = "OutboundCallAdapter.connect",
    stacktrace: str = "",
    **extra: Any,
) -> dict[str, Any]:
    """One ``body.errors[]`` object; ``extra`` adds fields the spec does not name."""
    return {
        "code": code,
        "message": message,
        "timestamp": timestamp,
        "where": where,
        "phase": phase,
        "stacktrace": stacktrace,
        **extra,
    }


def to_bytes(payload: Any) -> bytes:
    """The raw POST body for a payload (orjson, compact, UTF-8)."""
    return orjson.dumps(payload)


def make_envelope_bytes(**kwargs: Any) -> bytes:
    """``to_bytes(make_envelope(**kwargs))``: a ready-to-send raw body."""
    return to_bytes(make_envelope(**kwargs))


def set_path(payload: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``payload`` with the dotted wire ``path`` set to ``value``.

    Missing intermediate objects are created; a numeric part indexes a list
    (``"body.errors.0.code"``).
    """
    result = copy.deepcopy(payload)
    *parents, last = path.split(".")
    node: Any = result
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return result


def drop_path(payload: dict[str, Any], path: str) -> dict[str, Any]:
    """A deep copy of ``payload`` without the dotted wire ``path`` (which must exist)."""
    result = copy.deepcopy(payload)
    *parents, last = path.split(".")
    node: Any = result
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    del node[int(last) if isinstance(node, list) else last]
    return result


def _default_status(event_type: str) -> str:
    """The status an event type normally carries; the ``_CALL_`` suffix for unknown ones."""
    try:
        return EVENT_STATUS[EventType(event_type)].value
    except (ValueError, KeyError):
        return event_type.rpartition("_CALL_")[2] or event_type


# Only UTF-8-encodable text: orjson refuses lone surrogates, as the wire would.
_TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)  # orjson's integer range
    | st.floats(allow_nan=False, allow_infinity=False)  # JSON has no NaN/Infinity
    | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=6,
)
# An extra key spelled like a contract field would fill that field instead.
_WIRE_NAMES = frozenset(
    field.alias or name
    for model in (Envelope, WebhookEndpoint, AuthConfig, Body, CallData, ErrorEntry)
    for name, field in model.model_fields.items()
)
_EXTRAS = st.dictionaries(_TEXT.filter(lambda k: k not in _WIRE_NAMES), _JSON_VALUES, max_size=2)
_ABSENT = object()


def _object(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """An object whose fields are each present or absent, plus random extra fields."""
    maybe = {name: st.just(_ABSENT) | strategy for name, strategy in fields.items()}
    return st.builds(
        lambda values, extras: {**extras, **{k: v for k, v in values.items() if v is not _ABSENT}},
        st.fixed_dictionaries(maybe),
        _EXTRAS,
    )


def _text_object(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    """An object of ``model``'s wire fields, each an optional string, plus extras."""
    names = [field.alias or name for name, field in model.model_fields.items()]
    return _object({name: st.none() | _TEXT for name in names})


def envelope_payloads() -> st.SearchStrategy[dict[str, Any]]:
    """Hypothesis strategy: valid envelope dicts exercising forward compatibility.

    Known and random eventType/callStatus strings (or null), every optional
    field present, absent or null, random extra fields at every level, and
    arbitrary UTF-8 text. projectId and a non-blank callId are always there.
    """
    optional_text = st.none() | _TEXT
    return st.builds(
        lambda top, body, data, call_id, project_id: {
            **top,
            "projectId": project_id,
            "body": {**body, "data": {**data, "callId": call_id}},
        },
        _object(
            {
                "eventType": st.none() | st.sampled_from([e.value for e in EventType]) | _TEXT,
                "webhookEndpoint": st.none() | _text_object(WebhookEndpoint),
                "authConfig": st.none() | _text_object(AuthConfig),
            }
        ),
        _object(
            {
                "subject": optional_text,
                "text": optional_text,
                "errors": st.none() | st.lists(_text_object(ErrorEntry), max_size=3),
            }
        ),
        _object(
            {
                "callStatus": st.none() | st.sampled_from([s.value for s in CallStatus]) | _TEXT,
                "callSid": optional_text,
                "clientId": optional_text,
            }
        ),
        _TEXT.map(lambda s: f"c-{s}"),
        _TEXT,
    )


def alert_record(
    alert_id: str = "a" * 32,
    call_id: str = "c-1",
    codes: tuple[str, ...] = ("NETWORK_ERROR",),
    *,
    kind: str = "ERRORED_EVENT",
    severity: str = "critical",
    at_ms: int = 1_780_000_000_000,
    project_id: str = "6f1d2c3e-8a4b-4c5d-9e0f-1a2b3c4d5e6f",
) -> dict[str, Any]:
    """A call-alerts record as the worker writes it (see processor/schemas/call-alerts.v1.json)."""
    errored = kind == "ERRORED_EVENT"
    errors = [
        {
            "code": code,
            "phase": "CONNECTING",
            "message": "Upstream socket reset",
            "where": "OutboundCallAdapter.connect",
            "timestamp": "2026-06-01T09:15:02.418Z",
        }
        for code in codes
    ]
    return {
        "schema": "recho.call-alert/1",
        "alertId": alert_id,
        "kind": kind,
        "severity": severity,
        "callId": call_id,
        "projectId": project_id,
        "direction": "OUTBOUND",
        "eventType": "OUTBOUND_CALL_ERROR" if errored else None,
        "eventTypeRaw": "OUTBOUND_CALL_ERROR" if errored else None,
        "callStatus": "CALLING",
        "errorKind": "IN_CALL" if errored else None,
        "errors": errors if errored else [],
        "errorCodes": list(codes) if errored else [],
        "atMs": at_ms,
        "summary": f"OUTBOUND_CALL_ERROR on call {call_id}: {codes[0] if codes else 'error'}",
        "context": {
            "status": "CALLING",
            "attempts": 1,
            "eventsSeen": 3,
            "errorCount": 1,
            "firstSeenMs": at_ms - 5000,
            "lastSeenMs": at_ms,
            "outcome": None,
        },
        "source": {"topic": "recho.webhooks.v1", "partition": 0, "offset": 7} if errored else None,
    }
