"""The envelope model: parsing raw bodies, forward compatibility, errors and round-trips."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from processor.contract import (
    EVENT_ALLOWED_STATUSES,
    EVENT_STATUS,
    INBOUND_STATUSES,
    OUTBOUND_STATUSES,
    CallStatus,
    Direction,
    Envelope,
    EnvelopeFlag,
    EventType,
    parse_envelope,
)
from processor.errors import ContractError, MissingCallIdError, NotJsonObjectError
from tests.factories import (
    SPEC_EXAMPLE_BYTES,
    SPEC_EXAMPLES,
    drop_path,
    envelope_payloads,
    make_envelope,
    make_envelope_bytes,
    make_error,
    set_path,
    to_bytes,
)

KNOWN_EVENT_TYPES = [e for e in EventType if e is not EventType.UNKNOWN]


def parse(payload: dict[str, Any]) -> Envelope:
    """Parse a payload the way ingress does: from its raw bytes."""
    return parse_envelope(to_bytes(payload))


def reparse(envelope: Envelope) -> Envelope:
    """Send an envelope back through the wire form."""
    return parse_envelope(orjson.dumps(envelope.to_wire()))


class TestSpecExamples:
    """Every example payload of spec §7."""

    def test_all_13_examples_are_present(self) -> None:
        """The factories carry all 13 §7 payloads."""
        assert len(SPEC_EXAMPLES) == len(SPEC_EXAMPLE_BYTES) == 13

    @pytest.mark.parametrize("raw", SPEC_EXAMPLE_BYTES)
    def test_example_parses_clean(self, raw: bytes) -> None:
        """Each example parses with known enums and no flags."""
        envelope = parse_envelope(raw)
        assert envelope.event_type is not EventType.UNKNOWN
        assert envelope.call_status is not CallStatus.UNKNOWN
        assert envelope.flags == ()

    @pytest.mark.parametrize("raw", SPEC_EXAMPLE_BYTES)
    def test_example_round_trips(self, raw: bytes) -> None:
        """to_wire() gives back the original JSON object, and reparsing it is lossless."""
        envelope = parse_envelope(raw)
        assert envelope.to_wire() == orjson.loads(raw)
        assert reparse(envelope) == envelope

    def test_outbound_error_example(self) -> None:
        """The OUTBOUND_CALL_ERROR example keeps CALLING and exposes its one error."""
        envelope = parse_envelope(SPEC_EXAMPLE_BYTES[9])
        assert envelope.event_type is EventType.OUTBOUND_CALL_ERROR
        assert envelope.call_status is CallStatus.CALLING
        assert envelope.has_errors
        assert envelope.body.errors is not None
        error = envelope.body.errors[0]
        assert (error.code, error.phase, error.stacktrace) == ("NETWORK_ERROR", "CONNECTING", "")
        assert error.where == "OutboundCallAdapter.connect"
        assert envelope.body.text is not None
        assert "\n" in envelope.body.text

    def test_pending_example_fields(self) -> None:
        """Snake_case attributes read the camelCase wire fields, nulls included."""
        envelope = parse_envelope(SPEC_EXAMPLE_BYTES[0])
        assert envelope.project_id == "6f1d2c3e-8a4b-4c5d-9e0f-1a2b3c4d5e6f"
        assert envelope.call_id == "c-1001"
        assert envelope.body.data.call_sid is None
        assert envelope.body.data.client_id == "crm-42"
        assert envelope.webhook_endpoint is not None
        assert envelope.webhook_endpoint.endpoint_type == "CUSTOM"
        assert envelope.webhook_endpoint.content_key is None
        assert envelope.auth_config is not None
        assert envelope.auth_config.auth_type == "BEARER"


class TestEventTypes:
    """Every known event type with its usual status."""

    @pytest.mark.parametrize("event_type", KNOWN_EVENT_TYPES)
    def test_event_type_parses_to_its_enum(self, event_type: EventType) -> None:
        """The wire string becomes the enum member and stays as the raw value too."""
        envelope = parse(make_envelope(event_type.value))
        assert envelope.event_type is event_type
        assert envelope.event_type_raw == event_type.value
        assert envelope.call_status is EVENT_STATUS[event_type]
        assert envelope.flags == ()


class TestCallStatuses:
    """Every status, and the eventType ⇄ callStatus consistency flag."""

    @pytest.mark.parametrize("status", sorted(OUTBOUND_STATUSES))
    def test_outbound_error_accepts_every_outbound_status(self, status: CallStatus) -> None:
        """OUTBOUND_CALL_ERROR with any outbound status, internal ones included, is unflagged."""
        envelope = parse(make_envelope("OUTBOUND_CALL_ERROR", call_status=status.value))
        assert envelope.call_status is status
        assert envelope.flags == ()

    @pytest.mark.parametrize("status", sorted(INBOUND_STATUSES))
    def test_inbound_statuses_parse(self, status: CallStatus) -> None:
        """Each inbound status on its inbound event type is unflagged."""
        event_type = f"INBOUND_CALL_{status.value}"
        envelope = parse(make_envelope(event_type, call_status=status.value))
        assert envelope.call_status is status
        assert envelope.flags == ()

    @pytest.mark.parametrize(
        ("event_type", "status"),
        [
            ("OUTBOUND_CALL_PENDING", "COMPLETED"),
            ("OUTBOUND_CALL_COMPLETED", "VOICEMAIL_REACHED"),
            ("INBOUND_CALL_ERROR", "CALLING"),
            ("INBOUND_CALL_CALLING", "PENDING"),
        ],
    )
    def test_unexpected_status_is_flagged_not_rejected(self, event_type: str, status: str) -> None:
        """A status the event type does not allow still parses, flagged status_mismatch."""
        assert CallStatus(status) not in EVENT_ALLOWED_STATUSES[EventType(event_type)]
        envelope = parse(make_envelope(event_type, call_status=status))
        assert envelope.call_status is CallStatus(status)
        assert envelope.flags == (EnvelopeFlag.STATUS_MISMATCH,)


class TestDirection:
    """Direction comes from the eventType prefix; the wire has no direction field."""

    @pytest.mark.parametrize(
        ("event_type", "direction"),
        [
            ("OUTBOUND_CALL_PENDING", Direction.OUTBOUND),
            ("OUTBOUND_CALL_ERROR", Direction.OUTBOUND),
            ("INBOUND_CALL_CONNECTING", Direction.INBOUND),
            ("INBOUND_CALL_ERROR", Direction.INBOUND),
        ],
    )
    def test_known_event_type(self, event_type: str, direction: Direction) -> None:
        """A known event type gives its own direction."""
        assert parse(make_envelope(event_type)).direction is direction

    @pytest.mark.parametrize(
        ("event_type", "direction"),
        [
            ("OUTBOUND_CALL_RINGBACK", Direction.OUTBOUND),
            ("INBOUND_CALL_TRANSFERRED", Direction.INBOUND),
            ("CALL_SUMMARY_READY", Direction.UNKNOWN),
        ],
    )
    def test_unknown_event_type_uses_its_prefix(
        self, event_type: str, direction: Direction
    ) -> None:
        """A new event type still lands on its side when its prefix says which."""
        envelope = parse(make_envelope(event_type, call_status="CALLING"))
        assert envelope.event_type is EventType.UNKNOWN
        assert envelope.direction is direction

    def test_missing_event_type_has_no_direction(self) -> None:
        """Without an eventType the direction is UNKNOWN."""
        envelope = parse(drop_path(make_envelope(), "eventType"))
        assert envelope.direction is Direction.UNKNOWN


class TestUnknownValues:
    """Values the platform may add later flow through, kept and flagged."""

    def test_unknown_event_type_is_kept_and_flagged(self) -> None:
        """An unknown eventType becomes UNKNOWN, keeps its raw string and round-trips."""
        payload = make_envelope("OUTBOUND_CALL_RINGBACK", call_status="CALLING")
        envelope = parse(payload)
        assert envelope.event_type is EventType.UNKNOWN
        assert envelope.event_type_raw == "OUTBOUND_CALL_RINGBACK"
        assert envelope.flags == (EnvelopeFlag.UNKNOWN_EVENT_TYPE,)
        assert envelope.to_wire() == payload

    def test_unknown_call_status_is_kept_and_flagged(self) -> None:
        """An unknown callStatus becomes UNKNOWN, keeps its raw string and round-trips."""
        payload = make_envelope("OUTBOUND_CALL_ERROR", call_status="DIALTONE_LOST")
        envelope = parse(payload)
        assert envelope.call_status is CallStatus.UNKNOWN
        assert envelope.call_status_raw == "DIALTONE_LOST"
        assert envelope.flags == (EnvelopeFlag.UNKNOWN_CALL_STATUS,)
        assert envelope.to_wire() == payload

    def test_both_unknown_are_both_flagged(self) -> None:
        """Two unknown values give two flags and no mismatch verdict."""
        envelope = parse(make_envelope("NEW_EVENT", call_status="NEW_STATUS"))
        assert envelope.flags == (
            EnvelopeFlag.UNKNOWN_EVENT_TYPE,
            EnvelopeFlag.UNKNOWN_CALL_STATUS,
        )

    def test_literal_unknown_string_is_unknown(self) -> None:
        """The wire string "UNKNOWN" is not a real value: it is flagged like any other."""
        envelope = parse(make_envelope("UNKNOWN", call_status="UNKNOWN"))
        assert envelope.event_type is EventType.UNKNOWN
        assert envelope.call_status is CallStatus.UNKNOWN
        assert EnvelopeFlag.UNKNOWN_EVENT_TYPE in envelope.flags
        assert EnvelopeFlag.UNKNOWN_CALL_STATUS in envelope.flags

    @pytest.mark.parametrize("mutate", ["absent", "null"])
    def test_missing_call_status_is_unknown(self, mutate: str) -> None:
        """An absent or null callStatus is UNKNOWN and flagged, and stays as it came."""
        base = make_envelope()
        payload = (
            drop_path(base, "body.data.callStatus")
            if mutate == "absent"
            else set_path(base, "body.data.callStatus", None)
        )
        envelope = parse(payload)
        assert envelope.call_status is CallStatus.UNKNOWN
        assert envelope.flags == (EnvelopeFlag.UNKNOWN_CALL_STATUS,)
        assert envelope.to_wire() == payload

    def test_flags_are_plain_strings(self) -> None:
        """Flag codes compare equal to their bounded string codes (usable as metric labels)."""
        envelope = parse(make_envelope("NEW_EVENT", call_status="PENDING"))
        assert envelope.flags == ("unknown_event_type",)


class TestExtraFields:
    """Fields the contract does not name are kept at every level and flagged."""

    @pytest.mark.parametrize(
        "path",
        [
            "schemaVersion",
            "webhookEndpoint.retryPolicy",
            "eventId",
            "body.severity",
            "body.data.attempt",
            "body.errors.0.retryable",
            "authConfig.keyId",
        ],
    )
    def test_extra_field_is_preserved(self, path: str) -> None:
        """An unknown field survives parsing, is flagged and comes back on to_wire()."""
        base = make_envelope("OUTBOUND_CALL_ERROR", errors=[make_error()])
        payload = set_path(base, path, {"nested": [1, 2.5, None, True, "ü"]})
        envelope = parse(payload)
        assert envelope.flags == (EnvelopeFlag.EXTRA_FIELDS,)
        assert envelope.to_wire() == payload
        assert reparse(envelope) == envelope

    def test_top_level_extra_is_readable(self) -> None:
        """An extra top-level field can be read through model_extra."""
        envelope = parse(make_envelope(eventId="ev-1"))
        assert envelope.model_extra == {"eventId": "ev-1"}

    def test_snake_case_twin_is_an_extra_not_an_alias(self) -> None:
        """On the wire only camelCase names fill fields; a snake_case key is kept as extra."""
        payload = set_path(make_envelope(), "body.data.call_id", "other")
        envelope = parse(payload)
        assert envelope.call_id == "c-1"
        assert envelope.body.data.model_extra == {"call_id": "other"}
        assert envelope.to_wire() == payload

    def test_clean_envelope_has_no_extra_flag(self) -> None:
        """A payload with only contract fields is not flagged."""
        envelope = parse(make_envelope(errors=[make_error()]))
        assert not envelope.has_extra_fields
        assert envelope.flags == ()


class TestHasErrors:
    """has_errors is the one error signal: a non-empty body.errors, never callStatus."""

    @pytest.mark.parametrize("errors", ["absent", None, []])
    def test_no_errors(self, errors: Any) -> None:
        """Absent, null and [] errors all mean "no error", and each round-trips as sent."""
        base = make_envelope()
        payload = (
            drop_path(base, "body.errors")
            if errors == "absent"
            else set_path(base, "body.errors", errors)
        )
        envelope = parse(payload)
        assert envelope.has_errors is False
        assert envelope.to_wire() == payload

    def test_non_empty_errors(self) -> None:
        """A non-empty errors list means an error occurred."""
        envelope = parse(make_envelope("OUTBOUND_CALL_ERROR", errors=[make_error()]))
        assert envelope.has_errors is True

    @pytest.mark.parametrize("event_type", ["OUTBOUND_CALL_ERROR", "INBOUND_CALL_ERROR"])
    def test_error_status_without_errors_is_not_an_error(self, event_type: str) -> None:
        """An ERROR status with empty errors does not count as an error."""
        envelope = parse(make_envelope(event_type, call_status="ERROR"))
        assert envelope.call_status is CallStatus.ERROR
        assert envelope.has_errors is False

    def test_completed_with_errors_is_an_error(self) -> None:
        """COMPLETED with errors is "completed with errors": the errors count."""
        payload = make_envelope("OUTBOUND_CALL_COMPLETED", errors=[make_error(phase="CALLING")])
        assert parse(payload).has_errors is True

    def test_sparse_error_object_is_tolerated(self) -> None:
        """An error object missing some or all of its fields still parses and round-trips."""
        payload = make_envelope(errors=[{"code": "NEW_CODE"}, {}])
        envelope = parse(payload)
        assert envelope.has_errors is True
        assert envelope.body.errors is not None
        assert envelope.body.errors[1].message is None
        assert envelope.to_wire() == payload


class TestContractErrors:
    """A body that breaks the schema becomes a ContractError naming the wire field."""

    @pytest.mark.parametrize(
        ("path", "value", "message"),
        [
            ("body.data.callId", 1001, "body.data.callId: Input should be a valid string"),
            ("body.data.callId", None, "body.data.callId: Input should be a valid string"),
            ("body.data.callId", "", "body.data.callId: must not be empty or whitespace-only"),
            (
                "body.data.callId",
                " \t\u3000",
                "body.data.callId: must not be empty or whitespace-only",
            ),
            ("body.data", "c-1", "body.data: Input should be an object"),
            ("body", [], "body: Input should be an object"),
        ],
    )
    def test_unusable_call_id(self, path: str, value: Any, message: str) -> None:
        """A callId that is not a non-blank string, or cannot be reached, is MissingCallIdError."""
        with pytest.raises(MissingCallIdError) as info:
            parse(set_path(make_envelope(), path, value))
        assert info.value.field == path
        assert info.value.message == message

    @pytest.mark.parametrize("path", ["body.data.callId", "body.data", "body"])
    def test_missing_call_id(self, path: str) -> None:
        """A missing callId, data or body names the missing field."""
        with pytest.raises(MissingCallIdError) as info:
            parse(drop_path(make_envelope(), path))
        assert info.value.field == path
        assert info.value.message == f"{path}: Field required"

    @pytest.mark.parametrize(
        ("path", "value", "field"),
        [
            ("body.errors", "NETWORK_ERROR", "body.errors"),
            ("body.errors", {"code": "X"}, "body.errors"),
            ("body.errors.0", "NETWORK_ERROR", "body.errors.0"),
            ("body.errors.0.code", 500, "body.errors.0.code"),
            ("projectId", None, "projectId"),
            ("eventType", 7, "eventType"),
            ("body.data.callStatus", ["CALLING"], "body.data.callStatus"),
            ("body.subject", 1, "body.subject"),
            ("webhookEndpoint", "ep-7f3a", "webhookEndpoint"),
            ("authConfig.authType", True, "authConfig.authType"),
        ],
    )
    def test_wrong_type(self, path: str, value: Any, field: str) -> None:
        """A field of the wrong type is a plain ContractError naming it (callId is fine)."""
        base = make_envelope("OUTBOUND_CALL_ERROR", errors=[make_error()])
        with pytest.raises(ContractError) as info:
            parse(set_path(base, path, value))
        assert type(info.value) is ContractError
        assert info.value.field == field
        assert info.value.message.startswith(f"{field}: ")

    def test_missing_project_id(self) -> None:
        """projectId is required."""
        with pytest.raises(ContractError, match=r"^projectId: Field required$") as info:
            parse(drop_path(make_envelope(), "projectId"))
        assert info.value.field == "projectId"

    def test_not_an_object(self) -> None:
        """A JSON value that is not an object is rejected at the root (field "")."""
        with pytest.raises(NotJsonObjectError) as info:
            parse_envelope(b"[1, 2]")
        assert info.value.field == ""
        assert info.value.message == "the body must be a JSON object"

    def test_call_id_problem_comes_first(self) -> None:
        """With several problems, the callId one decides the error class and field."""
        payload = set_path(drop_path(make_envelope(), "projectId"), "body.data.callId", 5)
        with pytest.raises(MissingCallIdError) as info:
            parse(payload)
        assert info.value.field == "body.data.callId"
        assert info.value.message == (
            "body.data.callId: Input should be a valid string; projectId: Field required"
        )

    def test_long_error_lists_are_capped(self) -> None:
        """Many problems are summarised, so the message stays short."""
        payload = make_envelope(errors=[{"code": n} for n in range(20)])
        with pytest.raises(ContractError) as info:
            parse(payload)
        assert info.value.field == "body.errors.0.code"
        assert info.value.message.endswith("; (+15 more)")

    def test_message_does_not_echo_the_input(self) -> None:
        """Rejected values (possibly personal data) are not copied into the message."""
        with pytest.raises(ContractError) as info:
            parse(set_path(make_envelope(), "body.subject", {"phone": "+15550100"}))
        assert "+15550100" not in str(info.value)

    def test_cause_is_chained(self) -> None:
        """The pydantic error is kept as the cause for debugging."""
        with pytest.raises(ContractError) as info:
            parse(drop_path(make_envelope(), "body"))
        assert isinstance(info.value.__cause__, ValidationError)

    def test_call_id_is_kept_exactly(self) -> None:
        """A callId with surrounding whitespace is accepted and not stripped."""
        assert parse(make_envelope(call_id=" c-1 ")).call_id == " c-1 "


class TestInvalidJson:
    """A body that is not JSON at all."""

    @pytest.mark.parametrize(
        "raw",
        [b"", b"{", b"not json", b'{"projectId": "p"} trailing', b"\xff\xfe{}", b"{'a': 1}"],
    )
    def test_invalid_json(self, raw: bytes) -> None:
        """Invalid JSON (or invalid UTF-8) is a ContractError on the root saying so."""
        with pytest.raises(NotJsonObjectError) as info:
            parse_envelope(raw)
        assert info.value.field == ""
        assert info.value.message.startswith("the body is not valid JSON")

    @pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1E+400"])
    def test_non_rfc8259_numbers_are_rejected(self, token: bytes) -> None:
        """NaN, Infinity and numbers that overflow a double are not JSON (RFC 8259), so
        a body with one anywhere is rejected, with the position of the offending value."""
        raw = make_envelope_bytes()[:-1] + b',"x":' + token + b"}"
        with pytest.raises(NotJsonObjectError) as info:
            parse_envelope(raw)
        assert info.value.message.startswith("the body is not valid JSON (line 1, column ")

    def test_message_hides_parser_internals(self) -> None:
        """A broken literal is reported as not valid JSON with a position, without the
        parser's own wording."""
        with pytest.raises(NotJsonObjectError) as info:
            parse_envelope(b'{"a": trux}')
        assert info.value.message == "the body is not valid JSON (line 1, column 7)"


class TestUnicode:
    """Non-ASCII text survives parsing and re-serialising."""

    @pytest.mark.parametrize(
        "text",
        [
            "📞 call ended ✅",
            "通话已完成 客户满意",
            "המתקשר לא ענה",
            "مرحبا بالعالم",
            "e\u0301\u200d👩‍👩‍👧",
        ],
    )
    def test_text_round_trips(self, text: str) -> None:
        """Emoji, CJK and RTL text in every free-text field come back unchanged."""
        payload = make_envelope(
            "OUTBOUND_CALL_ERROR",
            call_id=f"c-{text}",
            client_id=text,
            errors=[make_error(message=text, stacktrace=text)],
        )
        payload = set_path(payload, "body.subject", text)
        payload = set_path(payload, "body.data." + text, text)
        envelope = parse(payload)
        assert envelope.body.subject == text
        assert envelope.call_id == f"c-{text}"
        assert envelope.to_wire() == payload
        assert reparse(envelope) == envelope


class TestModel:
    """The envelope as a Python value."""

    def test_is_frozen(self) -> None:
        """A received envelope cannot be edited in place."""
        envelope = parse(make_envelope())
        with pytest.raises(ValidationError):
            envelope.project_id = "other"  # type: ignore[misc]

    def test_builds_from_python_names(self) -> None:
        """Code may build an envelope with snake_case names; it dumps in wire form."""
        envelope = Envelope.model_validate(
            {
                "project_id": "p-1",
                "event_type_raw": "INBOUND_CALL_CALLING",
                "body": {"data": {"call_id": "i-1", "call_status_raw": "CALLING"}},
            }
        )
        assert envelope.event_type is EventType.INBOUND_CALL_CALLING
        assert envelope.to_wire() == {
            "projectId": "p-1",
            "eventType": "INBOUND_CALL_CALLING",
            "body": {"data": {"callId": "i-1", "callStatus": "CALLING"}},
        }

    def test_minimal_envelope(self) -> None:
        """Only projectId and body.data.callId are required; everything else may be absent."""
        payload = {"projectId": "p-1", "body": {"data": {"callId": "c-1"}}}
        envelope = parse(payload)
        assert envelope.webhook_endpoint is None
        assert envelope.auth_config is None
        assert envelope.has_errors is False
        assert envelope.flags == (
            EnvelopeFlag.UNKNOWN_EVENT_TYPE,
            EnvelopeFlag.UNKNOWN_CALL_STATUS,
        )
        assert envelope.to_wire() == payload


class TestRoundTripProperty:
    """Random valid envelopes survive bytes -> Envelope -> bytes unchanged."""

    @settings(max_examples=200, deadline=None)
    @given(payload=envelope_payloads())
    def test_round_trip(self, payload: dict[str, Any]) -> None:
        """Any valid envelope, with unknown values and extra fields, round-trips exactly."""
        envelope = parse(payload)
        assert envelope.to_wire() == payload
        assert reparse(envelope) == envelope

    @settings(max_examples=200, deadline=None)
    @given(payload=envelope_payloads())
    def test_flags_match_the_payload(self, payload: dict[str, Any]) -> None:
        """The unknown-value flags are raised exactly when the raw value is not a known one."""
        envelope = parse(payload)
        known_types = {e.value for e in EventType} - {"UNKNOWN"}
        known_statuses = {s.value for s in CallStatus} - {"UNKNOWN"}
        raw_type = payload.get("eventType")
        raw_status = payload["body"]["data"].get("callStatus")
        assert (EnvelopeFlag.UNKNOWN_EVENT_TYPE in envelope.flags) == (raw_type not in known_types)
        assert (EnvelopeFlag.UNKNOWN_CALL_STATUS in envelope.flags) == (
            raw_status not in known_statuses
        )
        assert envelope.has_errors == bool(payload["body"].get("errors"))

    @settings(max_examples=100, deadline=None)
    @given(call_id=st.text(st.sampled_from(" \t\n\r\f\v\u00a0\u2003\u3000"), max_size=6))
    def test_blank_call_ids_are_rejected(self, call_id: str) -> None:
        """An empty or whitespace-only callId is always MissingCallIdError."""
        with pytest.raises(MissingCallIdError):
            parse(make_envelope(call_id=call_id))
