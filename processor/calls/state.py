"""What the worker remembers about one call between two of its webhooks.

A :class:`CallState` is created by the first event of a call and updated in
place by :func:`processor.calls.machine.handle`. The worker keeps up to about a
million of them in memory and writes each to the changelog topic (its wire
form is :mod:`processor.outputs.changelog`), so the state is kept small on purpose:

- times are epoch-ms ints, never datetimes;
- the history is a capped tuple of packed ints (``offset_ms << 5 | status
  code``, offset from ``first_seen_ms``), not a list of pairs: about 36 bytes an
  entry instead of about 90;
- the recent body hashes are one ``bytes`` of 8-byte digests (8 bytes an entry
  instead of a 36-byte int plus a tuple slot);
- error codes are distinct, capped in number and length, and interned, so the
  few codes the platform uses are shared by every call;
- enum values are shared singletons.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from processor.contract.enums import CallStatus, Direction

Node = CallStatus | None
"""A machine node: a status, or ``NEW`` (``None``) before the first known event."""

NEW: Final[Node] = None
"""The node of a call no event of a known type has moved yet."""
NEW_NAME: Final = "NEW"
"""How :data:`NEW` is spelled outside the machine: records, metric labels."""

HISTORY_CAP: Final = 16
"""Most history entries kept; older ones are dropped and counted."""
RECENT_HASHES_CAP: Final = 8
"""Most body hashes remembered for duplicate detection."""
ERROR_CODES_CAP: Final = 8
"""Most distinct error codes kept; the first ones seen win (root causes)."""
ERROR_CODE_MAX_LEN: Final = 32
"""Longest error code kept; codes are open strings, longer ones are cut."""

_DIGEST_SIZE: Final = 8
HISTORY_STATUS_BITS: Final = 5
"""Low bits of a packed history entry holding the status code; the rest is the offset."""
HISTORY_STATUS_MASK: Final = (1 << HISTORY_STATUS_BITS) - 1

STATUS_CODES: Final[Mapping[CallStatus, int]] = {
    CallStatus.PENDING: 0,
    CallStatus.REQUESTED: 1,
    CallStatus.CALLING: 2,
    CallStatus.CLOSING: 3,
    CallStatus.COMPLETED: 4,
    CallStatus.EXPIRED: 5,
    CallStatus.NO_RESPONSE: 6,
    CallStatus.CANCELED: 7,
    CallStatus.BUSY: 8,
    CallStatus.UNREACHABLE: 9,
    CallStatus.MAX_ATTEMPTS_REACHED: 10,
    CallStatus.ERROR: 11,
    CallStatus.VOICEMAIL_REACHED: 12,
    CallStatus.HEALTHCHECK_FAILED: 13,
    CallStatus.LIMIT_REACHED: 14,
    CallStatus.CONNECTING: 15,
    CallStatus.CONCURRENCY_LIMIT_EXCEEDED: 16,
    CallStatus.UNKNOWN: 31,
}
"""Status -> history code. Written to the changelog: append, never renumber."""

CODE_STATUSES: Final[Mapping[int, CallStatus]] = {c: s for s, c in STATUS_CODES.items()}
"""History code -> status (the inverse of :data:`STATUS_CODES`)."""


class CallOutcome(StrEnum):
    """How a call ended; set when the machine enters a terminal node."""

    COMPLETED = "COMPLETED"
    COMPLETED_WITH_ERRORS = "COMPLETED_WITH_ERRORS"
    NO_RESPONSE = "NO_RESPONSE"
    BUSY = "BUSY"
    UNREACHABLE = "UNREACHABLE"
    EXPIRED = "EXPIRED"
    CANCELED = "CANCELED"
    MAX_ATTEMPTS_REACHED = "MAX_ATTEMPTS_REACHED"
    ERROR = "ERROR"
    CONCURRENCY_LIMIT_EXCEEDED = "CONCURRENCY_LIMIT_EXCEEDED"


def fingerprint(body_hash: str) -> bytes:
    """An 8-byte digest of a body hash, whatever its format, stable across runs."""
    return hashlib.blake2b(body_hash.encode(), digest_size=_DIGEST_SIZE).digest()


@dataclass(slots=True)
class CallState:
    """One call's machine node and the little history the outputs need.

    ``status`` is the machine's node (``NEW``/``None`` until an event of a known
    type arrives); ``last_reported_status`` is the ``callStatus`` snapshot of
    the last event, which may disagree with it. ``outcome`` is set while the
    call is finished. ``attempts``, ``started_at_ms`` and ``answered_at_ms``
    are maintained by the machine from its tables (see ``tables``).
    """

    call_id: str
    project_id: str
    direction: Direction
    first_seen_ms: int
    last_seen_ms: int
    status: Node = NEW
    last_reported_status: CallStatus = CallStatus.UNKNOWN
    history: tuple[int, ...] = ()
    history_dropped: int = 0
    events_seen: int = 0
    error_count: int = 0
    error_codes: tuple[str, ...] = ()
    attempts: int = 0
    started_at_ms: int | None = None
    answered_at_ms: int | None = None
    outcome: CallOutcome | None = None
    terminal_at_ms: int | None = None
    recent_hashes: bytes = b""
    stalled_alerted: bool = False

    @property
    def finished(self) -> bool:
        """True while the call has an outcome (a later redial may clear it)."""
        return self.outcome is not None

    @property
    def duration_ms(self) -> int | None:
        """First seen to terminal, in ms; None while the call is open."""
        if self.terminal_at_ms is None:
            return None
        return max(0, self.terminal_at_ms - self.first_seen_ms)

    @property
    def time_to_answer_ms(self) -> int | None:
        """Start (first PENDING/REQUESTED, or CONNECTING) to first CALLING, in ms.

        None unless both were seen in that order: a call picked up mid-graph
        has no start.
        """
        if self.started_at_ms is None or self.answered_at_ms is None:
            return None
        if self.answered_at_ms < self.started_at_ms:
            return None
        return self.answered_at_ms - self.started_at_ms

    def history_entries(self) -> tuple[tuple[CallStatus, int], ...]:
        """The kept history as ``(status, at_ms)`` pairs, oldest first."""
        return tuple(_unpack(p, self.first_seen_ms) for p in self.history)

    def append_history(self, status: CallStatus, at_ms: int) -> None:
        """Record that the machine entered ``status`` at ``at_ms``; keeps the last few."""
        offset = max(0, at_ms - self.first_seen_ms)
        packed = (offset << HISTORY_STATUS_BITS) | STATUS_CODES[status]
        history = (*self.history, packed)
        if len(history) > HISTORY_CAP:
            self.history_dropped += len(history) - HISTORY_CAP
            history = history[-HISTORY_CAP:]
        self.history = history

    def has_seen(self, digest: bytes) -> bool:
        """True if a body with this fingerprint is among the recent ones."""
        recent = self.recent_hashes
        at = recent.find(digest)
        while at != -1:
            if at % _DIGEST_SIZE == 0:
                return True
            at = recent.find(digest, at + 1)
        return False

    def remember(self, digest: bytes) -> None:
        """Remember a body fingerprint; only the last few are kept."""
        self.recent_hashes = (self.recent_hashes + digest)[-RECENT_HASHES_CAP * _DIGEST_SIZE :]

    def add_error_codes(self, codes: tuple[str, ...]) -> None:
        """Add distinct codes, cut to a bounded length, until the cap is reached."""
        kept = self.error_codes
        for code in codes:
            if len(kept) >= ERROR_CODES_CAP:
                break
            short = sys.intern(code[:ERROR_CODE_MAX_LEN])
            if short not in kept:
                kept = (*kept, short)
        self.error_codes = kept


def _unpack(packed: int, first_seen_ms: int) -> tuple[CallStatus, int]:
    status = CODE_STATUSES.get(packed & HISTORY_STATUS_MASK, CallStatus.UNKNOWN)
    return status, first_seen_ms + (packed >> HISTORY_STATUS_BITS)
