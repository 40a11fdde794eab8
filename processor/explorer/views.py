"""Store rows → API models (pure): the timeline with its alerts, pages, stats."""

from __future__ import annotations

from typing import Any

import orjson

from processor.explorer.models import (
    AlertView,
    CallDetail,
    CallPage,
    CallSummaryView,
    ErrorView,
    EventView,
    HistoryView,
    Percentiles,
    Stats,
    TransitionCount,
    iso,
)
from processor.explorer.query import encode_cursor
from processor.explorer.store import CallRows, CallSummary, Cursor, StatsRows


def event_ref(partition: int | None, offset: int | None) -> str | None:
    """The id of a timeline event: its input partition and offset."""
    return None if partition is None or offset is None else f"{partition}-{offset}"


def _alert(raw: str) -> AlertView:
    data: dict[str, Any] = orjson.loads(raw)
    source = data.get("source") or {}
    return AlertView(
        alert_id=data["alertId"],
        kind=data["kind"],
        severity=data["severity"],
        at_ms=data["atMs"],
        at=iso(data["atMs"]),
        summary=data.get("summary") or "",
        error_codes=list(data.get("errorCodes") or []),
        event_ref=event_ref(source.get("partition"), source.get("offset")),
    )


def _error(entry: Any) -> ErrorView:
    if not isinstance(entry, dict):
        return ErrorView(code=None, message=str(entry), phase=None, where=None, timestamp=None)

    def text(name: str) -> str | None:
        value = entry.get(name)
        return None if value is None else str(value)

    return ErrorView(
        code=text("code"),
        message=text("message"),
        phase=text("phase"),
        where=text("where"),
        timestamp=text("timestamp"),
    )


def build_call(call_id: str, rows: CallRows) -> CallDetail:
    """The full answer of ``GET /calls/{callId}``."""
    alerts = [_alert(raw) for raw in rows.alerts_json]
    by_event: dict[str, list[AlertView]] = {}
    for alert in alerts:
        if alert.event_ref is not None:
            by_event.setdefault(alert.event_ref, []).append(alert)
    timeline = []
    for e in rows.events:
        ref = f"{e.src_partition}-{e.src_offset}"
        timeline.append(
            EventView(
                event_ref=ref,
                at_ms=e.at_ms,
                at=iso(e.at_ms),
                event_type=e.event_type,
                event_type_raw=e.event_type_raw,
                call_status=e.call_status,
                verdict=e.verdict,
                previous_status=e.previous_status,
                status=e.status,
                has_errors=bool(e.has_errors),
                flags=orjson.loads(e.flags_json),
                errors=[_error(x) for x in orjson.loads(e.errors_json)],
                alerts=by_event.get(ref, []),
            )
        )
    state: dict[str, Any] = orjson.loads(rows.state_json) if rows.state_json else {}
    last = rows.events[-1] if rows.events else None
    codes = list(state.get("errorCodes") or [])
    if not state:
        codes = sorted({x.code for ev in timeline for x in ev.errors if x.code})
    return CallDetail(
        call_id=call_id,
        state_known=bool(state),
        project_id=state.get("projectId"),
        direction=state.get("direction"),
        status=state.get("status") or (last.status if last else "NEW"),
        outcome=state.get("outcome"),
        finished=bool(state.get("finished")),
        attempts=state.get("attempts") or 0,
        events_seen=state.get("eventsSeen") or len(timeline),
        error_count=state.get("errorCount") or sum(1 for ev in timeline if ev.has_errors),
        error_codes=codes,
        stalled=bool(state.get("stalled")),
        first_seen_ms=state.get("firstSeenMs") or (rows.events[0].at_ms if rows.events else None),
        last_seen_ms=state.get("lastSeenMs") or (last.at_ms if last else None),
        terminal_at_ms=state.get("terminalAtMs"),
        duration_ms=state.get("durationMs"),
        time_to_answer_ms=state.get("timeToAnswerMs"),
        history=[
            HistoryView(status=h["status"], at_ms=h["atMs"]) for h in state.get("history") or []
        ],
        timeline=timeline,
        alerts=alerts,
    )


def build_page(calls: list[CallSummary], limit: int) -> CallPage:
    """One page; a next cursor only when the page is full."""
    views = [
        CallSummaryView(
            call_id=c.call_id,
            project_id=c.project_id,
            direction=c.direction,
            status=c.status,
            outcome=c.outcome,
            first_seen_ms=c.first_seen_ms,
            first_seen=iso(c.first_seen_ms),
            last_seen_ms=c.last_seen_ms,
            duration_ms=c.duration_ms,
            attempts=c.attempts,
            events_seen=c.events_seen,
            error_count=c.error_count,
            stalled=c.stalled,
        )
        for c in calls
    ]
    cursor = None
    if len(calls) == limit and calls:
        cursor = encode_cursor(Cursor(calls[-1].first_seen_ms, calls[-1].call_id))
    return CallPage(calls=views, limit=limit, next_cursor=cursor)


def build_stats(rows: StatsRows, since_ms: int) -> Stats:
    """The answer of ``GET /stats``."""
    return Stats(
        since_ms=since_ms,
        since=iso(since_ms),
        calls=rows.calls,
        by_outcome=rows.by_outcome,
        by_error_code=rows.by_error_code,
        unexpected_transitions=[
            TransitionCount(verdict=v, from_status=p, to_status=s, count=n)
            for v, p, s, n in rows.by_transition
        ],
        time_to_answer=Percentiles(
            p50_ms=rows.time_to_answer_p50_ms,
            p95_ms=rows.time_to_answer_p95_ms,
            answered=rows.answered,
        ),
    )
