"""The transition tables: the graphs of the seed reference, as data."""

from __future__ import annotations

import pytest

from processor.calls.state import NEW, STATUS_CODES, CallOutcome
from processor.calls.tables import INBOUND, OUTBOUND, TABLES, DirectionTable, Verdict
from processor.contract.enums import EVENT_STATUS, CallStatus, Direction, EventType

S = CallStatus
E = EventType

OUTBOUND_OPEN = (S.PENDING, S.REQUESTED, S.CALLING, S.CLOSING)
INBOUND_OPEN = (S.CONNECTING, S.CALLING, S.CLOSING)


def expected_from(table: DirectionTable, node: CallStatus | None) -> set[EventType]:
    return {e for (n, e) in table.transitions if n == node}


class TestOutboundTable:
    """The outbound graph: PENDING -> REQUESTED -> CALLING -> CLOSING -> COMPLETED."""

    def test_new_expects_only_pending(self) -> None:
        """A call picked up mid-graph is flagged: only PENDING starts an outbound call."""
        assert expected_from(OUTBOUND, NEW) == {E.OUTBOUND_CALL_PENDING}

    def test_canceled_only_from_pending(self) -> None:
        """CANCELED is a user action on a queued call, nothing later."""
        nodes = {n for (n, e) in OUTBOUND.transitions if e is E.OUTBOUND_CALL_CANCELED}
        assert nodes == {S.PENDING}

    @pytest.mark.parametrize(
        "event_type",
        [E.OUTBOUND_CALL_NO_RESPONSE, E.OUTBOUND_CALL_BUSY, E.OUTBOUND_CALL_UNREACHABLE],
    )
    def test_dial_failures_from_requested_and_calling(self, event_type: EventType) -> None:
        """NO_RESPONSE, BUSY and UNREACHABLE end a dial, so they follow REQUESTED or CALLING."""
        nodes = {n for (n, e) in OUTBOUND.transitions if e is event_type}
        assert nodes == {S.REQUESTED, S.CALLING}

    def test_expired_before_the_callee_rings(self) -> None:
        """EXPIRED (dial window passed) follows PENDING, REQUESTED or a failed dial."""
        nodes = {n for (n, e) in OUTBOUND.transitions if e is E.OUTBOUND_CALL_EXPIRED}
        assert nodes == {S.PENDING, S.REQUESTED, S.NO_RESPONSE, S.BUSY, S.UNREACHABLE}

    @pytest.mark.parametrize("node", OUTBOUND_OPEN)
    def test_max_attempts_and_error_from_every_open_node(self, node: CallStatus) -> None:
        """MAX_ATTEMPTS_REACHED and ERROR can end an outbound call at any open node."""
        expected = expected_from(OUTBOUND, node)
        assert E.OUTBOUND_CALL_MAX_ATTEMPTS_REACHED in expected
        assert E.OUTBOUND_CALL_ERROR in expected

    def test_terminal_nodes(self) -> None:
        """Every outcome-like outbound status is terminal, with its own outcome."""
        assert set(OUTBOUND.outcomes) == {
            S.COMPLETED,
            S.EXPIRED,
            S.NO_RESPONSE,
            S.CANCELED,
            S.BUSY,
            S.UNREACHABLE,
            S.MAX_ATTEMPTS_REACHED,
            S.ERROR,
        }
        for status, outcome in OUTBOUND.outcomes.items():
            assert outcome.value == status.value

    def test_only_failed_dials_reopen(self) -> None:
        """A redial can follow NO_RESPONSE, BUSY or UNREACHABLE; no other outcome reopens."""
        assert OUTBOUND.reopenable == {S.NO_RESPONSE, S.BUSY, S.UNREACHABLE}
        for node in OUTBOUND.reopenable:
            assert expected_from(OUTBOUND, node) == {
                E.OUTBOUND_CALL_PENDING,
                E.OUTBOUND_CALL_REQUESTED,
                E.OUTBOUND_CALL_CALLING,
                E.OUTBOUND_CALL_EXPIRED,
                E.OUTBOUND_CALL_MAX_ATTEMPTS_REACHED,
            }

    def test_attempt_and_answer_nodes(self) -> None:
        """A dial is entering REQUESTED/CALLING from before a dial; CALLING stops the clock."""
        assert OUTBOUND.dial_into == {S.REQUESTED, S.CALLING}
        assert OUTBOUND.dial_from == {NEW, S.PENDING, S.NO_RESPONSE, S.BUSY, S.UNREACHABLE}
        assert OUTBOUND.start == {S.PENDING, S.REQUESTED}
        assert OUTBOUND.answer is S.CALLING


class TestInboundTable:
    """The inbound graph: CONNECTING -> CALLING -> CLOSING -> COMPLETED."""

    def test_concurrency_limit_only_on_arrival(self) -> None:
        """The concurrency limit is checked when the call arrives, at CONNECTING."""
        nodes = {
            n for (n, e) in INBOUND.transitions if e is E.INBOUND_CALL_CONCURRENCY_LIMIT_EXCEEDED
        }
        assert nodes == {S.CONNECTING}

    @pytest.mark.parametrize("node", INBOUND_OPEN)
    def test_error_from_every_open_node(self, node: CallStatus) -> None:
        """INBOUND_CALL_ERROR can end an inbound call at any open node."""
        assert E.INBOUND_CALL_ERROR in expected_from(INBOUND, node)

    def test_terminal_nodes_do_not_reopen(self) -> None:
        """COMPLETED, CONCURRENCY_LIMIT_EXCEEDED and ERROR end an inbound call for good."""
        assert INBOUND.outcomes == {
            S.COMPLETED: CallOutcome.COMPLETED,
            S.CONCURRENCY_LIMIT_EXCEEDED: CallOutcome.CONCURRENCY_LIMIT_EXCEEDED,
            S.ERROR: CallOutcome.ERROR,
        }
        assert INBOUND.reopenable == frozenset()


class TestTableShape:
    """Invariants every direction's table keeps."""

    @pytest.mark.parametrize(
        ("table", "path"),
        [
            (
                OUTBOUND,
                [
                    (NEW, E.OUTBOUND_CALL_PENDING, S.PENDING),
                    (S.PENDING, E.OUTBOUND_CALL_REQUESTED, S.REQUESTED),
                    (S.REQUESTED, E.OUTBOUND_CALL_CALLING, S.CALLING),
                    (S.CALLING, E.OUTBOUND_CALL_CLOSING, S.CLOSING),
                    (S.CLOSING, E.OUTBOUND_CALL_COMPLETED, S.COMPLETED),
                ],
            ),
            (
                INBOUND,
                [
                    (NEW, E.INBOUND_CALL_CONNECTING, S.CONNECTING),
                    (S.CONNECTING, E.INBOUND_CALL_CALLING, S.CALLING),
                    (S.CALLING, E.INBOUND_CALL_CLOSING, S.CLOSING),
                    (S.CLOSING, E.INBOUND_CALL_COMPLETED, S.COMPLETED),
                ],
            ),
        ],
        ids=["OUTBOUND", "INBOUND"],
    )
    def test_main_path_is_expected(
        self, table: DirectionTable, path: list[tuple[CallStatus | None, EventType, CallStatus]]
    ) -> None:
        """Each step of the happy path (outbound PENDING..COMPLETED, inbound
        CONNECTING..COMPLETED) is an expected edge to the next status."""
        for node, event_type, target in path:
            assert table.transitions[(node, event_type)] is target

    @pytest.mark.parametrize("table", [OUTBOUND, INBOUND], ids=lambda t: t.direction.value)
    def test_event_type_decides_the_target(self, table: DirectionTable) -> None:
        """An edge always leads to the status its eventType names, never another."""
        for (_, event_type), target in table.transitions.items():
            assert target is EVENT_STATUS[event_type]

    @pytest.mark.parametrize("table", [OUTBOUND, INBOUND], ids=lambda t: t.direction.value)
    def test_only_own_direction_event_types(self, table: DirectionTable) -> None:
        """A table lists only its own direction's event types."""
        assert {e.direction for (_, e) in table.transitions} == {table.direction}

    @pytest.mark.parametrize("table", [OUTBOUND, INBOUND], ids=lambda t: t.direction.value)
    def test_terminal_nodes_have_edges_only_if_reopenable(self, table: DirectionTable) -> None:
        """Edges out of a terminal node exist only where a redial is modelled."""
        leaving_terminal = {n for (n, _) in table.transitions if n in table.outcomes}
        assert leaving_terminal == table.reopenable
        assert table.reopenable <= set(table.outcomes)

    @pytest.mark.parametrize("table", [OUTBOUND, INBOUND], ids=lambda t: t.direction.value)
    def test_every_node_is_reachable(self, table: DirectionTable) -> None:
        """Every node with edges or an outcome is entered by some edge from NEW onwards."""
        reached = {NEW}
        frontier = [NEW]
        while frontier:
            node = frontier.pop()
            for (n, _), target in table.transitions.items():
                if n == node and target not in reached:
                    reached.add(target)
                    frontier.append(target)
        assert {n for (n, _) in table.transitions} | set(table.outcomes) <= reached

    def test_tables_cover_known_directions(self) -> None:
        """There is a table for OUTBOUND and INBOUND, none for UNKNOWN."""
        assert set(TABLES) == {Direction.OUTBOUND, Direction.INBOUND}

    def test_status_codes_fit_the_history_packing(self) -> None:
        """Every status has a distinct history code below 32 (5 bits)."""
        assert set(STATUS_CODES) == set(CallStatus)
        assert len(set(STATUS_CODES.values())) == len(STATUS_CODES)
        assert all(0 <= code < 32 for code in STATUS_CODES.values())


class TestVerdict:
    """DirectionTable.verdict: how a known, non-duplicate event fits the graph."""

    @pytest.mark.parametrize(
        ("table", "node", "finished", "event_type", "verdict"),
        [
            # An edge in the table from an open node is EXPECTED.
            (OUTBOUND, S.PENDING, False, E.OUTBOUND_CALL_REQUESTED, Verdict.EXPECTED),
            # An edge not in the table from an open node is UNEXPECTED_TRANSITION.
            (OUTBOUND, S.PENDING, False, E.OUTBOUND_CALL_COMPLETED, Verdict.UNEXPECTED_TRANSITION),
            # A REQUESTED after NO_RESPONSE is a redial: EXPECTED, not after-terminal.
            (OUTBOUND, S.NO_RESPONSE, True, E.OUTBOUND_CALL_REQUESTED, Verdict.EXPECTED),
            # A finished call at a non-reopenable node: AFTER_TERMINAL even on a listed edge.
            (OUTBOUND, S.CLOSING, True, E.OUTBOUND_CALL_COMPLETED, Verdict.AFTER_TERMINAL),
            # Anything after COMPLETED is AFTER_TERMINAL.
            (INBOUND, S.COMPLETED, True, E.INBOUND_CALL_CLOSING, Verdict.AFTER_TERMINAL),
        ],
        ids=[
            "listed-edge-open-call",
            "unlisted-edge-open-call",
            "redial-from-reopenable-outcome",
            "listed-edge-after-terminal",
            "event-after-completed",
        ],
    )
    def test_verdict(
        self,
        table: DirectionTable,
        node: CallStatus,
        finished: bool,
        event_type: EventType,
        verdict: Verdict,
    ) -> None:
        """The verdict for (node, finished, eventType) is the one the graph calls for."""
        assert table.verdict(node, finished, event_type) is verdict
