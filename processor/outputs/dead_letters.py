"""Dead-letter records: an input record the worker could not process, kept to replay.

worker -> **outputs** -> the dead-letter topic: the original key, value and
headers are kept byte for byte (base64) beside why the record failed;
:func:`parse_dlq_record` gives them back for ``processor replay``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import orjson

from processor.outputs.reading import as_int, as_object, as_str
from processor.outputs.records import SourceRef, source_dict

DLQ_SCHEMA: Final = "recho.webhook-dead-letter/1"
"""Value of the ``schema`` field of every dead-letter record."""


class DeadLetterReason(StrEnum):
    """Why a record was dead-lettered: a bounded code, fit for a metric label."""

    NOT_JSON = "not_json"
    """The body is not an RFC 8259 JSON object."""
    MISSING_CALL_ID = "missing_call_id"
    """``body.data.callId`` is missing, null, not a string or blank."""
    INVALID_CONTRACT = "invalid_contract"
    """Any other break of the webhook contract."""
    PROCESSING_ERROR = "processing_error"
    """A valid event the worker failed on (a bug; the partition goes on)."""


_REASONS: Final = frozenset(DeadLetterReason)


DLQ_ERROR_MAX_CHARS: Final = 4096
"""Longest ``error`` message kept in a dead letter; a runaway message is cut."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A dead-letter record read back: the original record, byte for byte, and why it failed.

    ``headers`` keep a null header value as ``None`` (Kafka allows one), so a
    replay sends exactly what came in.
    """

    reason: str
    error: str
    source: SourceRef
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]
    failed_at_ms: int


def dlq_record(
    *,
    reason: DeadLetterReason,
    error: str,
    source: SourceRef,
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes | None]],
    failed_at_ms: int,
) -> bytes:
    """The dead-letter record of an input record that could not be processed.

    The original key, value and headers are kept exactly (base64) so
    :func:`parse_dlq_record` gives back the very bytes for a replay; ``key``
    and ``valueText`` are readable renderings for people. Raises ValueError
    for a ``reason`` outside :class:`DeadLetterReason`: reasons are metric labels.
    """
    if reason not in _REASONS:
        raise ValueError(f"unknown dead-letter reason {reason!r}; one of {sorted(_REASONS)}")
    return orjson.dumps(
        {
            "schema": DLQ_SCHEMA,
            "reason": reason,
            "error": error[:DLQ_ERROR_MAX_CHARS],
            "source": source_dict(source),
            "key": None if key is None else key.decode("utf-8", errors="replace"),
            "keyBase64": _b64(key),
            "valueBase64": _b64(value),
            "valueText": None if value is None else value.decode("utf-8", errors="replace"),
            "headers": [{"key": name, "valueBase64": _b64(raw)} for name, raw in headers],
            "failedAtMs": failed_at_ms,
        }
    )


def parse_dlq_record(raw: bytes) -> DeadLetter:
    """Read a :func:`dlq_record` back into the original record; ValueError if malformed."""
    data = as_object(orjson.loads(raw))
    try:
        source = as_object(data["source"])
        headers = data["headers"]
        if not isinstance(headers, list):
            raise ValueError("dead letter headers must be a list")
        return DeadLetter(
            reason=as_str(data["reason"]),
            error=as_str(data["error"]),
            source=SourceRef(
                topic=as_str(source["topic"]),
                partition=as_int(source["partition"]),
                offset=as_int(source["offset"]),
            ),
            key=_unb64(data["keyBase64"]),
            value=_unb64(data["valueBase64"]),
            headers=[
                (as_str(header["key"]), _unb64(header["valueBase64"]))
                for header in map(as_object, headers)
            ],
            failed_at_ms=as_int(data["failedAtMs"]),
        )
    except KeyError as exc:
        raise ValueError(f"dead letter misses key {exc}") from exc


def _b64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.b64encode(raw).decode("ascii")


def _unb64(value: object) -> bytes | None:
    if value is None:
        return None
    try:
        return base64.b64decode(as_str(value), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"invalid base64: {exc}") from exc
