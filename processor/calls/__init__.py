"""The per-call state machine: worker -> **calls** -> outputs.

Pure code, no I/O. The worker turns each webhook into a :class:`CallEvent`,
keeps one :class:`CallState` per call, and applies the effects that
:func:`handle` returns. The transition graphs live as data in ``tables``.
"""

from processor.calls.event import CallEvent, ErrorKind, classify_error
from processor.calls.machine import (
    CRITICAL_EVENT_TYPES,
    AlertContext,
    AlertKind,
    CallFinished,
    Effect,
    EmitEvent,
    RaiseAlert,
    Severity,
    alert_context,
    alert_id,
    check_stalled,
    handle,
    is_expired,
)
from processor.calls.state import ERROR_CODE_MAX_LEN, NEW, NEW_NAME, CallOutcome, CallState, Node
from processor.calls.tables import TABLES, DirectionTable, Verdict

__all__ = [
    "CRITICAL_EVENT_TYPES",
    "ERROR_CODE_MAX_LEN",
    "NEW",
    "NEW_NAME",
    "TABLES",
    "AlertContext",
    "AlertKind",
    "CallEvent",
    "CallFinished",
    "CallOutcome",
    "CallState",
    "DirectionTable",
    "Effect",
    "EmitEvent",
    "ErrorKind",
    "Node",
    "RaiseAlert",
    "Severity",
    "Verdict",
    "alert_context",
    "alert_id",
    "check_stalled",
    "classify_error",
    "handle",
    "is_expired",
]
