"""The worker's changelog records: a call's full state, compact, and back.

worker -> calls -> **outputs**: at each commit the worker writes every touched
call's :class:`~processor.calls.CallState` to the changelog topic with
:func:`changelog_record`; on assignment it rebuilds its store from that topic
with :func:`parse_changelog`. The state stays a plain domain object; this
module alone knows its wire form (one-letter keys, a version, enums by value).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Final

import orjson

from processor.calls import CallOutcome, CallState
from processor.contract import CallStatus, Direction
from processor.outputs.reading import as_bool, as_int, as_object, as_str

STATE_VERSION: Final = 1
"""Version of the changelog form; a reader refuses any other."""


def changelog_record(state: CallState) -> bytes:
    """The worker's changelog value for a call: its full state, compact."""
    return orjson.dumps(state_to_dict(state))


def parse_changelog(raw: bytes) -> CallState:
    """Rebuild a state from :func:`changelog_record` bytes; ValueError if malformed."""
    return state_from_dict(as_object(orjson.loads(raw)))


def state_to_dict(state: CallState) -> dict[str, object]:
    """A compact, JSON-ready dict of a state; :func:`state_from_dict` reads it.

    Enum members go in as they are: orjson writes their values.
    """
    return {
        "v": STATE_VERSION,
        "c": state.call_id,
        "p": state.project_id,
        "d": state.direction,
        "s": state.status,
        "r": state.last_reported_status,
        "h": list(state.history),
        "hd": state.history_dropped,
        "f": state.first_seen_ms,
        "l": state.last_seen_ms,
        "n": state.events_seen,
        "ec": state.error_count,
        "e": list(state.error_codes),
        "a": state.attempts,
        "st": state.started_at_ms,
        "an": state.answered_at_ms,
        "o": state.outcome,
        "t": state.terminal_at_ms,
        "b": state.recent_hashes.hex(),
        "x": state.stalled_alerted,
    }


def state_from_dict(data: Mapping[str, object]) -> CallState:
    """Rebuild a state from :func:`state_to_dict` output; ValueError if it is malformed."""
    try:
        if data["v"] != STATE_VERSION:
            raise ValueError(f"unsupported call state version {data['v']!r}")
        status = _opt_str(data["s"])
        outcome = _opt_str(data["o"])
        history = data["h"]
        codes = data["e"]
        if not isinstance(history, list) or not isinstance(codes, list):
            raise ValueError("call state history and codes must be lists")
        return CallState(
            call_id=as_str(data["c"]),
            project_id=sys.intern(as_str(data["p"])),
            direction=Direction(as_str(data["d"])),
            first_seen_ms=as_int(data["f"]),
            last_seen_ms=as_int(data["l"]),
            status=None if status is None else CallStatus(status),
            last_reported_status=CallStatus(as_str(data["r"])),
            history=tuple(as_int(p) for p in history),
            history_dropped=as_int(data["hd"]),
            events_seen=as_int(data["n"]),
            error_count=as_int(data["ec"]),
            error_codes=tuple(sys.intern(as_str(c)) for c in codes),
            attempts=as_int(data["a"]),
            started_at_ms=_opt_int(data["st"]),
            answered_at_ms=_opt_int(data["an"]),
            outcome=None if outcome is None else CallOutcome(outcome),
            terminal_at_ms=_opt_int(data["t"]),
            recent_hashes=bytes.fromhex(as_str(data["b"])),
            stalled_alerted=as_bool(data["x"], "x"),
        )
    except KeyError as exc:
        raise ValueError(f"call state misses key {exc}") from exc


def _opt_int(value: object) -> int | None:
    return None if value is None else as_int(value)


def _opt_str(value: object) -> str | None:
    return None if value is None else as_str(value)
