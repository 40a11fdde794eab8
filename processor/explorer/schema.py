"""The query store's schema, as numbered migrations shared by SQLite and PostgreSQL.

Tables (one row per ...):

``calls``             call, from its latest recho.call-state.v1 record; the columns the
                      list filters and sorts on, plus the whole record (``state_json``)
``events``            recho.call-events.v1 record, keyed by the input position it was
                      derived from (``src_partition``, ``src_offset``): a redelivered
                      output record cannot be stored twice; one call's events sort by
                      ``src_offset`` (a call lives on one input partition)
``event_errors``      entry of an event's ``errors[]``: filter and count by code
``alerts``            recho.call-alerts.v1 record, keyed by its deterministic ``alertId``
``forgotten``         call deleted by a tombstone: late events of it are not stored
``consumer_offsets``  (topic, partition): the next offset to read. Written in the same
                      transaction as the rows, so a crash never loses or doubles a record
``schema_migrations`` applied migration numbers

Timestamps are epoch milliseconds (``*_ms``); booleans are 0/1 integers in both
databases so every query is the same text. A migration is applied once, in
its own transaction, in order; never edit one that shipped: add the next.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step."""

    version: int
    description: str
    statements: tuple[str, ...]


_V1 = (
    """CREATE TABLE calls (
        call_id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL,
        direction TEXT NOT NULL,
        status TEXT NOT NULL,
        outcome TEXT,
        finished {int} NOT NULL,
        first_seen_ms {int} NOT NULL,
        last_seen_ms {int} NOT NULL,
        terminal_at_ms {int},
        duration_ms {int},
        time_to_answer_ms {int},
        attempts {int} NOT NULL,
        events_seen {int} NOT NULL,
        error_count {int} NOT NULL,
        stalled {int} NOT NULL,
        state_json TEXT NOT NULL
    )""",
    "CREATE INDEX calls_newest ON calls (first_seen_ms DESC, call_id DESC)",
    "CREATE INDEX calls_project_newest ON calls (project_id, first_seen_ms DESC, call_id DESC)",
    "CREATE INDEX calls_last_seen ON calls (last_seen_ms)",
    """CREATE TABLE events (
        call_id TEXT NOT NULL,
        src_partition {int} NOT NULL,
        src_offset {int} NOT NULL,
        at_ms {int} NOT NULL,
        event_type TEXT NOT NULL,
        event_type_raw TEXT,
        call_status TEXT,
        verdict TEXT NOT NULL,
        previous_status TEXT NOT NULL,
        status TEXT NOT NULL,
        has_errors {int} NOT NULL,
        errors_json TEXT NOT NULL,
        flags_json TEXT NOT NULL,
        PRIMARY KEY (call_id, src_partition, src_offset)
    ){without_rowid}""",
    "CREATE INDEX events_verdict ON events (verdict, at_ms)",
    """CREATE TABLE event_errors (
        call_id TEXT NOT NULL,
        src_partition {int} NOT NULL,
        src_offset {int} NOT NULL,
        position {int} NOT NULL,
        code TEXT NOT NULL,
        phase TEXT,
        at_ms {int} NOT NULL,
        PRIMARY KEY (call_id, src_partition, src_offset, position)
    ){without_rowid}""",
    "CREATE INDEX event_errors_code ON event_errors (code, call_id)",
    "CREATE INDEX event_errors_at ON event_errors (at_ms)",
    """CREATE TABLE alerts (
        alert_id TEXT PRIMARY KEY,
        call_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        severity TEXT NOT NULL,
        at_ms {int} NOT NULL,
        src_partition {int},
        src_offset {int},
        alert_json TEXT NOT NULL
    )""",
    "CREATE INDEX alerts_call ON alerts (call_id, at_ms)",
    "CREATE TABLE forgotten (call_id TEXT PRIMARY KEY, at_ms {int} NOT NULL)",
    """CREATE TABLE consumer_offsets (
        topic TEXT NOT NULL,
        kafka_partition {int} NOT NULL,
        next_offset {int} NOT NULL,
        PRIMARY KEY (topic, kafka_partition)
    )""",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "calls, events, errors, alerts, tombstones, offsets", _V1),
)
"""Every migration, oldest first."""

CREATE_MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at_ms BIGINT NOT NULL)"
)


def render(statement: str, dialect: str) -> str:
    """A statement's text for ``dialect`` (``sqlite`` or ``postgres``)."""
    if dialect == "sqlite":
        return statement.format(int="INTEGER", without_rowid=" WITHOUT ROWID")
    return statement.format(int="BIGINT", without_rowid="")
