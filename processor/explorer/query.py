"""Query strings in, :class:`~processor.explorer.store.CallQuery` out (pure).

Every parameter is checked here, so the store only ever sees valid values and
a user sees a 400 naming the field instead of an empty page. Times are ISO
8601 (``2026-06-01T09:15:00Z``; no zone means UTC) or epoch milliseconds.
Cursors are opaque to users: URL-safe base64 of ``<firstSeenMs>:<callId>``
with a version prefix, so a page boundary cannot move when new calls arrive.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import UTC, datetime

from processor.calls import CallOutcome, Verdict
from processor.contract import CallStatus
from processor.explorer.exceptions import QueryError
from processor.explorer.store import CallQuery, Cursor

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_TEXT = 200
DEFAULT_STATS_WINDOW_MS = 24 * 3600 * 1000

CALL_FILTERS = (
    "projectId",
    "status",
    "outcome",
    "hasErrors",
    "verdict",
    "errorCode",
    "since",
    "until",
    "limit",
    "cursor",
)
STATUSES = ("NEW", *(s.value for s in CallStatus))
OUTCOMES = ("OPEN", *(o.value for o in CallOutcome))
VERDICTS = tuple(v.value for v in Verdict)
_CURSOR_PREFIX = "v1:"


def parse_time_ms(field: str, text: str) -> int:
    """Epoch ms from ISO 8601 (UTC if no zone) or from digits (epoch ms)."""
    text = text.strip()
    if text.isdigit() and len(text) <= 15:
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(
            field, "expected an ISO 8601 time (2026-06-01T09:15:00Z) or epoch milliseconds"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def encode_cursor(cursor: Cursor) -> str:
    """The opaque ``cursor`` parameter that continues after ``cursor``."""
    raw = f"{_CURSOR_PREFIX}{cursor.first_seen_ms}:{cursor.call_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> Cursor:
    """The position an :func:`encode_cursor` value stands for; QueryError if it is not one."""
    bad = QueryError("cursor", "not a cursor from a previous page (use nextCursor as given)")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad from None
    if not raw.startswith(_CURSOR_PREFIX):
        raise bad
    first_seen, sep, call_id = raw.removeprefix(_CURSOR_PREFIX).partition(":")
    if not sep or not first_seen.lstrip("-").isdigit() or not call_id:
        raise bad
    return Cursor(int(first_seen), call_id)


def _one_of(field: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise QueryError(field, f"unknown value {value[:40]!r}; one of {', '.join(allowed)}")
    return value


def _text(field: str, value: str) -> str:
    if not value or len(value) > MAX_TEXT:
        raise QueryError(field, f"expected 1 to {MAX_TEXT} characters")
    return value


def _bool(field: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise QueryError(field, "expected true or false")


def _limit(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise QueryError("limit", f"expected a whole number from 1 to {MAX_LIMIT}")
    return int(value)


def parse_call_query(params: Mapping[str, list[str]]) -> CallQuery:
    """A :class:`CallQuery` from ``GET /calls`` parameters; empty values mean "any"."""
    for name, values in params.items():
        if name not in CALL_FILTERS:
            raise QueryError(name, f"unknown parameter; known: {', '.join(CALL_FILTERS)}")
        if len(values) > 1:
            raise QueryError(name, "given more than once")
    value = {name: values[0].strip() for name, values in params.items() if values[0].strip()}
    since = parse_time_ms("since", value["since"]) if "since" in value else None
    until = parse_time_ms("until", value["until"]) if "until" in value else None
    if since is not None and until is not None and until <= since:
        raise QueryError("until", "must be later than since")
    return CallQuery(
        project_id=_text("projectId", value["projectId"]) if "projectId" in value else None,
        status=_one_of("status", value["status"], STATUSES) if "status" in value else None,
        outcome=_one_of("outcome", value["outcome"], OUTCOMES) if "outcome" in value else None,
        has_errors=_bool("hasErrors", value["hasErrors"]) if "hasErrors" in value else None,
        verdict=_one_of("verdict", value["verdict"], VERDICTS) if "verdict" in value else None,
        error_code=_text("errorCode", value["errorCode"]) if "errorCode" in value else None,
        since_ms=since,
        until_ms=until,
        limit=_limit(value["limit"]) if "limit" in value else DEFAULT_LIMIT,
        after=decode_cursor(value["cursor"]) if "cursor" in value else None,
    )


def parse_stats_since(params: Mapping[str, list[str]], now_ms: int) -> int:
    """``since`` of ``GET /stats`` in epoch ms; the last 24 hours when absent."""
    for name, values in params.items():
        if name != "since":
            raise QueryError(name, "unknown parameter; known: since")
        if len(values) > 1:
            raise QueryError(name, "given more than once")
    text = params.get("since", [""])[0].strip()
    return parse_time_ms("since", text) if text else now_ms - DEFAULT_STATS_WINDOW_MS


def validate_call_id(call_id: str) -> str:
    """A callId from a path: non-empty and bounded."""
    return _text("callId", call_id)
