"""The call state machine's transition tables: one per direction, data not code.

The seed reference draws the graphs as "conceptual" and promises only FIFO per
callId, so the tables say what we *expect*; an event they do not expect is
still applied and only flagged (spec §4). The machine (``machine.handle``) reads
them like this, for an event of a known type that is not a duplicate:

- The key is ``(node, eventType)``; the node the event leads to is always the
  status its eventType names (``EVENT_STATUS``; OUTBOUND_CALL_ERROR -> ERROR
  whatever status it carries). callStatus never drives the machine.
- An open call: ``EXPECTED`` if the key is in ``transitions``, else
  ``UNEXPECTED_TRANSITION``. Either way the node moves.
- A finished call (it has an outcome): ``EXPECTED`` only from a ``reopenable``
  node along a listed edge, else ``AFTER_TERMINAL``. Either way the node moves;
  an after-terminal event never changes the outcome and never finishes the
  call again.
- Entering a node listed in ``outcomes`` while the call is open finishes it
  (whatever the verdict): outcome, terminal time, one ``CallFinished``.
  COMPLETED whose event has errors becomes COMPLETED_WITH_ERRORS.

Decisions behind the tables:

- ``NEW`` is the node before the first event. Only the graph's first status
  (PENDING, CONNECTING) is expected from it; a call picked up mid-graph (we
  started consuming after its first event) gets one UNEXPECTED_TRANSITION.
- Outbound: NO_RESPONSE / BUSY / UNREACHABLE are expected from REQUESTED and
  CALLING; EXPIRED from PENDING and REQUESTED (a dial window passes before
  the dial); CANCELED only from PENDING; MAX_ATTEMPTS_REACHED and ERROR from
  every open node. Inbound: CONCURRENCY_LIMIT_EXCEEDED only from CONNECTING
  (the limit is checked on arrival); ERROR from every open node.
- Terminal nodes: outbound COMPLETED, EXPIRED, NO_RESPONSE, CANCELED, BUSY,
  UNREACHABLE, MAX_ATTEMPTS_REACHED, ERROR; inbound COMPLETED,
  CONCURRENCY_LIMIT_EXCEEDED, ERROR.
- Redial (spec §6 q8/q9): NO_RESPONSE, BUSY and UNREACHABLE are terminal (the
  call may never be redialed, so it has to finish) but ``reopenable``: the
  platform redials (MAX_ATTEMPTS_REACHED counts redials), so a later PENDING,
  REQUESTED or CALLING is EXPECTED and reopens the call as a new attempt (the
  outcome is cleared). EXPIRED and MAX_ATTEMPTS_REACHED are expected from them
  too (the window passes, or the platform gives up) and finish the call
  again with the new outcome. A redialed call can therefore emit more than
  one ``CallFinished``; ``attempts`` tells them apart.
- ERROR is terminal and not reopenable: OUTBOUND_CALL_ERROR carrying CALLING
  may be followed by CLOSING/COMPLETED; those are applied as AFTER_TERMINAL
  and the outcome stays ERROR.
- ``attempts`` counts dials: entries into a ``dial_into`` node (outbound
  REQUESTED or CALLING) from a ``dial_from`` node (NEW, PENDING, or a
  reopenable outcome), so REQUESTED -> CALLING is one attempt and a redial is
  another. An inbound call counts one attempt when it arrives.
- Time to answer is first ``answer`` (CALLING) minus first ``start`` (outbound
  PENDING or REQUESTED, inbound CONNECTING), across attempts. Outbound CALLING
  means ringing or being connected: the platform has no "answered" event, so
  this is time to reach the callee's phone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from processor.calls.state import NEW, CallOutcome, Node
from processor.contract.enums import EVENT_STATUS, CallStatus, Direction, EventType

S = CallStatus
E = EventType


class Verdict(StrEnum):
    """How an event fits the call's graph; every handled event gets exactly one."""

    EXPECTED = "EXPECTED"
    UNEXPECTED_TRANSITION = "UNEXPECTED_TRANSITION"
    DUPLICATE = "DUPLICATE"
    AFTER_TERMINAL = "AFTER_TERMINAL"
    UNKNOWN_TYPE = "UNKNOWN_TYPE"


@dataclass(frozen=True, slots=True)
class DirectionTable:
    """The graph of one direction, and the nodes the summary figures key on."""

    direction: Direction
    transitions: Mapping[tuple[Node, EventType], CallStatus]
    """Expected edges: (node, eventType) -> node entered."""
    outcomes: Mapping[CallStatus, CallOutcome]
    """Terminal nodes and the outcome entering each one gives."""
    reopenable: frozenset[CallStatus]
    """Terminal nodes whose listed edges are expected even though finished."""
    start: frozenset[CallStatus]
    """Nodes whose first entry starts the time-to-answer clock."""
    answer: CallStatus
    """The node whose first entry stops it."""
    dial_from: frozenset[Node]
    """Nodes before a dial: leaving one into ``dial_into`` is an attempt."""
    dial_into: frozenset[CallStatus]
    """Nodes that start a dial."""

    def verdict(self, node: Node, finished: bool, event_type: EventType) -> Verdict:
        """The verdict for a known, non-duplicate event type at ``node``."""
        listed = (node, event_type) in self.transitions
        if finished:
            if listed and node in self.reopenable:
                return Verdict.EXPECTED
            return Verdict.AFTER_TERMINAL
        return Verdict.EXPECTED if listed else Verdict.UNEXPECTED_TRANSITION


def _edges(graph: Mapping[Node, tuple[EventType, ...]]) -> dict[tuple[Node, EventType], CallStatus]:
    return {(node, e): EVENT_STATUS[e] for node, events in graph.items() for e in events}


_RETRYABLE: Final = (S.NO_RESPONSE, S.BUSY, S.UNREACHABLE)

OUTBOUND: Final = DirectionTable(
    direction=Direction.OUTBOUND,
    transitions=_edges(
        {
            NEW: (E.OUTBOUND_CALL_PENDING,),
            S.PENDING: (
                E.OUTBOUND_CALL_REQUESTED,
                E.OUTBOUND_CALL_EXPIRED,
                E.OUTBOUND_CALL_CANCELED,
                E.OUTBOUND_CALL_MAX_ATTEMPTS_REACHED,
                E.OUTBOUND_CALL_ERROR,
            ),
            S.REQUESTED: (
                E.OUTBOUND_CALL_CALLING,
                E.OUTBOUND_CALL_NO_RESPONSE,
                E.OUTBOUND_CALL_BUSY,
                E.OUTBOUND_CALL_UNREACHABLE,
                E.OUTBOUND_CALL_EXPIRED,
                E.OUTBOUND_CALL_MAX_ATTEMPTS_REACHED,
                E.OUTBOUND_CALL_ERROR,
            ),
            S.CALLING: (
                E.OUTBOUND_CALL_CLOSING,
                E.OUTBOUND_CALL_NO_RESPONSE,
                E.OUTBOUND_CALL_BUSY,
                E.OUTBOUND_CALL_UNREACHABLE,
                E.OUTBOUND_CALL_MAX_ATTEMPTS_REACHED,
                E.OUTBOUND_CALL_ERROR,
            ),
            S.CLOSING: (
                E.OUTBOUND_CALL_COMPLETED,
                E.OUTBOUND_CALL_MAX_ATTEMPTS_REACHED,
                E.OUTBOUND_CALL_ERROR,
            ),
        }
        | {
            retryable: (
                E.OUTBOUND_CALL_PENDING,
                E.OUTBOUND_CALL_REQUESTED,
                E.OUTBOUND_CALL_CALLING,
                E.OUTBOUND_CALL_EXPIRED,
                E.OUTBOUND_CALL_MAX_ATTEMPTS_REACHED,
            )
            for retryable in _RETRYABLE
        }
    ),
    outcomes={
        S.COMPLETED: CallOutcome.COMPLETED,
        S.EXPIRED: CallOutcome.EXPIRED,
        S.NO_RESPONSE: CallOutcome.NO_RESPONSE,
        S.CANCELED: CallOutcome.CANCELED,
        S.BUSY: CallOutcome.BUSY,
        S.UNREACHABLE: CallOutcome.UNREACHABLE,
        S.MAX_ATTEMPTS_REACHED: CallOutcome.MAX_ATTEMPTS_REACHED,
        S.ERROR: CallOutcome.ERROR,
    },
    reopenable=frozenset(_RETRYABLE),
    start=frozenset({S.PENDING, S.REQUESTED}),
    answer=S.CALLING,
    dial_from=frozenset({NEW, S.PENDING, *_RETRYABLE}),
    dial_into=frozenset({S.REQUESTED, S.CALLING}),
)

INBOUND: Final = DirectionTable(
    direction=Direction.INBOUND,
    transitions=_edges(
        {
            NEW: (E.INBOUND_CALL_CONNECTING,),
            S.CONNECTING: (
                E.INBOUND_CALL_CALLING,
                E.INBOUND_CALL_CONCURRENCY_LIMIT_EXCEEDED,
                E.INBOUND_CALL_ERROR,
            ),
            S.CALLING: (E.INBOUND_CALL_CLOSING, E.INBOUND_CALL_ERROR),
            S.CLOSING: (E.INBOUND_CALL_COMPLETED, E.INBOUND_CALL_ERROR),
        }
    ),
    outcomes={
        S.COMPLETED: CallOutcome.COMPLETED,
        S.CONCURRENCY_LIMIT_EXCEEDED: CallOutcome.CONCURRENCY_LIMIT_EXCEEDED,
        S.ERROR: CallOutcome.ERROR,
    },
    reopenable=frozenset(),
    start=frozenset({S.CONNECTING}),
    answer=S.CALLING,
    dial_from=frozenset({NEW}),
    dial_into=frozenset({S.CONNECTING, S.CALLING}),
)

TABLES: Final[Mapping[Direction, DirectionTable]] = {
    Direction.OUTBOUND: OUTBOUND,
    Direction.INBOUND: INBOUND,
}
"""The table of each known direction; a call takes the direction of its first known event."""

ERRORED_OUTCOMES: Final[Mapping[CallOutcome, CallOutcome]] = {
    CallOutcome.COMPLETED: CallOutcome.COMPLETED_WITH_ERRORS,
}
"""Outcome -> outcome when the event that finishes the call has errors."""
