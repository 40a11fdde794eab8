"""Output records: worker -> calls -> **outputs** -> Kafka topics.

:mod:`~processor.outputs.records` turns the state machine's effects into the
JSON bytes of each output topic (fast, plain dicts + orjson);
:mod:`~processor.outputs.models` describes the same records as pydantic models,
from which :mod:`~processor.outputs.schemas` generates the shipped JSON Schemas
and the AsyncAPI document.
"""

from processor.outputs.records import (
    ALERT_KINDS,
    ALERT_SCHEMA,
    DLQ_REASONS,
    DLQ_SCHEMA,
    EVENT_SCHEMA,
    NEW_STATUS,
    STATE_SCHEMA,
    DeadLetter,
    SourceRef,
    alert_record,
    changelog_record,
    dlq_record,
    event_record,
    parse_changelog,
    parse_dlq_record,
    state_record,
)

__all__ = [
    "ALERT_KINDS",
    "ALERT_SCHEMA",
    "DLQ_REASONS",
    "DLQ_SCHEMA",
    "EVENT_SCHEMA",
    "NEW_STATUS",
    "STATE_SCHEMA",
    "DeadLetter",
    "SourceRef",
    "alert_record",
    "changelog_record",
    "dlq_record",
    "event_record",
    "parse_changelog",
    "parse_dlq_record",
    "state_record",
]
