"""The eventType and callStatus tables match the seed callStatus reference (spec §4)."""

from __future__ import annotations

import pytest

from processor.contract import (
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

KNOWN_EVENT_TYPES = [e for e in EventType if e is not EventType.UNKNOWN]
OUTBOUND_EVENT_TYPES = [e for e in KNOWN_EVENT_TYPES if e.value.startswith("OUTBOUND_")]
INBOUND_EVENT_TYPES = [e for e in KNOWN_EVENT_TYPES if e.value.startswith("INBOUND_")]


class TestEventType:
    """The 18 event types and their direction."""

    def test_there_are_18_known_event_types(self) -> None:
        """Recho documents 12 outbound and 6 inbound event types, 18 in all."""
        assert len(KNOWN_EVENT_TYPES) == 18
        assert len(OUTBOUND_EVENT_TYPES) == 12
        assert len(INBOUND_EVENT_TYPES) == 6

    def test_values_are_the_wire_spelling(self) -> None:
        """Each member's value is exactly its name, which is what arrives on the wire."""
        assert all(e.value == e.name for e in EventType)

    @pytest.mark.parametrize("event_type", OUTBOUND_EVENT_TYPES)
    def test_outbound_prefix_gives_outbound_direction(self, event_type: EventType) -> None:
        """An OUTBOUND_* event type is an outbound call."""
        assert event_type.direction is Direction.OUTBOUND

    @pytest.mark.parametrize("event_type", INBOUND_EVENT_TYPES)
    def test_inbound_prefix_gives_inbound_direction(self, event_type: EventType) -> None:
        """An INBOUND_* event type is an inbound call."""
        assert event_type.direction is Direction.INBOUND

    def test_unknown_has_unknown_direction(self) -> None:
        """The UNKNOWN placeholder claims no direction."""
        assert EventType.UNKNOWN.direction is Direction.UNKNOWN


class TestCallStatus:
    """The status sets: 17 outbound (internal ones included) and 6 inbound."""

    def test_there_are_17_outbound_statuses(self) -> None:
        """The seed lists 17 outbound statuses; UNKNOWN is not one of them."""
        assert len(OUTBOUND_STATUSES) == 17
        assert CallStatus.UNKNOWN not in OUTBOUND_STATUSES

    def test_there_are_6_inbound_statuses(self) -> None:
        """The seed lists 6 inbound statuses, all spelled like outbound ones."""
        assert {s.value for s in INBOUND_STATUSES} == {
            "CONNECTING",
            "CALLING",
            "CLOSING",
            "COMPLETED",
            "CONCURRENCY_LIMIT_EXCEEDED",
            "ERROR",
        }
        assert INBOUND_STATUSES <= OUTBOUND_STATUSES

    def test_internal_outbound_statuses(self) -> None:
        """Five outbound statuses have no event of their own and surface as OUTBOUND_CALL_ERROR."""
        assert {s.value for s in INTERNAL_OUTBOUND_STATUSES} == {
            "VOICEMAIL_REACHED",
            "HEALTHCHECK_FAILED",
            "LIMIT_REACHED",
            "CONNECTING",
            "CONCURRENCY_LIMIT_EXCEEDED",
        }
        assert INTERNAL_OUTBOUND_STATUSES <= OUTBOUND_STATUSES


class TestEventStatus:
    """EVENT_STATUS: the status each event type normally carries."""

    def test_covers_every_known_event_type(self) -> None:
        """All 18 event types have a normal status; UNKNOWN has none."""
        assert set(EVENT_STATUS) == set(KNOWN_EVENT_TYPES)

    @pytest.mark.parametrize("event_type", KNOWN_EVENT_TYPES)
    def test_status_is_the_suffix(self, event_type: EventType) -> None:
        """OUTBOUND_CALL_X and INBOUND_CALL_X carry the status X."""
        assert EVENT_STATUS[event_type].value == event_type.value.split("_CALL_", 1)[1]

    @pytest.mark.parametrize("event_type", INBOUND_EVENT_TYPES)
    def test_inbound_event_types_carry_inbound_statuses(self, event_type: EventType) -> None:
        """Every inbound event type's status is one of the 6 inbound statuses."""
        assert EVENT_STATUS[event_type] in INBOUND_STATUSES


class TestEventAllowedStatuses:
    """EVENT_ALLOWED_STATUSES: which statuses an event type may carry unflagged."""

    @pytest.mark.parametrize(
        "event_type", [e for e in KNOWN_EVENT_TYPES if e is not EventType.OUTBOUND_CALL_ERROR]
    )
    def test_ordinary_event_types_allow_only_their_status(self, event_type: EventType) -> None:
        """Every event type but OUTBOUND_CALL_ERROR allows exactly its own status."""
        assert EVENT_ALLOWED_STATUSES[event_type] == {EVENT_STATUS[event_type]}

    def test_outbound_error_allows_every_outbound_status(self) -> None:
        """OUTBOUND_CALL_ERROR may carry any of the 17 outbound statuses, internal ones included."""
        allowed = EVENT_ALLOWED_STATUSES[EventType.OUTBOUND_CALL_ERROR]
        assert allowed == OUTBOUND_STATUSES
        assert len(allowed) == 17
        assert allowed >= INTERNAL_OUTBOUND_STATUSES

    def test_inbound_error_allows_only_error(self) -> None:
        """INBOUND_CALL_ERROR is not widened like its outbound twin."""
        assert EVENT_ALLOWED_STATUSES[EventType.INBOUND_CALL_ERROR] == {CallStatus.ERROR}


class TestStatusEvents:
    """STATUS_EVENTS: the event type that surfaces a (direction, status)."""

    def test_has_one_entry_per_direction_and_status(self) -> None:
        """17 outbound and 6 inbound statuses each map to exactly one event type."""
        assert len(STATUS_EVENTS) == 17 + 6
        assert {s for d, s in STATUS_EVENTS if d is Direction.OUTBOUND} == OUTBOUND_STATUSES
        assert {s for d, s in STATUS_EVENTS if d is Direction.INBOUND} == INBOUND_STATUSES

    @pytest.mark.parametrize("event_type", KNOWN_EVENT_TYPES)
    def test_reverses_event_status(self, event_type: EventType) -> None:
        """Looking up an event type's own status gives the event type back."""
        key = (event_type.direction, EVENT_STATUS[event_type])
        assert STATUS_EVENTS[key] is event_type

    @pytest.mark.parametrize("status", sorted(INTERNAL_OUTBOUND_STATUSES))
    def test_internal_outbound_statuses_surface_as_outbound_error(self, status: CallStatus) -> None:
        """An internal outbound status is folded into OUTBOUND_CALL_ERROR."""
        assert STATUS_EVENTS[(Direction.OUTBOUND, status)] is EventType.OUTBOUND_CALL_ERROR

    def test_inbound_connecting_is_not_folded(self) -> None:
        """CONNECTING is internal only on the outbound side; inbound it has its own event."""
        assert (
            STATUS_EVENTS[(Direction.INBOUND, CallStatus.CONNECTING)]
            is EventType.INBOUND_CALL_CONNECTING
        )
