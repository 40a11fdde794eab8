"""Metric children the worker touches per record, looked up once and cached.

``labels()`` costs a lock and a dict lookup on every call; at tens of
thousands of events per second that shows in profiles. Error codes and
phases are open strings from the platform, so they are folded into a capped
set to keep label cardinality bounded.
"""

from __future__ import annotations

from typing import Any

from processor import metrics
from processor.calls import CallFinished, RaiseAlert, Verdict
from processor.contract import EventType

MAX_CODES = 50
OTHER = "OTHER"


class LabelCache:
    """Cached metric children for the worker's hot path."""

    def __init__(self) -> None:
        self._events: dict[tuple[EventType, Verdict], Any] = {}
        self._errors: dict[tuple[str, str], Any] = {}
        self._codes: set[str] = set()
        self._phases: set[str] = set()

    def event(self, event_type: EventType, verdict: Verdict) -> Any:
        """The events counter child for (eventType, verdict)."""
        key = (event_type, verdict)
        child = self._events.get(key)
        if child is None:
            child = self._events[key] = metrics.WORKER_EVENTS.labels(
                event_type.value, verdict.value
            )
        return child

    def error(self, code: str, phase: str) -> Any:
        """The errors counter child, with unknown codes and phases folded past a cap."""
        code = self._fold(code, self._codes)
        phase = self._fold(phase, self._phases)
        key = (code, phase)
        child = self._errors.get(key)
        if child is None:
            child = self._errors[key] = metrics.WORKER_ERRORS.labels(code, phase)
        return child

    @staticmethod
    def _fold(value: str, seen: set[str]) -> str:
        value = value[:48]
        if value in seen:
            return value
        if len(seen) >= MAX_CODES:
            return OTHER
        seen.add(value)
        return value

    def alert(self, alert: RaiseAlert) -> None:
        """Count an alert by kind and severity."""
        metrics.WORKER_ALERTS.labels(alert.kind.value, alert.severity.value).inc()

    def finished(self, finished: CallFinished) -> None:
        """Count a finished call and observe its durations."""
        outcome = finished.outcome.value
        direction = finished.direction.value
        metrics.WORKER_CALLS_FINISHED.labels(outcome, direction).inc()
        if finished.duration_ms is not None:
            metrics.WORKER_CALL_DURATION.labels(outcome, direction).observe(
                finished.duration_ms / 1000
            )
        if finished.time_to_answer_ms is not None:
            metrics.WORKER_TIME_TO_ANSWER.labels(direction).observe(
                finished.time_to_answer_ms / 1000
            )
