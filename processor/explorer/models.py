"""The explorer API's answers as pydantic models: the OpenAPI document is generated from them.

Field names are camelCase on the wire, like the output records. Times come as
epoch milliseconds (``...Ms``) and, for people, as ISO 8601 UTC text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


def iso(ms: int | None) -> str | None:
    """Epoch ms as ISO 8601 UTC text with milliseconds (None stays None)."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,
        serialize_by_alias=True,
    )


class ErrorView(_Model):
    """One entry of an event's ``body.errors``."""

    code: str | None = Field(description="Error code, e.g. NETWORK_ERROR.")
    message: str | None = Field(description="Human-readable message.")
    phase: str | None = Field(description="Call phase it happened in.")
    where: str | None = Field(description="Component that raised it.")
    timestamp: str | None = Field(description="When the platform saw it (as sent).")


class AlertView(_Model):
    """An alert raised for the call."""

    alert_id: str = Field(description="Deterministic alert id.")
    kind: str = Field(description="ERRORED_EVENT, CALL_STALLED or ERRORS_UNREADABLE.")
    severity: str = Field(description="critical or warning.")
    at_ms: int = Field(description="When it was raised (event receive time), epoch ms.")
    at: str | None = Field(description="The same, ISO 8601 UTC.")
    summary: str = Field(description="One line for people.")
    error_codes: list[str] = Field(description="Codes of the errored event.")
    event_ref: str | None = Field(
        description="Id of the timeline event that raised it (partition-offset); null for stalls."
    )


class EventView(_Model):
    """One step of the call's timeline."""

    event_ref: str = Field(description="Id in this call: input partition-offset.")
    at_ms: int = Field(description="Ingress receive time, epoch ms.")
    at: str | None = Field(description="The same, ISO 8601 UTC.")
    event_type: str = Field(description="The eventType (UNKNOWN if not known yet).")
    event_type_raw: str | None = Field(description="The eventType exactly as sent.")
    call_status: str | None = Field(description="callStatus as sent.")
    verdict: str = Field(
        description="EXPECTED, UNEXPECTED_TRANSITION, DUPLICATE, AFTER_TERMINAL or UNKNOWN_TYPE."
    )
    previous_status: str = Field(description="Machine node before the event.")
    status: str = Field(description="Machine node after the event.")
    has_errors: bool = Field(description="True when body.errors was non-empty.")
    flags: list[str] = Field(description="Contract oddities that did not stop the event.")
    errors: list[ErrorView] = Field(description="body.errors, as received.")
    alerts: list[AlertView] = Field(description="Alerts this event raised.")


class HistoryView(_Model):
    """A node the call entered."""

    status: str = Field(description="Node entered.")
    at_ms: int = Field(description="When, epoch ms.")


class CallDetail(_Model):
    """``GET /calls/{callId}``: what happened to the call."""

    call_id: str = Field(description="The call.")
    state_known: bool = Field(
        description="False while only events of the call have arrived, not yet its state."
    )
    project_id: str | None = Field(description="Recho project.")
    direction: str | None = Field(description="OUTBOUND or INBOUND.")
    status: str = Field(description="Current machine node.")
    outcome: str | None = Field(description="How the call ended; null while open.")
    finished: bool = Field(description="True once the call has an outcome.")
    attempts: int = Field(description="Dials (a redial is another attempt).")
    events_seen: int = Field(description="Events applied, duplicates not counted.")
    error_count: int = Field(description="Events that carried errors.")
    error_codes: list[str] = Field(description="Distinct error codes seen.")
    stalled: bool = Field(description="A CALL_STALLED alert was raised.")
    first_seen_ms: int | None = Field(description="First event's receive time, epoch ms.")
    last_seen_ms: int | None = Field(description="Latest event's receive time, epoch ms.")
    terminal_at_ms: int | None = Field(description="When it reached its outcome, epoch ms.")
    duration_ms: int | None = Field(description="First seen to terminal.")
    time_to_answer_ms: int | None = Field(description="Start to first CALLING.")
    history: list[HistoryView] = Field(description="Nodes entered, oldest first.")
    timeline: list[EventView] = Field(description="Every event, in the order processed.")
    alerts: list[AlertView] = Field(description="Every alert, in time order (stalls included).")


class CallSummaryView(_Model):
    """One call of ``GET /calls``."""

    call_id: str = Field(description="The call.")
    project_id: str = Field(description="Recho project.")
    direction: str = Field(description="OUTBOUND or INBOUND.")
    status: str = Field(description="Current machine node.")
    outcome: str | None = Field(description="Outcome; null while open.")
    first_seen_ms: int = Field(description="First event's receive time, epoch ms.")
    first_seen: str | None = Field(description="The same, ISO 8601 UTC.")
    last_seen_ms: int = Field(description="Latest event's receive time, epoch ms.")
    duration_ms: int | None = Field(description="First seen to terminal.")
    attempts: int = Field(description="Dials.")
    events_seen: int = Field(description="Events applied.")
    error_count: int = Field(description="Events that carried errors.")
    stalled: bool = Field(description="A CALL_STALLED alert was raised.")


class CallPage(_Model):
    """``GET /calls``: one page, newest first (by first event)."""

    calls: list[CallSummaryView] = Field(description="At most ``limit`` calls.")
    limit: int = Field(description="Page size used.")
    next_cursor: str | None = Field(
        description="Pass as ``cursor`` for the next page; null on the last page."
    )


class TransitionCount(_Model):
    """How often an unexpected step happened."""

    verdict: Literal["UNEXPECTED_TRANSITION", "AFTER_TERMINAL"] = Field(description="Verdict.")
    from_status: str = Field(description="Node before.")
    to_status: str = Field(description="Node after.")
    count: int = Field(description="Events.")


class Percentiles(_Model):
    """Time to answer (start to first CALLING) over answered calls."""

    p50_ms: int | None = Field(description="Median, ms (nearest rank).")
    p95_ms: int | None = Field(description="95th percentile, ms (nearest rank).")
    answered: int = Field(description="Calls with a time to answer.")


class Stats(_Model):
    """``GET /stats``: calls first seen, and events received, since a moment."""

    since_ms: int = Field(description="Window start, epoch ms.")
    since: str | None = Field(description="The same, ISO 8601 UTC.")
    calls: int = Field(description="Calls first seen in the window.")
    by_outcome: dict[str, int] = Field(description="Calls per outcome (OPEN: not finished).")
    by_error_code: dict[str, int] = Field(description="Error entries per code (top 50).")
    unexpected_transitions: list[TransitionCount] = Field(
        description="Unexpected steps, most frequent first (top 50)."
    )
    time_to_answer: Percentiles = Field(description="Time to answer percentiles.")


class Problem(_Model):
    """Every 4xx/503 answer."""

    error: str = Field(description="Stable code: bad_query, not_found, unauthorized, ...")
    message: str = Field(description="What is wrong, for a human.")
    field: str | None = Field(default=None, description="The offending parameter, if any.")
