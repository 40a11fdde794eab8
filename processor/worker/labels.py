"""Metric children the worker touches per record, looked up once and cached.

``labels()`` costs a lock and a dict lookup on every call; at tens of
thousands of events per second that shows in profiles. Error codes and
phases are open strings from the platform, so they are folded into a capped
set to keep label cardinality bounded. Per-call counts and durations are
tallied in the process and added to the metrics by :meth:`LabelCache.flush`
(once per batch; see :mod:`processor.tally`).
"""

from __future__ import annotations

from typing import Any

from processor import metrics
from processor.calls import (
    ERROR_CODE_MAX_LEN,
    AlertKind,
    CallFinished,
    CallOutcome,
    RaiseAlert,
    Severity,
    Verdict,
)
from processor.contract import Direction, EventType
from processor.tally import CounterTally, HistogramTally

MAX_CODES = 50
OTHER = "OTHER"


class LabelCache:
    """Cached metric children for the worker's hot path."""

    def __init__(self) -> None:
        self._events: dict[tuple[EventType, Verdict], Any] = {}
        self._errors: dict[tuple[str, str], Any] = {}
        self._alerts: dict[tuple[AlertKind, Severity], Any] = {}
        self._finished: dict[
            tuple[CallOutcome, Direction], tuple[CounterTally, HistogramTally, HistogramTally]
        ] = {}
        self._tallies: list[CounterTally | HistogramTally] = []
        self._codes: set[str] = set()
        self._phases: set[str] = set()

    def events(self, counts: dict[tuple[EventType, Verdict], int]) -> None:
        """Count events by (eventType, verdict), a batch's worth at once."""
        for key, count in counts.items():
            child = self._events.get(key)
            if child is None:
                event_type, verdict = key
                child = self._events[key] = metrics.WORKER_EVENTS.labels(
                    event_type.value, verdict.value
                )
            child.inc(count)

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
        value = value[:ERROR_CODE_MAX_LEN]
        if value in seen:
            return value
        if len(seen) >= MAX_CODES:
            return OTHER
        seen.add(value)
        return value

    def alert(self, alert: RaiseAlert) -> None:
        """Count an alert by kind and severity."""
        key = (alert.kind, alert.severity)
        child = self._alerts.get(key)
        if child is None:
            child = self._alerts[key] = metrics.WORKER_ALERTS.labels(
                alert.kind.value, alert.severity.value
            )
        child.inc()

    def finished(self, finished: CallFinished) -> None:
        """Count a finished call and observe its durations."""
        key = (finished.outcome, finished.direction)
        children = self._finished.get(key)
        if children is None:
            outcome, direction = finished.outcome.value, finished.direction.value
            children = self._finished[key] = (
                CounterTally(metrics.WORKER_CALLS_FINISHED.labels(outcome, direction)),
                HistogramTally(metrics.WORKER_CALL_DURATION.labels(outcome, direction)),
                HistogramTally(metrics.WORKER_TIME_TO_ANSWER.labels(direction)),
            )
            self._tallies.extend(children)
        count, duration, time_to_answer = children
        count.inc()
        if finished.duration_ms is not None:
            duration.observe(finished.duration_ms / 1000)
        if finished.time_to_answer_ms is not None:
            time_to_answer.observe(finished.time_to_answer_ms / 1000)

    def flush(self) -> None:
        """Add the tallied counts and observations to the metrics."""
        for tally in self._tallies:
            tally.flush()
