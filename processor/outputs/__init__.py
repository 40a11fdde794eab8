"""Output records: worker -> calls -> **outputs** -> Kafka topics.

:mod:`~processor.outputs.records` (events, state), :mod:`~processor.outputs.alerts`,
:mod:`~processor.outputs.dead_letters` and :mod:`~processor.outputs.changelog` turn
the state machine's effects into the JSON bytes of each output topic (fast,
plain dicts + orjson);
:mod:`~processor.outputs.models` describes the same records as pydantic models,
from which :mod:`~processor.outputs.schemas` generates the shipped JSON Schemas
and the AsyncAPI document.
"""

from processor.outputs.alerts import ALERT_KINDS, ALERT_SCHEMA, alert_record
from processor.outputs.changelog import changelog_record, parse_changelog
from processor.outputs.dead_letters import (
    DLQ_SCHEMA,
    DeadLetter,
    DeadLetterReason,
    dlq_record,
    parse_dlq_record,
)
from processor.outputs.records import (
    EVENT_SCHEMA,
    NEW_STATUS,
    STATE_SCHEMA,
    SourceRef,
    event_record,
    state_record,
)

__all__ = [
    "ALERT_KINDS",
    "ALERT_SCHEMA",
    "DLQ_SCHEMA",
    "EVENT_SCHEMA",
    "NEW_STATUS",
    "STATE_SCHEMA",
    "DeadLetter",
    "DeadLetterReason",
    "SourceRef",
    "alert_record",
    "changelog_record",
    "dlq_record",
    "event_record",
    "parse_changelog",
    "parse_dlq_record",
    "state_record",
]
