"""What an unprocessable webhook still tells: does it claim errors?"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
import pytest

from processor.contract import parse_envelope
from processor.errors import ContractError
from processor.worker.ingest import claimed_errors, dlq_reason
from tests.factories import make_envelope


@dataclass(frozen=True)
class _Record:
    key: bytes | None
    value: bytes | None
    topic: str = "t"
    partition: int = 0
    offset: int = 1
    timestamp: int = 1
    headers: tuple[tuple[str, bytes], ...] = ()


def _record(value: bytes, key: bytes = b"k-1") -> _Record:
    return _Record(key=key, value=value)


class TestClaimedErrors:
    @pytest.mark.parametrize("errors", ["boom", ["boom"], [{"code": 1}], {"x": 1}, 7])
    def test_any_non_empty_errors_is_a_claim(self, errors: object) -> None:
        """Whatever its shape, a non-empty body.errors is reported with the callId,
        projectId and eventType that can be read, and the errors as JSON text."""
        payload = make_envelope(event_type="OUTBOUND_CALL_ERROR", call_id="c-9")
        payload["body"]["errors"] = errors
        claim = claimed_errors(_record(orjson.dumps(payload)))
        assert claim is not None
        assert claim.call_id == "c-9"
        assert claim.event_type_raw == "OUTBOUND_CALL_ERROR"
        assert claim.errors_text == orjson.dumps(errors).decode()

    @pytest.mark.parametrize("errors", [[], None, "", {}])
    def test_empty_or_missing_errors_claim_nothing(self, errors: object) -> None:
        """[], null, "" and {} claim no error: no alert for those."""
        payload = make_envelope(call_id="c-9")
        payload["body"]["errors"] = errors
        assert claimed_errors(_record(orjson.dumps(payload))) is None

    def test_not_json_or_not_an_object_claims_nothing(self) -> None:
        """A body that is not a JSON object cannot claim anything."""
        assert claimed_errors(_record(b"\xff{nope")) is None
        assert claimed_errors(_record(b"[1,2]")) is None

    def test_without_a_callid_the_record_key_names_the_call(self) -> None:
        """The Kafka key (the callId the ingress extracted) is the fallback."""
        value = orjson.dumps({"body": {"errors": ["boom"], "data": {}}})
        claim = claimed_errors(_record(value, key=b"from-key"))
        assert claim is not None
        assert claim.call_id == "from-key"


class TestDeadLetterReason:
    @pytest.mark.parametrize(
        ("body", "reason"),
        [
            (b"\xff{nope", "not_json"),
            (b'{"a": Infinity}', "not_json"),  # RFC 8259: no Infinity
            (b"[1, 2]", "not_json"),  # JSON, but not an object
            (b'{"body": {"data": {}}}', "missing_call_id"),
            (b'{"body": {"data": {"callId": "c-1"}}}', "invalid_contract"),
        ],
    )
    def test_the_reason_follows_the_kind_of_contract_error(self, body: bytes, reason: str) -> None:
        """The DLQ reason comes from the error's type, not from its message's wording."""
        with pytest.raises(ContractError) as caught:
            parse_envelope(body)
        assert dlq_reason(caught.value) == reason
