"""What a simulation sent and how the ingress answered: the counts and the report.

simulate: runner -> **report** -> console. :class:`Counts` is what the runner adds to as
calls progress; :meth:`Counts.report` freezes it into a :class:`SimulationReport`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from processor.simulate.outcomes import SimulatedOutcome
from processor.simulate.sender import Delivery


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Durations of accepted requests (one HTTP round trip each), in seconds."""

    count: int = 0
    p50_s: float = 0.0
    p90_s: float = 0.0
    p99_s: float = 0.0
    max_s: float = 0.0


@dataclass(frozen=True, slots=True)
class SimulationReport:
    """What a simulation sent and how the ingress answered; a snapshot while it runs."""

    target_url: str
    auth_mode: str
    elapsed_s: float
    running: bool
    """True in progress snapshots, False in the final report."""
    stopped: bool
    """The run was stopped (duration, Ctrl-C) rather than running out of calls."""
    calls_started: int
    calls_in_flight: int
    calls_finished: dict[str, int]
    """Calls whose every event was accepted, by outcome."""
    calls_aborted: dict[str, int]
    """Calls that stopped sending because an event was rejected or given up on, by outcome."""
    calls_interrupted: int
    """Calls cut short by the stop."""
    sent_by_type: dict[str, int]
    """Events posted at least once, by eventType: accepted, rejected, or cut short by the
    stop while being retried."""
    accepted_by_type: dict[str, int]
    rejected_by_status: dict[str, int]
    """Events rejected or given up on, by the last answer (``"401"``, ``"transport"``)."""
    responses_by_status: dict[str, int]
    """Every attempt's answer, retries included."""
    requests: int
    retried: int
    """Attempts after an event's first."""
    latency: LatencySummary

    @property
    def sent(self) -> int:
        """Events posted at least once."""
        return sum(self.sent_by_type.values())

    @property
    def accepted(self) -> int:
        """Events that got a 2xx."""
        return sum(self.accepted_by_type.values())

    @property
    def rejected(self) -> int:
        """Events rejected or given up on."""
        return sum(self.rejected_by_status.values())

    @property
    def sent_per_s(self) -> float:
        """Average events posted per second."""
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass(frozen=True, slots=True)
class SentEvent:
    """One event's delivery, for callers that check what reached the ingress."""

    call_id: str
    outcome: SimulatedOutcome
    event_type: str
    body: bytes
    delivery: Delivery


ProgressHook = Callable[[SimulationReport], None]
DeliveryHook = Callable[[SentEvent], None]


class LatencyHistogram:
    """Log-spaced buckets (2 % apart): percentiles within 2 % at constant cost per sample."""

    _FLOOR_S: Final = 1e-5
    _RATIO: Final = 1.02
    _BUCKETS: Final = 1000  # 10 us * 1.02**1000 ~ 4 hours

    def __init__(self) -> None:
        self._counts = [0] * (self._BUCKETS + 1)
        self._log_ratio = math.log(self._RATIO)
        self.count = 0
        self.max_s = 0.0

    def add(self, seconds: float) -> None:
        """Record one duration."""
        index = 0
        if seconds > self._FLOOR_S:
            index = min(self._BUCKETS, int(math.log(seconds / self._FLOOR_S) / self._log_ratio))
        self._counts[index] += 1
        self.count += 1
        self.max_s = max(self.max_s, seconds)

    def percentile(self, fraction: float) -> float:
        """The duration below which ``fraction`` of samples fall (0 without samples)."""
        if not self.count:
            return 0.0
        rank = max(1, math.ceil(fraction * self.count))
        seen = 0
        for index, count in enumerate(self._counts):
            seen += count
            if seen >= rank:
                return min(self.max_s, self._FLOOR_S * self._RATIO ** (index + 1))
        return self.max_s

    def summary(self) -> LatencySummary:
        """Count, p50, p90, p99 and max."""
        return LatencySummary(
            self.count,
            self.percentile(0.50),
            self.percentile(0.90),
            self.percentile(0.99),
            self.max_s,
        )


@dataclass(slots=True)
class Counts:
    """The running totals of one simulation."""

    calls_started: int = 0
    calls_interrupted: int = 0
    calls_finished: Counter[str] = field(default_factory=Counter)
    calls_aborted: Counter[str] = field(default_factory=Counter)
    sent_by_type: Counter[str] = field(default_factory=Counter)
    accepted_by_type: Counter[str] = field(default_factory=Counter)
    rejected_by_status: Counter[str] = field(default_factory=Counter)
    responses_by_status: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    retried: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)

    def report(
        self,
        *,
        target_url: str,
        auth_mode: str,
        elapsed_s: float,
        running: bool,
        stopped: bool,
        calls_in_flight: int,
    ) -> SimulationReport:
        """A snapshot of the counts, with what only the runner knows."""
        return SimulationReport(
            target_url=target_url,
            auth_mode=auth_mode,
            elapsed_s=elapsed_s,
            running=running,
            stopped=stopped,
            calls_started=self.calls_started,
            calls_in_flight=calls_in_flight,
            calls_finished=dict(self.calls_finished),
            calls_aborted=dict(self.calls_aborted),
            calls_interrupted=self.calls_interrupted,
            sent_by_type=dict(self.sent_by_type),
            accepted_by_type=dict(self.accepted_by_type),
            rejected_by_status=dict(self.rejected_by_status),
            responses_by_status=dict(self.responses_by_status),
            requests=self.requests,
            retried=self.retried,
            latency=self.latency.summary(),
        )
