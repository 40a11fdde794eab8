"""The read side's SQL that is more than a lookup: the calls list filter and the stats.

explorer: api -> store (:mod:`~processor.explorer.sql`) -> **sql_reads**. Statements use
``?`` placeholders; the store's executor rewrites them for its dialect.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from processor.explorer.store import CallQuery, CallSummary, StatsRows

Execute = Callable[..., Any]
"""Runs one statement with its parameters in the current transaction; returns the cursor."""

SUMMARY_COLUMNS = (
    "call_id, project_id, direction, status, outcome, first_seen_ms, last_seen_ms, "
    "duration_ms, attempts, events_seen, error_count, stalled"
)
"""The calls-list columns, in :func:`summary_of`'s order."""
UNEXPECTED = ("UNEXPECTED_TRANSITION", "AFTER_TERMINAL")
"""The verdicts /stats counts as unexpected transitions."""


def read_stats(execute: Execute, since_ms: int) -> StatsRows:
    """Outcomes, error codes, unexpected transitions and answer times since ``since_ms``."""
    stats = StatsRows()
    for outcome, count in execute(
        "SELECT COALESCE(outcome, 'OPEN'), COUNT(*) FROM calls WHERE first_seen_ms >= ? "
        "GROUP BY COALESCE(outcome, 'OPEN') ORDER BY 2 DESC",
        (since_ms,),
    ).fetchall():
        stats.by_outcome[outcome] = int(count)
    stats.calls = sum(stats.by_outcome.values())
    for code, count in execute(
        "SELECT code, COUNT(*) FROM event_errors WHERE at_ms >= ? "
        "GROUP BY code ORDER BY 2 DESC, 1 LIMIT 50",
        (since_ms,),
    ).fetchall():
        stats.by_error_code[code] = int(count)
    stats.by_transition = [
        (v, p, s, int(n))
        for v, p, s, n in execute(
            "SELECT verdict, previous_status, status, COUNT(*) FROM events "
            "WHERE verdict IN (?, ?) AND at_ms >= ? "
            "GROUP BY verdict, previous_status, status ORDER BY 4 DESC, 1, 2, 3 LIMIT 50",
            (*UNEXPECTED, since_ms),
        ).fetchall()
    ]
    answered_where = "FROM calls WHERE first_seen_ms >= ? AND time_to_answer_ms IS NOT NULL"
    answered = int(execute(f"SELECT COUNT(*) {answered_where}", (since_ms,)).fetchone()[0])
    stats.answered = answered
    if answered:
        for share in (0.5, 0.95):
            rank = max(0, math.ceil(share * answered) - 1)  # nearest rank
            value = execute(
                f"SELECT time_to_answer_ms {answered_where} "
                "ORDER BY time_to_answer_ms LIMIT 1 OFFSET ?",
                (since_ms, rank),
            ).fetchone()[0]
            if share == 0.5:
                stats.time_to_answer_p50_ms = int(value)
            else:
                stats.time_to_answer_p95_ms = int(value)
    return stats


def summary_of(r: Sequence[Any]) -> CallSummary:
    """A calls-list row as a CallSummary (columns in SUMMARY_COLUMNS order)."""
    return CallSummary(
        call_id=r[0],
        project_id=r[1],
        direction=r[2],
        status=r[3],
        outcome=r[4],
        first_seen_ms=int(r[5]),
        last_seen_ms=int(r[6]),
        duration_ms=r[7],
        attempts=int(r[8]),
        events_seen=int(r[9]),
        error_count=int(r[10]),
        stalled=bool(r[11]),
    )


def where_clause(query: CallQuery) -> tuple[str, list[Any]]:
    """The WHERE clause (``?`` placeholders) and its parameters for ``query``."""
    terms: list[str] = []
    params: list[Any] = []

    def add(term: str, *values: Any) -> None:
        terms.append(term)
        params.extend(values)

    if query.project_id is not None:
        add("c.project_id = ?", query.project_id)
    if query.status is not None:
        add("c.status = ?", query.status)
    if query.outcome == "OPEN":
        add("c.outcome IS NULL")
    elif query.outcome is not None:
        add("c.outcome = ?", query.outcome)
    if query.has_errors is not None:
        add("c.error_count > 0" if query.has_errors else "c.error_count = 0")
    if query.verdict is not None:
        add(
            "EXISTS (SELECT 1 FROM events e WHERE e.call_id = c.call_id AND e.verdict = ?)",
            query.verdict,
        )
    if query.error_code is not None:
        add(
            "EXISTS (SELECT 1 FROM event_errors x WHERE x.call_id = c.call_id AND x.code = ?)",
            query.error_code,
        )
    if query.since_ms is not None:
        add("c.first_seen_ms >= ?", query.since_ms)
    if query.until_ms is not None:
        add("c.first_seen_ms < ?", query.until_ms)
    if query.after is not None:
        after = query.after
        add(
            "(c.first_seen_ms < ? OR (c.first_seen_ms = ? AND c.call_id < ?))",
            after.first_seen_ms,
            after.first_seen_ms,
            after.call_id,
        )
    return ("WHERE " + " AND ".join(terms) if terms else ""), params
