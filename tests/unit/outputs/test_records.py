"""Output record builders, driven by the real state machine on realistic envelopes.

Every record built here is also checked against the JSON Schema shipped for
its topic, and its fields against the schema's property list, so a builder
cannot drift from what consumers were promised.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from processor.calls import (
    CallEvent,
    CallState,
    EmitEvent,
    RaiseAlert,
    Severity,
    Verdict,
    check_stalled,
    handle,
)
from processor.contract import Envelope, parse_envelope
from processor.outputs import (
    DeadLetter,
    DeadLetterReason,
    SourceRef,
    alert_record,
    changelog_record,
    dlq_record,
    event_record,
    parse_changelog,
    parse_dlq_record,
    state_record,
)
from processor.outputs.alerts import SUMMARY_MAX_CHARS
from processor.outputs.schemas import load_schema
from processor.worker.ingest import call_event
from tests.factories import (
    PROJECT_ID,
    SPEC_EXAMPLE_BYTES,
    envelope_payloads,
    make_envelope,
    make_error,
    to_bytes,
)

T0 = 1_780_300_000_000
TOPIC = "recho.webhooks.v1"
STALL_AFTER_MS = 900_000

_VALIDATORS = {
    name: Draft202012Validator(load_schema(name))
    for name in (
        "call-events.v1.json",
        "call-state.v1.json",
        "call-alerts.v1.json",
        "webhooks-dlq.v1.json",
    )
}


def check(raw: bytes, schema_file: str) -> dict[str, Any]:
    """Parse a record, validate it against its shipped schema, and return it.

    The record must carry exactly the properties the schema lists: the schema
    allows unknown fields (for readers), so drift is caught here instead.
    """
    record = orjson.loads(raw)
    validator = _VALIDATORS[schema_file]
    validator.validate(record)
    assert set(record) == set(validator.schema["properties"])
    return record  # type: ignore[no-any-return]


def to_event(envelope: Envelope, raw: bytes, received_at_ms: int) -> CallEvent:
    """The CallEvent the worker builds from a decoded webhook."""
    return call_event(envelope, raw, received_at_ms)


@dataclass
class Step:
    """One webhook through handle(), with the records built right after it."""

    raw: bytes
    envelope: Envelope
    source: SourceRef
    emit: EmitEvent
    alerts: list[RaiseAlert]
    event: dict[str, Any]
    state: dict[str, Any]
    alert_records: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Calls:
    """A worker's in-memory call store, fed raw webhooks in order."""

    states: dict[str, CallState] = field(default_factory=dict)
    offset: int = 0

    def feed(self, raw: bytes, *, at_ms: int | None = None) -> Step:
        """Handle one raw body and build its event, state and alert records."""
        envelope = parse_envelope(raw)
        received = T0 + self.offset * 1000 if at_ms is None else at_ms
        source = SourceRef(TOPIC, 3, self.offset)
        self.offset += 1
        state, effects = handle(
            self.states.get(envelope.call_id), to_event(envelope, raw, received)
        )
        self.states[envelope.call_id] = state
        emit = next(e for e in effects if isinstance(e, EmitEvent))
        alerts = [e for e in effects if isinstance(e, RaiseAlert)]
        return Step(
            raw=raw,
            envelope=envelope,
            source=source,
            emit=emit,
            alerts=alerts,
            event=check(
                event_record(emit, envelope, source, envelope.flags), "call-events.v1.json"
            ),
            state=check(state_record(state), "call-state.v1.json"),
            alert_records=[
                check(alert_record(a, envelope, source), "call-alerts.v1.json") for a in alerts
            ],
        )

    def feed_all(self, payloads: Iterable[dict[str, Any] | bytes]) -> list[Step]:
        """Feed dicts or raw bodies in order."""
        return [self.feed(p if isinstance(p, bytes) else to_bytes(p)) for p in payloads]


def outbound(call_id: str = "c-1", *events: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Envelopes of one outbound call, one per event type suffix."""
    return [make_envelope(f"OUTBOUND_CALL_{e}", call_id=call_id, **kwargs) for e in events]


class TestEventRecord:
    """event_record(): one call-events record per handled webhook."""

    @pytest.mark.parametrize("index", range(len(SPEC_EXAMPLE_BYTES)))
    def test_spec_examples_match_schema(self, index: int) -> None:
        """Each spec §7 example, fed in order, gives a schema-valid record of its own fields."""
        calls = Calls()
        steps = calls.feed_all(SPEC_EXAMPLE_BYTES[: index + 1])
        step = steps[-1]
        record = step.event
        data = step.envelope.body.data
        assert record["schema"] == "recho.call-event/1"
        assert record["callId"] == data.call_id
        assert record["projectId"] == PROJECT_ID
        assert record["eventType"] == record["eventTypeRaw"] == step.envelope.event_type_raw
        assert record["callStatus"] == data.call_status_raw
        assert record["callSid"] == data.call_sid
        assert record["clientId"] == data.client_id
        assert record["direction"] == step.envelope.direction.value
        assert record["flags"] == []
        assert record["bodySha256"] == hashlib.sha256(step.raw).hexdigest()

    def test_first_event_comes_from_new(self) -> None:
        """A call's first event has previousStatus NEW; the next starts where it ended."""
        steps = Calls().feed_all(outbound("c-1", "PENDING", "REQUESTED"))
        assert [(s.event["previousStatus"], s.event["status"]) for s in steps] == [
            ("NEW", "PENDING"),
            ("PENDING", "REQUESTED"),
        ]
        assert [s.event["verdict"] for s in steps] == ["EXPECTED", "EXPECTED"]

    def test_carries_source_and_receive_time(self) -> None:
        """The input position and the ingress receive time are in the record."""
        calls = Calls(offset=41)
        step = calls.feed(to_bytes(make_envelope()), at_ms=T0 + 5)
        assert step.event["source"] == {"topic": TOPIC, "partition": 3, "offset": 41}
        assert step.event["receivedAtMs"] == T0 + 5

    def test_error_status_without_errors_has_no_errors(self) -> None:
        """An OUTBOUND_CALL_ERROR with errors [] has hasErrors false: callStatus never decides."""
        steps = Calls().feed_all(outbound("c-1", "PENDING", "ERROR", call_status="ERROR"))
        record = steps[-1].event
        assert record["callStatus"] == "ERROR"
        assert record["status"] == "ERROR"
        assert record["hasErrors"] is False
        assert record["errors"] == []
        assert steps[-1].alert_records == []

    def test_errors_are_kept_as_received(self) -> None:
        """A completed call with errors lists every error with all six fields, stacktrace too."""
        errors = [
            make_error("NETWORK_ERROR", "CALLING", "Transient media drop", stacktrace="at x"),
            make_error("CODEC", "CLOSING", "bad frame", where=""),
        ]
        payloads = outbound("c-1", "PENDING", "REQUESTED", "CALLING", "CLOSING")
        payloads.append(make_envelope("OUTBOUND_CALL_COMPLETED", call_id="c-1", errors=errors))
        record = Calls().feed_all(payloads)[-1].event
        assert record["hasErrors"] is True
        assert record["errors"] == [{k: e[k] for k in record["errors"][0]} for e in errors]
        assert set(record["errors"][0]) == {
            "code",
            "message",
            "timestamp",
            "where",
            "phase",
            "stacktrace",
        }

    def test_unknown_event_type_flows_through_flagged(self) -> None:
        """A new outbound type is UNKNOWN with its raw name, OUTBOUND, UNKNOWN_TYPE, flagged."""
        calls = Calls()
        calls.feed_all(outbound("c-1", "PENDING"))
        step = calls.feed(to_bytes(make_envelope("OUTBOUND_CALL_RINGING", call_id="c-1")))
        record = step.event
        assert record["eventType"] == "UNKNOWN"
        assert record["eventTypeRaw"] == "OUTBOUND_CALL_RINGING"
        assert record["direction"] == "OUTBOUND"
        assert record["verdict"] == Verdict.UNKNOWN_TYPE
        assert record["previousStatus"] == record["status"] == "PENDING"
        assert record["flags"] == ["unknown_event_type", "unknown_call_status"]

    def test_duplicate_delivery(self) -> None:
        """The same body twice: the second is DUPLICATE and leaves the status where it was."""
        raw = to_bytes(make_envelope())
        calls = Calls()
        first, second = calls.feed(raw), calls.feed(raw)
        assert second.event["verdict"] == "DUPLICATE"
        assert (second.event["previousStatus"], second.event["status"]) == ("PENDING", "PENDING")
        assert second.event["bodySha256"] == first.event["bodySha256"]

    def test_null_fields_are_null(self) -> None:
        """Absent eventType, callStatus and errors give nulls and [], still schema-valid."""
        payload = make_envelope()
        del payload["eventType"]
        del payload["body"]["errors"]
        payload["body"]["data"]["callStatus"] = None
        record = Calls().feed(to_bytes(payload)).event
        assert record["eventType"] == "UNKNOWN"
        assert record["eventTypeRaw"] is None
        assert record["callStatus"] is None
        assert record["direction"] == "UNKNOWN"
        assert record["status"] == "NEW"
        assert record["errors"] == []

    @settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
    @given(payload=envelope_payloads())
    def test_any_valid_envelope_gives_valid_records(self, payload: dict[str, Any]) -> None:
        """Whatever a valid envelope holds (unknown values, nulls, extras), records are valid."""
        Calls().feed(to_bytes(payload))


class TestStateRecord:
    """state_record(): the public latest state of a call."""

    def test_outbound_happy_path(self) -> None:
        """After a full call: finished, outcome, timings, attempts and the history with times."""
        payloads = outbound("c-1", "PENDING", "REQUESTED", "CALLING", "CLOSING", "COMPLETED")
        record = Calls().feed_all(payloads)[-1].state
        assert record == {
            "schema": "recho.call-state/1",
            "callId": "c-1",
            "projectId": PROJECT_ID,
            "direction": "OUTBOUND",
            "status": "COMPLETED",
            "lastReportedStatus": "COMPLETED",
            "history": [
                {"status": s, "atMs": T0 + i * 1000}
                for i, s in enumerate(["PENDING", "REQUESTED", "CALLING", "CLOSING", "COMPLETED"])
            ],
            "historyDropped": 0,
            "firstSeenMs": T0,
            "lastSeenMs": T0 + 4000,
            "eventsSeen": 5,
            "errorCount": 0,
            "errorCodes": [],
            "attempts": 1,
            "finished": True,
            "outcome": "COMPLETED",
            "terminalAtMs": T0 + 4000,
            "durationMs": 4000,
            "timeToAnswerMs": 2000,
            "stalled": False,
        }

    def test_open_call(self) -> None:
        """An open call has no outcome, terminal time, duration or answer time yet."""
        record = Calls().feed_all(outbound("c-1", "PENDING"))[-1].state
        assert record["finished"] is False
        assert (record["outcome"], record["terminalAtMs"], record["durationMs"]) == (
            None,
            None,
            None,
        )
        assert record["timeToAnswerMs"] is None

    def test_status_new_before_a_known_event(self) -> None:
        """A call whose only event has an unknown type is at NEW, with no history."""
        record = Calls().feed(to_bytes(make_envelope("OUTBOUND_CALL_RINGING"))).state
        assert record["status"] == "NEW"
        assert record["lastReportedStatus"] == "UNKNOWN"
        assert record["history"] == []

    def test_error_codes_and_count(self) -> None:
        """Errored events count, and their distinct codes are listed."""
        payloads = [
            make_envelope("OUTBOUND_CALL_PENDING", errors=[make_error("A")]),
            make_envelope("OUTBOUND_CALL_ERROR", errors=[make_error("B"), make_error("A")]),
        ]
        record = Calls().feed_all(payloads)[-1].state
        assert record["errorCount"] == 2
        assert record["errorCodes"] == ["A", "B"]
        assert record["outcome"] == "ERROR"

    def test_no_dedupe_internals(self) -> None:
        """The remembered body hashes stay private to the changelog."""
        state = _state()
        assert state.recent_hashes
        record = orjson.loads(state_record(state))
        assert set(record).isdisjoint({"b", "recentHashes", "recent_hashes", "stalledAlerted"})
        assert state.recent_hashes.hex() not in str(record)

    def test_stalled_flag(self) -> None:
        """Once a CALL_STALLED alert is raised for the call, stalled is true."""
        state = _state()
        assert check_stalled(state, state.last_seen_ms + STALL_AFTER_MS, STALL_AFTER_MS)
        assert check(state_record(state), "call-state.v1.json")["stalled"] is True


def _state() -> CallState:
    """An open outbound call at CALLING."""
    calls = Calls()
    calls.feed_all(outbound("c-1", "PENDING", "REQUESTED", "CALLING"))
    return calls.states["c-1"]


class TestAlertRecord:
    """alert_record(): errored events and stalled calls on the alerts topic."""

    def test_errored_event(self) -> None:
        """The spec's OUTBOUND_CALL_ERROR example: a critical ERRORED_EVENT with its errors."""
        calls = Calls()
        step = calls.feed(SPEC_EXAMPLE_BYTES[9])
        (record,) = step.alert_records
        assert record == {
            "schema": "recho.call-alert/1",
            "alertId": step.alerts[0].alert_id,
            "kind": "ERRORED_EVENT",
            "severity": "critical",
            "callId": "c-1002",
            "projectId": PROJECT_ID,
            "direction": "OUTBOUND",
            "eventType": "OUTBOUND_CALL_ERROR",
            "eventTypeRaw": "OUTBOUND_CALL_ERROR",
            "callStatus": "CALLING",
            "errorKind": "IN_CALL",
            "errors": [
                {
                    "code": "NETWORK_ERROR",
                    "phase": "CONNECTING",
                    "message": "Upstream socket reset",
                    "where": "OutboundCallAdapter.connect",
                    "timestamp": "2026-06-01T09:15:02.418Z",
                }
            ],
            "errorCodes": ["NETWORK_ERROR"],
            "atMs": T0,
            "summary": "OUTBOUND_CALL_ERROR on call c-1002: NETWORK_ERROR (phase CONNECTING) "
            "Upstream socket reset",
            "context": {
                "status": "ERROR",
                "attempts": 0,
                "eventsSeen": 1,
                "errorCount": 1,
                "firstSeenMs": T0,
                "lastSeenMs": T0,
                "outcome": "ERROR",
            },
            "source": {"topic": TOPIC, "partition": 3, "offset": 0},
        }

    def test_errors_on_a_non_error_event_warn(self) -> None:
        """Errors on a COMPLETED event raise a warning alert; the event's status is COMPLETED."""
        steps = Calls().feed_all(SPEC_EXAMPLE_BYTES)
        (record,) = steps[10].alert_records
        assert record["severity"] == Severity.WARNING
        assert record["eventType"] == "OUTBOUND_CALL_COMPLETED"
        assert record["callStatus"] == "COMPLETED"
        assert record["summary"] == (
            "OUTBOUND_CALL_COMPLETED on call c-1003: NETWORK_ERROR (phase CALLING) "
            "Transient media drop"
        )

    def test_only_errored_events_alert(self) -> None:
        """Across the spec examples exactly the two with non-empty errors raise alerts."""
        steps = Calls().feed_all(SPEC_EXAMPLE_BYTES)
        alerted = [s.event["callId"] for s in steps if s.alert_records]
        assert alerted == ["c-1002", "c-1003"]
        assert all(s.event["hasErrors"] == bool(s.alert_records) for s in steps)

    def test_alert_id_is_deterministic(self) -> None:
        """Reprocessing the same webhook gives the same alertId; another body, another id."""
        raw = SPEC_EXAMPLE_BYTES[9]
        first = Calls().feed(raw).alert_records[0]["alertId"]
        again = Calls().feed(raw).alert_records[0]["alertId"]
        other_body = raw.replace(b"Upstream socket reset", b"Upstream socket closed")
        other = Calls().feed(other_body).alert_records[0]["alertId"]
        assert first == again
        assert other != first
        assert len(first) == 32

    def test_summary_is_one_bounded_line(self) -> None:
        """Newlines and huge messages collapse to one line of bounded length; extras counted."""
        errors = [make_error(message="line one\nline two " + "x" * 1000), make_error("B")]
        step = Calls().feed(to_bytes(make_envelope("OUTBOUND_CALL_ERROR", errors=errors)))
        summary = step.alert_records[0]["summary"]
        assert "\n" not in summary
        assert len(summary) <= SUMMARY_MAX_CHARS
        assert summary.startswith("OUTBOUND_CALL_ERROR on call c-1: NETWORK_ERROR (phase ")
        short = [make_error(message="short"), make_error("B")]
        step = Calls().feed(to_bytes(make_envelope("OUTBOUND_CALL_ERROR", errors=short)))
        assert step.alert_records[0]["summary"].endswith("short (+1 more)")

    def test_stalled_call(self) -> None:
        """A silent open call gives CALL_STALLED with the last reported status and no event."""
        state = _state()
        now = state.last_seen_ms + STALL_AFTER_MS + 5_000
        alert = check_stalled(state, now, STALL_AFTER_MS)
        assert alert is not None
        record = check(alert_record(alert, None, None), "call-alerts.v1.json")
        assert record["kind"] == "CALL_STALLED"
        assert record["severity"] == "warning"
        assert record["alertId"] == alert.alert_id
        assert (record["eventType"], record["eventTypeRaw"], record["errorKind"]) == (
            None,
            None,
            None,
        )
        assert record["callStatus"] == "CALLING"
        assert (record["errors"], record["errorCodes"], record["source"]) == ([], [], None)
        assert record["atMs"] == now
        assert record["context"]["status"] == "CALLING"
        assert record["context"]["lastSeenMs"] == state.last_seen_ms
        assert record["summary"] == (
            "CALL_STALLED on call c-1: no terminal event, silent for 905 s in status CALLING"
        )

    def test_stall_alert_id_is_per_call(self) -> None:
        """A call's stall alert id is the same whenever it is raised, different per call."""
        first, second = _state(), _state()
        at = first.last_seen_ms + STALL_AFTER_MS
        a = check_stalled(first, at, STALL_AFTER_MS)
        b = check_stalled(second, at + 60_000, STALL_AFTER_MS)
        assert a is not None
        assert b is not None
        assert orjson.loads(alert_record(a, None, None))["alertId"] == b.alert_id

    def test_alert_record_does_not_depend_on_when_it_is_built(self) -> None:
        """An errored event's alert reads the same after later events moved its call on."""
        calls = Calls()
        errors = [make_error("NETWORK_ERROR")]
        step = calls.feed(to_bytes(make_envelope("OUTBOUND_CALL_CALLING", errors=errors)))
        calls.feed(to_bytes(make_envelope("OUTBOUND_CALL_COMPLETED")))
        (alert,) = step.alerts
        late = orjson.loads(alert_record(alert, step.envelope, step.source))
        assert late == step.alert_records[0]
        assert late["context"]["eventsSeen"] == 1


class TestDlqRecord:
    """dlq_record() and parse_dlq_record(): dead letters that replay byte for byte."""

    SOURCE = SourceRef(TOPIC, 2, 77)

    def build(self, **kwargs: Any) -> bytes:
        """A dead letter with defaults for what the test does not care about."""
        values: dict[str, Any] = {
            "reason": "not_json",
            "error": "body is not valid JSON",
            "source": self.SOURCE,
            "key": b"c-1",
            "value": b"{nope",
            "headers": [("content-type", b"application/json")],
            "failed_at_ms": T0,
        } | kwargs
        return dlq_record(**values)

    def test_fields(self) -> None:
        """The record names the reason, error, source, readable key and value, and headers."""
        record = check(self.build(), "webhooks-dlq.v1.json")
        assert record == {
            "schema": "recho.webhook-dead-letter/1",
            "reason": "not_json",
            "error": "body is not valid JSON",
            "source": {"topic": TOPIC, "partition": 2, "offset": 77},
            "key": "c-1",
            "keyBase64": "Yy0x",
            "valueBase64": "e25vcGU=",
            "valueText": "{nope",
            "headers": [{"key": "content-type", "valueBase64": "YXBwbGljYXRpb24vanNvbg=="}],
            "failedAtMs": T0,
        }

    @given(
        key=st.none() | st.binary(max_size=40),
        value=st.none() | st.binary(max_size=300),
        headers=st.lists(
            st.tuples(st.text(max_size=10), st.none() | st.binary(max_size=20)), max_size=4
        ),
        reason=st.sampled_from(list(DeadLetterReason)),
    )
    def test_round_trip_is_exact(
        self,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes | None]],
        reason: str,
    ) -> None:
        """Any key, value (invalid UTF-8 too) and headers come back exactly, in order."""
        raw = self.build(reason=reason, key=key, value=value, headers=headers)
        check(raw, "webhooks-dlq.v1.json")
        assert parse_dlq_record(raw) == DeadLetter(
            reason=reason,
            error="body is not valid JSON",
            source=self.SOURCE,
            key=key,
            value=value,
            headers=headers,
            failed_at_ms=T0,
        )

    def test_invalid_utf8_is_readable(self) -> None:
        """Bytes that are not UTF-8 still give readable text (replaced), and the exact base64."""
        raw = self.build(key=b"c-\xff", value=b'{"a":"\xc3\x28"}')
        record = check(raw, "webhooks-dlq.v1.json")
        assert record["key"] == "c-\ufffd"
        assert record["valueText"] == '{"a":"\ufffd("}'
        letter = parse_dlq_record(raw)
        assert (letter.key, letter.value) == (b"c-\xff", b'{"a":"\xc3\x28"}')

    def test_tombstone_input(self) -> None:
        """A null key and value are recorded as nulls and come back as None."""
        record = check(self.build(key=None, value=None), "webhooks-dlq.v1.json")
        assert (record["key"], record["keyBase64"]) == (None, None)
        assert (record["valueBase64"], record["valueText"]) == (None, None)

    def test_unknown_reason_is_refused(self) -> None:
        """Reasons are bounded metric labels: anything else is a programming error."""
        with pytest.raises(ValueError, match="unknown dead-letter reason"):
            self.build(reason="oops")

    @pytest.mark.parametrize(
        "raw",
        [
            b"not json",
            b"[]",
            b'{"reason": "not_json"}',
            b'{"reason":"not_json","error":"e","source":{"topic":"t","partition":0,"offset":1},'
            b'"keyBase64":"!!","valueBase64":null,"headers":[],"failedAtMs":1}',
        ],
    )
    def test_malformed_record_is_refused(self, raw: bytes) -> None:
        """Something that is not a dead letter raises ValueError instead of replaying garbage."""
        with pytest.raises(ValueError):  # noqa: PT011 - every malformation is a ValueError
            parse_dlq_record(raw)


class TestChangelogRecord:
    """changelog_record() and parse_changelog(): the worker's state survives a restart."""

    def test_round_trip(self) -> None:
        """A call with history, errors, hashes and a stall marker comes back equal."""
        calls = Calls()
        payloads: Sequence[dict[str, Any]] = [
            *outbound("c-1", "PENDING", "REQUESTED"),
            make_envelope("OUTBOUND_CALL_ERROR", call_id="c-1", errors=[make_error()]),
        ]
        calls.feed_all(payloads)
        state = calls.states["c-1"]
        state.stalled_alerted = True
        assert parse_changelog(changelog_record(state)) == state

    @pytest.mark.parametrize("raw", [b"nope", b"[1]", b'{"v": 99}', b'{"v": 1}'])
    def test_malformed_is_refused(self, raw: bytes) -> None:
        """Bytes that are not a state raise ValueError."""
        with pytest.raises(ValueError):  # noqa: PT011 - every malformation is a ValueError
            parse_changelog(raw)
