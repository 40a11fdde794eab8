"""The ingress's quick keying gives exactly what validating the whole envelope gives.

:func:`key_webhook` judges the usual body by direct checks; it must agree with
:func:`key_webhook_validated` (the pydantic envelope) on the key, flags,
projectId, and on the error type, message and field of a refused body.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processor.contract import CallStatus, EventType
from processor.errors import ContractError
from processor.ingress.webhook import key_webhook, key_webhook_validated
from tests.factories import SPEC_EXAMPLES, envelope_payloads, make_envelope, make_error

_ODD_VALUES = st.sampled_from(
    [
        None, 0, 1, 1.5, True, False, "", " ", "\t\n", "\x1c", "\x1f", "\u00a0", "\u2028",
        "\u200b", "\u3000 x", "x", "c-1", [], [None], [{}], ["x"], {}, {"x": 1},
        *(e.value for e in EventType), *(s.value for s in CallStatus),
        "OUTBOUND_CALL_NEW", "UNKNOWN",
    ]
)  # fmt: skip
_ODD_KEYS = st.sampled_from(
    [
        "projectId", "project_id", "body", "data", "callId", "call_id", "callStatus",
        "call_status", "eventType", "event_type", "errors", "subject", "text", "callSid",
        "clientId", "webhookEndpoint", "authConfig", "authType", "endpointType", "code",
        "message", "__pydantic_extra__", "model_config", "x", "",
    ]
)  # fmt: skip


def _outcome(function: Any, raw: bytes) -> tuple[Any, ...]:
    try:
        keyed = function(raw)
    except ContractError as exc:
        return ("error", type(exc), exc.message, exc.field)
    return ("keyed", keyed.call_id, tuple(str(f) for f in keyed.flags), keyed.project_id)


def _containers(node: Any) -> list[Any]:
    """Every dict and list in a document, the document first."""
    found = [node]
    children = node.values() if isinstance(node, dict) else node
    for child in children:
        if isinstance(child, dict | list):
            found.extend(_containers(child))
    return found


@st.composite
def _mutated(draw: st.DrawFn) -> Any:
    source = draw(st.one_of(envelope_payloads(), st.sampled_from(SPEC_EXAMPLES)))
    document = copy.deepcopy(source)
    for _ in range(draw(st.integers(0, 4))):
        target = draw(st.sampled_from(_containers(document)))
        if isinstance(target, dict):
            key = draw(st.one_of(_ODD_KEYS, st.sampled_from(sorted(target) or ["x"])))
            action = draw(st.sampled_from(["set", "drop"]))
            if action == "drop":
                target.pop(key, None)
            else:
                target[key] = copy.deepcopy(draw(_ODD_VALUES))
        elif target:
            index = draw(st.integers(0, len(target) - 1))
            target[index] = copy.deepcopy(draw(_ODD_VALUES))
    return document


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(_mutated())
def test_quick_keying_matches_the_envelope_model(document: Any) -> None:
    raw = orjson.dumps(document)
    assert _outcome(key_webhook, raw) == _outcome(key_webhook_validated, raw)


def test_the_flags_of_every_type_and_status_pair_match() -> None:
    for event_type in [*(e.value for e in EventType), "OUTBOUND_CALL_NEW", None, ""]:
        for status in [*(s.value for s in CallStatus), "ODD", None, ""]:
            payload = make_envelope(call_id="c-1", errors=[make_error()])
            payload["eventType"] = event_type
            payload["body"]["data"]["callStatus"] = status
            for extra in (False, True):
                if extra:
                    payload["body"]["errors"][0]["newField"] = 1
                raw = orjson.dumps(payload)
                assert _outcome(key_webhook, raw) == _outcome(key_webhook_validated, raw)


def test_bodies_that_are_not_json_objects_give_the_same_error() -> None:
    for raw in [b"", b"{", b"[]", b"null", b"1", b'"x"', b"NaN", b'{"a":1e400}', b"\xff"]:
        assert _outcome(key_webhook, raw) == _outcome(key_webhook_validated, raw)
