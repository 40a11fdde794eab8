"""Errors a call reports: body.errors as the only error signal, alerts, and classify_error."""

from __future__ import annotations

import pytest

from processor.calls.event import ErrorKind, classify_error
from processor.calls.machine import (
    AlertKind,
    CallFinished,
    EmitEvent,
    RaiseAlert,
    Severity,
    alert_id,
    handle,
)
from processor.calls.state import ERROR_CODE_MAX_LEN, ERROR_CODES_CAP, CallOutcome
from processor.calls.tables import Verdict
from processor.contract.enums import CallStatus, EventType
from tests.unit.calls.events import CALL_ID, E, S, make_event, of_type, outbound_at


class TestErrors:
    """body.errors is the only error signal."""

    def test_completed_with_errors(self) -> None:
        """COMPLETED with errors finishes as COMPLETED_WITH_ERRORS and warns once."""
        state = outbound_at(S.CLOSING)
        state, effects = handle(
            state, make_event(E.OUTBOUND_CALL_COMPLETED, errors=["NETWORK_ERROR"])
        )
        assert [type(e) for e in effects] == [EmitEvent, RaiseAlert, CallFinished]
        alert = of_type(effects, RaiseAlert)[0]
        assert alert.severity is Severity.WARNING
        assert alert.kind is AlertKind.ERRORED_EVENT
        finished = of_type(effects, CallFinished)[0]
        assert finished.outcome is CallOutcome.COMPLETED_WITH_ERRORS
        assert finished.error_count == 1
        assert state.outcome is CallOutcome.COMPLETED_WITH_ERRORS

    @pytest.mark.parametrize(
        ("setup", "event_type"),
        [
            (E.OUTBOUND_CALL_PENDING, E.OUTBOUND_CALL_ERROR),
            (E.INBOUND_CALL_CONNECTING, E.INBOUND_CALL_ERROR),
        ],
    )
    def test_error_event_with_errors_is_critical(
        self, setup: EventType, event_type: EventType
    ) -> None:
        """An *_CALL_ERROR with errors raises one critical alert carrying codes and phases."""
        state, _ = handle(None, make_event(setup))
        event = make_event(event_type, errors=["NETWORK_ERROR"], phases=["CONNECTING"])
        state, effects = handle(state, event)
        (alert,) = of_type(effects, RaiseAlert)
        assert alert.severity is Severity.CRITICAL
        assert alert.error_codes == ("NETWORK_ERROR",)
        assert alert.error_phases == ("CONNECTING",)
        assert alert.event_type is event_type
        assert alert.status is S.ERROR
        assert alert.alert_id == alert_id(CALL_ID, f"event\x00{event.body_hash}")
        assert state.outcome is CallOutcome.ERROR

    def test_error_status_without_errors_raises_no_alert(self) -> None:
        """OUTBOUND_CALL_ERROR with an empty errors array ends the call but alerts nothing."""
        state = outbound_at(S.CALLING)
        state, effects = handle(state, make_event(E.OUTBOUND_CALL_ERROR))
        assert not of_type(effects, RaiseAlert)
        assert state.outcome is CallOutcome.ERROR
        assert state.error_count == 0

    def test_error_call_status_on_other_event_is_not_an_error(self) -> None:
        """callStatus ERROR on a non-error event with no errors is just a snapshot."""
        state = outbound_at(S.CALLING)
        state, effects = handle(state, make_event(E.OUTBOUND_CALL_CLOSING, call_status=S.ERROR))
        assert not of_type(effects, RaiseAlert)
        assert state.outcome is None
        assert state.last_reported_status is S.ERROR

    def test_errors_on_an_open_call_warn_without_ending_it(self) -> None:
        """Errors on CALLING warn and are counted; the call goes on."""
        state = outbound_at(S.REQUESTED)
        state, effects = handle(state, make_event(E.OUTBOUND_CALL_CALLING, errors=["E1", "E1"]))
        assert of_type(effects, RaiseAlert)[0].severity is Severity.WARNING
        assert state.error_count == 1
        assert state.error_codes == ("E1",)
        assert not state.finished

    def test_error_codes_distinct_capped_and_cut(self) -> None:
        """Kept codes are distinct, the first ERROR_CODES_CAP, each cut to ERROR_CODE_MAX_LEN."""
        long_code = "X" * (ERROR_CODE_MAX_LEN + 10)
        codes = [long_code, *(f"CODE_{i}" for i in range(ERROR_CODES_CAP + 5))]
        state, _ = handle(None, make_event(E.OUTBOUND_CALL_PENDING, errors=codes))
        state, _ = handle(state, make_event(E.OUTBOUND_CALL_REQUESTED, errors=["LATE"]))
        assert len(state.error_codes) == ERROR_CODES_CAP
        assert state.error_codes[0] == "X" * ERROR_CODE_MAX_LEN
        assert "LATE" not in state.error_codes
        assert state.error_count == 2

    def test_alert_id_is_stable(self) -> None:
        """Reprocessing the same body on a fresh state yields the same alert id."""
        event = make_event(E.OUTBOUND_CALL_ERROR, errors=["NETWORK_ERROR"])
        _, first = handle(None, event)
        _, again = handle(None, event)
        ids = [of_type(effects, RaiseAlert)[0].alert_id for effects in (first, again)]
        assert ids[0] == ids[1]
        assert len(ids[0]) == 32
        other = make_event(E.OUTBOUND_CALL_ERROR, errors=["NETWORK_ERROR"])
        _, third = handle(None, other)
        assert of_type(third, RaiseAlert)[0].alert_id != ids[0]


class TestClassifyError:
    """classify_error: OUTBOUND_CALL_ERROR told apart by the status it carries."""

    @pytest.mark.parametrize(
        ("status", "kind"),
        [
            (S.VOICEMAIL_REACHED, ErrorKind.VOICEMAIL),
            (S.HEALTHCHECK_FAILED, ErrorKind.HEALTHCHECK),
            (S.LIMIT_REACHED, ErrorKind.LIMIT),
            (S.CONCURRENCY_LIMIT_EXCEEDED, ErrorKind.CONCURRENCY_LIMIT),
            (S.CONNECTING, ErrorKind.CONNECT_FAILURE),
            (S.CALLING, ErrorKind.IN_CALL),
            (S.ERROR, ErrorKind.GENERIC),
            (S.UNKNOWN, ErrorKind.GENERIC),
            (S.PENDING, ErrorKind.GENERIC),
        ],
    )
    def test_kind_from_carried_status(self, status: CallStatus, kind: ErrorKind) -> None:
        """Each carried status maps to its kind; anything else is GENERIC."""
        event = make_event(E.OUTBOUND_CALL_ERROR, call_status=status, errors=["E"])
        assert classify_error(event) is kind

    @pytest.mark.parametrize("status", sorted(CallStatus), ids=str)
    def test_error_with_any_status_is_accepted(self, status: CallStatus) -> None:
        """OUTBOUND_CALL_ERROR carrying any status moves to ERROR, kind on the alert."""
        state = outbound_at(S.CALLING)
        event = make_event(E.OUTBOUND_CALL_ERROR, call_status=status, errors=["E"])
        state, effects = handle(state, event)
        assert of_type(effects, EmitEvent)[0].verdict is Verdict.EXPECTED
        assert state.status is S.ERROR
        assert state.last_reported_status is status
        assert of_type(effects, RaiseAlert)[0].error_kind is classify_error(event)
