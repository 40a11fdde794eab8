"""The query store's interface: what the materialiser writes and the API reads.

:class:`Store` is the one storage interface; :mod:`processor.explorer.sql`
implements it once for both databases (the SQL is shared, a
:class:`~processor.explorer.sql.Dialect` supplies the few differences) and
:func:`processor.explorer.backends.open_store` picks SQLite or PostgreSQL
from the settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from processor.explorer.rows import Batch, EventRow, Position


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page of the newest-first call list ends."""

    first_seen_ms: int
    call_id: str


@dataclass(frozen=True, slots=True)
class CallQuery:
    """Filters of ``GET /calls``; ``None`` means "any"."""

    project_id: str | None = None
    status: str | None = None
    outcome: str | None = None
    has_errors: bool | None = None
    verdict: str | None = None
    error_code: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None
    limit: int = 50
    after: Cursor | None = None


@dataclass(frozen=True, slots=True)
class CallSummary:
    """One row of the call list."""

    call_id: str
    project_id: str
    direction: str
    status: str
    outcome: str | None
    first_seen_ms: int
    last_seen_ms: int
    duration_ms: int | None
    attempts: int
    events_seen: int
    error_count: int
    stalled: bool


@dataclass(slots=True)
class CallRows:
    """Everything stored about one call (its state may not have arrived yet)."""

    state_json: str | None
    events: list[EventRow]
    alerts_json: list[str]


@dataclass(slots=True)
class StatsRows:
    """Aggregates since a moment."""

    calls: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)
    by_error_code: dict[str, int] = field(default_factory=dict)
    by_transition: list[tuple[str, str, str, int]] = field(default_factory=list)
    time_to_answer_p50_ms: int | None = None
    time_to_answer_p95_ms: int | None = None
    answered: int = 0


class Store(Protocol):
    """A query store: SQLite file or PostgreSQL database."""

    kind: str
    """``sqlite`` or ``postgres`` (for logs and the readiness answer)."""

    async def open(self) -> None:
        """Connect and apply missing migrations."""

    async def close(self) -> None:
        """Disconnect."""

    async def offsets(self) -> dict[Position, int]:
        """Next offset to read per (topic, partition), as last applied."""

    async def apply(self, batch: Batch) -> None:
        """Write a batch's rows and offsets in one transaction."""

    async def expire(self, before_ms: int) -> int:
        """Delete calls silent since before ``before_ms``; return how many."""

    async def get_call(self, call_id: str) -> CallRows | None:
        """The call's state, events and alerts, or None if nothing is stored."""

    async def list_calls(self, query: CallQuery) -> list[CallSummary]:
        """Calls matching ``query``, newest first, at most ``query.limit``."""

    async def stats(self, since_ms: int) -> StatsRows:
        """Counts and percentiles over calls and events since ``since_ms``."""
